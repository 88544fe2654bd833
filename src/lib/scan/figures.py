"""The chapter's figures and explorers: accuracy per split, answers drawn as
action strips with the differences marked, the live command box."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from ..core.explorer import frame_explorer
from ..core.plotting import ROLE_COLORS
from .grammar import interpret
from .training import predict

SHORT = {
    "I_WALK": "W",
    "I_LOOK": "L",
    "I_RUN": "R",
    "I_JUMP": "J",
    "I_TURN_LEFT": "\u21b6",
    "I_TURN_RIGHT": "\u21b7",
}
SPLIT_LABELS = {
    "simple": "random split",
    "length": "length",
    "addprim_jump": "add-jump",
}


def plot_accuracy(result: dict, stats: dict | None = None):
    """Exact match on each split's full test set, baseline vs metalearner;
    whiskers: the range over seeds 0-2 of the training record."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    splits = list(SPLIT_LABELS)
    for j, (kind, label) in enumerate(
        (("baseline", "seq2seq baseline"), ("meta", "metalearner"))
    ):
        color = ROLE_COLORS["baseline" if kind == "baseline" else "ours"]
        xs, ys, lo, hi = [], [], [], []
        for i, s in enumerate(splits):
            if (kind, s) not in result["acc"]:
                continue
            x, y = i + (j - 0.5) * 0.38, result["acc"][kind, s]
            xs.append(x)
            ys.append(y)
            st = (stats or {}).get((kind, s))
            lo.append(max(0.0, y - st["min"]) if st else 0)
            hi.append(max(0.0, st["max"] - y) if st else 0)
        ax.bar(
            xs,
            ys,
            width=0.36,
            label=label,
            color=color,
            yerr=[lo, hi] if stats else None,
            capsize=3,
        )
        for x, y in zip(xs, ys, strict=True):
            ax.text(x, y + 0.03, f"{y:.1%}", ha="center", fontsize=8)
    ax.set_xticks(range(len(splits)), [SPLIT_LABELS[s] for s in splits])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("exact match (test set)")
    ax.set_title("SCAN: who composes jump")
    ax.legend(loc="upper center", fontsize=8)
    return fig


