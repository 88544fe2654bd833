"""The chapter's figures, the budget explorer (no kernel) and the live decoder."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..core.explorer import figure_png, frame_explorer
from ..core.plotting import COLORS
from .cipher import decode_row, shift
from .experiment import gaps, logprob_curve
from .language import LETTERS
from .training import exact_match, greedy

SET_COLORS = {
    "common": COLORS["green"],
    "rare": COLORS["orange"],
    "non-words": COLORS["grey"],
}


def plot_budget(result: dict):
    """Accuracy per condition against training steps, one panel per shift."""
    setup, evals = result["setup"], result["evals"]
    steps = sorted(evals)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), sharey=True)
    for ax, k, kind in zip(axes, setup.shifts, ("frequent", "rare"), strict=True):
        share = setup.mixture.shift_probs()[k] * (1 - setup.mixture.plain)
        for s in setup.sets:
            ax.plot(
                steps,
                [evals[t]["acc"][(k, s)] for t in steps],
                "o-",
                ms=3,
                color=SET_COLORS[s],
                label=f"{s} plaintexts",
            )
        ax.set(
            title=f"rot-{k} ({kind}: {share:.1%} of training rows)",
            xlabel="training steps",
            ylim=(-0.03, 1.03),
        )
    axes[0].set_ylabel("exact-match accuracy")
    axes[0].legend(fontsize=8, loc="lower right")
    return fig


def plot_logprob(result: dict, step=None):
    """Accuracy against the plaintext's log-probability, both shifts."""
    setup = result["setup"]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k, color in zip(setup.shifts, (COLORS["blue"], COLORS["red"]), strict=True):
        c = logprob_curve(result, k, step=step)
        ax.plot(c["logprob"], c["acc"], "o-", color=color, label=f"rot-{k}")
    ax.set(
        xlabel="log-probability of the plaintext under the language (nats)",
        ylabel="exact-match accuracy",
        ylim=(-0.03, 1.03),
        title="Probable answers are decoded more often",
    )
    ax.legend(fontsize=8)
    return fig


def plot_errors(result: dict):
    """Where errors go: against steps, the share of wrong answers more probable
    than the truth (sentence and word level) and the share of wrong words that
    are real words of the language."""
    evals = result["evals"]
    steps = [s for s in sorted(evals) if s > 0]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    series = (
        ("sentence_more_probable", "wrong sentences more probable than the truth"),
        ("word_more_probable", "wrong words more probable than the true word"),
        ("word_real", "wrong words that are vocabulary words"),
    )
    for (key, label), color in zip(
        series, (COLORS["blue"], COLORS["orange"], COLORS["green"]), strict=True
    ):
        ax.plot(
            steps,
            [evals[s]["errors"]["all"][key] for s in steps],
            "o-",
            ms=3,
            color=color,
            label=label,
        )
    ax.axhline(0.5, ls="--", lw=1, color=COLORS["grey"])
    ax.set(
        xlabel="training steps",
        ylabel="share",
        ylim=(-0.03, 1.03),
        title="Where the wrong answers go",
    )
    ax.legend(fontsize=7, loc="upper right")
    return fig


def plot_shifts(result: dict):
    """Accuracy on sentences from the language for every shift, against how
    often the shift was in the training mixture."""
    setup = result["setup"]
    p = setup.mixture.shift_probs() * (1 - setup.mixture.plain)
    ks = list(range(1, 26))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(ks, [result["by_shift"][k] for k in ks], color=COLORS["blue"])
    ax.set(
        xlabel="shift k",
        ylabel="exact-match accuracy",
        xticks=ks,
        ylim=(0, 1.05),
        title="Decoding every shift, after training",
    )
    ax2 = ax.twinx()
    ax2.plot(ks, p[1:], "o", color=COLORS["orange"], ms=4)
    ax2.set_ylabel("share of training rows", color=COLORS["orange"])
    ax2.grid(False)
    return fig


def _gap_frame(result: dict, step: int):
    setup = result["setup"]
    g = gaps(result["evals"][step], setup)
    hi, lo = setup.shifts
    names = [
        f"task\nrot-{hi} - rot-{lo}",
        f"output, rot-{hi}\ncommon - rare",
        f"output, rot-{lo}\ncommon - rare",
        "errors more\nprobable (sent.)",
        "errors more\nprobable (word)",
    ]
    vals = [
        g["task"],
        g["output_frequent"],
        g["output_rare"],
        g["sentence_more_probable"],
        g["word_more_probable"],
    ]
    vals = [0.0 if np.isnan(v) else v for v in vals]
    fig, ax = plt.subplots(figsize=(7, 3))
    colors = [COLORS["blue"]] + [COLORS["green"]] * 2 + [COLORS["orange"]] * 2
    ax.bar(range(5), vals, color=colors)
    ax.set(
        xticks=range(5),
        ylim=(-0.2, 1.05),
        ylabel="gap / share",
        title=f"after {step} training steps",
    )
    ax.set_xticklabels(names, fontsize=7)
    ax.axhline(0, color="k", lw=0.8)
    return fig


def budget_explorer(result: dict):
    """A slider over the training budget showing the three gaps (no kernel)."""
    steps = sorted(result["evals"])
    frames = [figure_png(_gap_frame(result, s), dpi=72) for s in steps]
    return frame_explorer(
        frames, [f"{s} steps" for s in steps], description="training budget"
    )