def plot_live(result: dict):
    """The live metalearner's loss and add-jump accuracy during training."""
    hist = result["live"]["history"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    steps = [r["step"] for r in hist if "loss" in r]
    a.plot(steps, [r["loss"] for r in hist if "loss" in r], color=ROLE_COLORS["ours"])
    a.set(
        xlabel="training step",
        ylabel="loss (cross-entropy)",
        yscale="log",
        title="metalearner, "
        + ("trained ahead" if result["live"].get("committed") else "trained live"),
    )
    curve = result["live"]["curve"]
    b.plot(
        [s for s, _ in curve], [v for _, v in curve], "o-", color=ROLE_COLORS["ours"]
    )
    b.set(
        xlabel="training step",
        ylabel="exact match",
        ylim=(-0.02, 1.02),
        title="add-jump test commands (200)",
    )
    fig.tight_layout()
    return fig


def strip(ax, y: float, actions: str, truth: str, label: str):
    """One row of actions as letters in boxes; wrong positions in red."""
    got, want = actions.split(), truth.split()
    ax.text(-0.3, y, label, ha="right", va="center", fontsize=9)
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else ""
        ok = i < len(want) and g == want[i]
        face = "#e8f0e8" if ok else "#f6c9c4"
        ax.add_patch(plt.Rectangle((i, y - 0.4), 0.92, 0.8, color=face))
        ax.text(
            i + 0.46, y, SHORT.get(g, "\u00b7"), ha="center", va="center", fontsize=9
        )


def plot_answers(row: dict, models=(("baseline", "baseline"), ("meta", "metalearner"))):
    """The grammar's actions beside each model's, for one command."""
    n = max(len(row[k].split()) for k in ("truth", *[m for m, _ in models]))
    fig, ax = plt.subplots(figsize=(max(5.5, 0.22 * n + 2.5), 1.6))
    strip(ax, 2, row["truth"], row["truth"], "grammar")
    for k, (key, label) in enumerate(models):
        ok = "\u2713" if row[key] == row["truth"] else "\u2717"
        strip(ax, 1 - k, row[key], row["truth"], f"{label} {ok}")
    ax.set_xlim(-5, max(n, 8) + 0.2)
    ax.set_ylim(-0.6, 2.6)
    ax.axis("off")
    ax.set_title(f"\u201c{row['command']}\u201d", fontsize=10)
    return fig


def answers_explorer(rows: list[dict]):
    """Precomputed answers for instructive commands, behind a drop-down."""
    return frame_explorer(
        [plot_answers(r) for r in rows],
        [r["command"] for r in rows],
        description="command",
        control="dropdown",
    )


def answers_table(rows: list[dict]):
    """An HTML table: command, the grammar's actions, the baseline's answer."""
    from IPython.display import HTML

    def cell(actions, truth):
        got, want = actions.split(), truth.split()
        out = []
        for i, g in enumerate(got):
            text = html.escape(SHORT.get(g, g))
            ok = i < len(want) and g == want[i]
            out.append(text if ok else f'<b style="color:#c0392b">{text}</b>')
        return " ".join(out) + (" \u2026" if len(got) < len(want) else "")

    body = "".join(
        f"<tr><td><code>{html.escape(r['command'])}</code></td>"
        f"<td>{cell(r['truth'], r['truth'])}</td>"
        f"<td>{cell(r['baseline'], r['truth'])}</td></tr>"
        for r in rows
    )
    return HTML(
        "<table><tr><th>command</th><th>grammar</th><th>baseline "
        "(add-jump)</th></tr>" + body + "</table>"
    )


def live_box(models: dict, colab_url: str | None = None):
    """Type a command: the grammar's actions beside each model's. Needs a kernel."""
    import ipywidgets as w

    from ..exercises.display import kernel_note

    what = "a box takes a command you type and shows the grammar's actions beside "
    note, static = kernel_note("scan", what + "each model's", url=colab_url)
    if static:
        return note
    text = w.Text(
        value="jump around left twice after walk",
        description="command",
        layout=w.Layout(width="32em"),
    )
    button = w.Button(description="interpret")
    out = w.Output()

    def on_click(_):
        out.clear_output()
        with out:
            c = " ".join(text.value.lower().split())
            try:
                truth = interpret(c)
            except ValueError as exc:
                print(
                    f"{exc}. Use the SCAN words: walk look run jump turn left "
                    "right opposite around twice thrice and after."
                )
                return
            row = {"command": c, "truth": truth}
            for key, model in models.items():
                row[key] = predict(model, [c], meta=key == "meta")[0]
            plt.show(plot_answers(row))

    button.on_click(on_click)
    return w.VBox([note, w.HBox([text, button]), out])


def plot_scaling(result: dict, values: dict):
    """Add-jump exact match against the baseline's weights (log scale): each
    recorded seed, their mean, the committed models scored at build, training
    accuracy; the metalearner at its own size."""
    sc = result["scaling"]
    stats, scored = sc["stats"], sc["scored"]
    widths = sorted(stats)
    n = [stats[w]["n_weights"] for w in widths]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    base, ours = ROLE_COLORS["baseline"], ROLE_COLORS["ours"]
    for w, x in zip(widths, n, strict=True):
        accs = stats[w]["acc"]
        ax.plot([x] * len(accs), accs, "o", color=base, alpha=0.45, ms=5)
    ax.plot(
        n,
        [stats[w]["mean"] for w in widths],
        "-",
        color=base,
        label="baseline, add-jump test (seeds; line: mean)",
    )
    ax.plot(
        [scored[w]["n_weights"] for w in scored],
        [scored[w]["test"] for w in scored],
        "s",
        mfc="none",
        color=base,
        ms=9,
        label="scored at build (seed 0)",
    )
    train = {w: scored[w]["train"] for w in scored}
    train.update({w: stats[w]["train"][0] for w in widths if stats[w]["train"]})
    tw = sorted(train)
    ax.plot(
        [stats[w]["n_weights"] for w in tw],
        [train[w] for w in tw],
        "--",
        color=ROLE_COLORS["train"],
        marker=".",
        label="baseline, its training commands",
    )
    lo = values["meta_addprim_jump"] - values.get("seeds_meta_addprim_jump_min", 0)
    hi = values.get("seeds_meta_addprim_jump_max", 0) - values["meta_addprim_jump"]
    ax.errorbar(
        [values["n_weights_meta"]],
        [values["meta_addprim_jump"]],
        yerr=[[max(lo, 0)], [max(hi, 0)]],
        fmt="*",
        ms=14,
        color=ours,
        capsize=3,
        label="metalearner, add-jump test",
    )
    for w, x in zip(widths, n, strict=True):
        ax.annotate(
            f"width {w}",
            (x, stats[w]["mean"]),
            textcoords="offset points",
            xytext=(0, 10),
            ha="center",
            fontsize=7,
        )
    ax.set_xscale("log")
    ax.set_ylim(-0.04, 1.08)
    ax.set(
        xlabel="weights (log scale)",
        ylabel="exact match",
        title="A bigger baseline still does not compose jump",
    )
    ax.legend(fontsize=7, loc="center left")
    fig.tight_layout()
    return fig