def decode_sentence(result: dict, sentence: str, k: int) -> dict:
    """The model's decoding of rot-k(sentence), the truth, and both
    log-probabilities under the language."""
    setup, lang = result["setup"], result["setup"].language
    sentence = " ".join(str(sentence).lower().split())
    if not sentence or set(sentence) - set(LETTERS + " "):
        raise ValueError(f"a sentence is letters a-z and spaces, got {sentence!r}")
    cipher = shift(sentence, k)
    row = decode_row(sentence, k, width=setup.width)  # validates the input
    written = greedy(result["model"], [row[0]])[0]
    ok = bool(exact_match(result["model"], [row])[0])
    return {
        "cipher": cipher,
        "truth": sentence,
        "decoded": written,
        "correct": ok and written == sentence,
        "logprob_truth": lang.logprob(sentence),
        "logprob_decoded": lang.logprob(written),
    }


def live_decoder(result: dict, colab_url: str | None = None):
    """Type a sentence and a shift: the model's decoding. Needs a kernel."""
    import ipywidgets as w

    from ..exercises.display import kernel_note

    note, static = kernel_note(
        "embers",
        "you type a sentence and a shift and see the model's decoding, the truth "
        "and both log-probabilities",
        hint="Sentences have 3 to 5 words of up to 6 letters; try the language's "
        "common words (<code>embers.Language().words[:50]</code>) against rare ones "
        "and made-up words.",
        url=colab_url,
    )
    if static:
        return note
    lang = result["setup"].language
    text = w.Text(
        value=" ".join(lang.words[:4]),
        description="sentence",
        layout=w.Layout(width="30em"),
    )
    k = w.IntSlider(value=result["setup"].shifts[1], min=1, max=25, description="shift")
    button = w.Button(description="decode")
    out = w.Output()

    def on_click(_):
        out.clear_output()
        with out:
            try:
                r = decode_sentence(result, text.value, k.value)
            except ValueError as exc:
                print(f"Cannot use that sentence: {exc} (letters a-z and spaces)")
                return
            print(f"ciphertext  {r['cipher']}")
            print(f"model wrote {r['decoded']}   log P = {r['logprob_decoded']:.1f}")
            print(f"truth       {r['truth']}   log P = {r['logprob_truth']:.1f}")
            print("exact match" if r["correct"] else "wrong")

    button.on_click(on_click)
    return w.VBox([note, w.HBox([text, k, button]), out])


def plot_scaling(result: dict, grid: dict):
    """The two gaps against training steps (one line per width, mean over the
    recorded seeds) and, at the end of training, against the weights."""
    from .scaling import merge_live

    grid = merge_live(result, grid)
    widths = sorted({w for w, _ in grid})
    shades = plt.cm.viridis(np.linspace(0.1, 0.85, len(widths)))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, gap, title in zip(
        axes[:2],
        ("task", "output"),
        ("task gap: frequent - rare shift", "output gap: common words - non-words"),
        strict=True,
    ):
        for w, color in zip(widths, shades, strict=True):
            runs = [g for (ww, _), g in grid.items() if ww == w]
            steps, mean = _mean_at_common_steps(runs, gap)
            keep = [i for i, s in enumerate(steps) if s > 0]
            ax.plot(
                [steps[i] for i in keep],
                mean[keep],
                "o-",
                ms=3,
                color=color,
                label=f"width {w} ({runs[0]['n_params']:,} weights)",
            )
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="log", xlabel="training steps (log scale)", title=title)
        ticks = [t for t in (250, 500, 1000, 2000, 3000) if t <= max(steps)]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_ylim(-0.25, 1.05)
    axes[0].set_ylabel("accuracy gap")
    axes[0].legend(fontsize=7, loc="upper left")
    ax = axes[2]
    for gap, color, label in (
        ("task", COLORS["blue"], "task gap"),
        ("output", COLORS["green"], "output gap"),
    ):
        xs, means = [], []
        for w in widths:
            runs = [g for (ww, _), g in grid.items() if ww == w]
            x = runs[0]["n_params"]
            last = [g[gap][-1] for g in runs]
            ax.plot([x] * len(last), last, "o", color=color, alpha=0.45, ms=5)
            xs.append(x)
            means.append(np.mean(last))
        ax.plot(xs, means, "-", color=color, label=f"{label} (dots: seeds)")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(
        xscale="log",
        xlabel="weights (log scale)",
        title=f"after {max(result['evals'])} steps",
        ylim=(-0.25, 1.05),
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _mean_at_common_steps(runs: list[dict], gap: str) -> tuple[list, np.ndarray]:
    """The steps every run logged, and the runs' mean `gap` there. A short run
    (the smoke tier's live one) logs fewer steps than the recorded ones; with no
    step in common, the longest run alone is shown."""
    common = set(runs[0]["steps"]).intersection(*(g["steps"] for g in runs[1:]))
    if not common:
        runs = [max(runs, key=lambda g: len(g["steps"]))]
        common = set(runs[0]["steps"])
    steps = sorted(common)
    values = [[g[gap][list(g["steps"]).index(s)] for s in steps] for g in runs]
    return steps, np.mean(values, axis=0)
