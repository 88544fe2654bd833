"""The chapter's experiment: one training run scored along the way, the three
predictions as glued numbers, claims, headlines and exercises."""

from __future__ import annotations

import math

import numpy as np

from ..claims import Claim, Headline
from ..core.device import torch_threads
from ..exercises import CodeExercise, MultipleChoice, PredictThenRun
from .cipher import decode_row
from .language import sample_sentences
from .saved import load_main, retrace_main
from .training import Setup, exact_match, train_model

SET_TAGS = {"common": "common", "rare": "rare", "non-words": "non"}


def run(
    setup: Setup = Setup(), *, seed: int = 0, saved: bool = True, retrace_steps=200
) -> dict:
    """Train on the mixture (scored every `eval_every` steps), then score the
    final model on every shift, on held-out sentences drawn from the language.

    With `saved`, a run committed for exactly this setup and seed (see
    `compgen.embers.saved`) is loaded instead of trained: its final evaluation
    is scored afresh from the weights, and its first `retrace_steps` steps are
    retrained live and compared with its record (`result["saved"]`)."""
    result = load_main(setup, seed) if saved else None
    if result is None:
        result = train_model(setup, seed=seed)
    else:
        result["saved"]["retrace"] = retrace_main(result, stop_at=retrace_steps)
    sents = sample_sentences(setup.language, setup.n_test, seed=20_000 + seed)
    held = {t for s in result["tests"].values() for t in s}
    sents = [s for s in sents if s not in held]
    with torch_threads(1):
        result["by_shift"] = {
            k: float(
                exact_match(
                    result["model"],
                    [decode_row(s, k, width=setup.width) for s in sents],
                ).mean()
            )
            for k in range(1, 26)
        }
    return result


def gaps(ev: dict, setup: Setup) -> dict[str, float]:
    """The three gaps of one evaluation: task (frequent minus rare shift, mean
    over the plaintext sets), output (common minus rare words, per shift),
    and the share of wrong answers more probable than the truth."""
    hi, lo = setup.shifts
    acc = ev["acc"]
    e = ev["errors"]["all"]
    return {
        "task": float(np.mean([acc[(hi, s)] - acc[(lo, s)] for s in setup.sets])),
        "output_frequent": acc[(hi, "common")] - acc[(hi, "rare")],
        "output_rare": acc[(lo, "common")] - acc[(lo, "rare")],
        "sentence_more_probable": e["sentence_more_probable"],
        "word_more_probable": e["word_more_probable"],
    }


def logprob_curve(result: dict, k: int, *, n_bins: int = 6, step=None) -> dict:
    """Accuracy under shift k against the plaintext's log-probability: every
    held-out plaintext of the three sets, in bins of equal count."""
    setup = result["setup"]
    ev = result["evals"][max(result["evals"]) if step is None else step]
    lp = np.concatenate(
        [[setup.language.logprob(t) for t in result["tests"][s]] for s in setup.sets]
    )
    ok = np.concatenate([ev["correct"][(k, s)] for s in setup.sets]).astype(float)
    order = np.argsort(lp)
    bins = np.array_split(order, n_bins)
    return {
        "logprob": np.array([lp[b].mean() for b in bins]),
        "acc": np.array([ok[b].mean() for b in bins]),
        "all_logprob": lp,
        "all_correct": ok,
    }


def source_text(result: dict) -> str:
    """Where the page's run came from, as a sentence's end for the page."""
    saved = result.get("saved")
    if saved is None:
        return "was trained just now, as this page ran"
    r = saved["retrace"]
    cpu = saved["train_cpu_seconds"]
    took = f" (it took {cpu:.0f} CPU seconds there)" if cpu else ""
    return (
        "was trained ahead of time, with exactly these settings and seed, by "
        f"`python -m compgen.embers main`{took}, and is loaded here. Its final "
        "model was scored afresh from the committed weights as the page ran: "
        f"{saved['n_differ']} of its {saved['n_answers']} answers differ from the "
        "run's own record. Its first "
        f"{r['steps']} steps were also retrained live: the training loss matches "
        f"the record's within {_nan0(r['diff']):.1e} at each of the "
        f"{r['n_compared']} logged steps. Set another SEED or STEPS above and the "
        "run trains live instead"
    )


def _nan0(x: float) -> float:
    return 0.0 if isinstance(x, float) and math.isnan(x) else x


def summary_values(result: dict) -> dict:
    """The numbers the chapter glues and the claims read (at the final step,
    the book's training budget)."""
    setup = result["setup"]
    hi, lo = setup.shifts
    steps = sorted(result["evals"])
    final = result["evals"][steps[-1]]
    out: dict = {
        "steps": setup.steps,
        "frequent": hi,
        "rare": lo,
        "n_test": setup.n_test,
        "width": setup.width,
        "n_words": setup.language.n_words,
        "plain_share": setup.mixture.plain,
        "n_params": sum(p.numel() for p in result["model"].parameters()),
    }
    p = setup.mixture.shift_probs()
    for k in range(1, 26):
        out[f"train_share_{k}"] = float(p[k])
    for (k, s), a in final["acc"].items():
        out[f"acc_{k}_{SET_TAGS[s]}"] = a
    for k in (hi, lo):
        out[f"acc_{k}_mean"] = float(
            np.mean([final["acc"][(k, s)] for s in setup.sets])
        )
    g = gaps(final, setup)
    out["task_gap"] = g["task"]
    out["output_gap_frequent"] = g["output_frequent"]
    out["output_gap_rare"] = g["output_rare"]
    out["output_gap_frequent_non"] = (
        final["acc"][(hi, "common")] - final["acc"][(hi, "non-words")]
    )
    out["output_gap_rare_non"] = (
        final["acc"][(lo, "common")] - final["acc"][(lo, "non-words")]
    )
    out["output_gap_non"] = (
        out["output_gap_frequent_non"] + out["output_gap_rare_non"]
    ) / 2
    # over the run: each accuracy averaged over the checkpoints after step 0
    later = [result["evals"][s] for s in steps[1:]] or [final]
    for k in (hi, lo):
        for s in setup.sets:
            out[f"run_acc_{k}_{SET_TAGS[s]}"] = float(
                np.mean([ev["acc"][(k, s)] for ev in later])
            )
        out[f"run_acc_{k}_mean"] = float(
            np.mean([out[f"run_acc_{k}_{SET_TAGS[s]}"] for s in setup.sets])
        )
    out["run_task_gap"] = out[f"run_acc_{hi}_mean"] - out[f"run_acc_{lo}_mean"]
    for a, b in (("common", "rare"), ("common", "non"), ("rare", "non")):
        out[f"run_gap_{a}_{b}"] = float(
            np.mean(
                [out[f"run_acc_{k}_{a}"] - out[f"run_acc_{k}_{b}"] for k in (hi, lo)]
            )
        )
    e = final["errors"]["all"]
    out["n_wrong"] = e["n_wrong"]
    out["n_wrong_words"] = e["n_wrong_words"]
    out["sentence_more_probable"] = _nan0(e["sentence_more_probable"])
    out["word_more_probable"] = _nan0(e["word_more_probable"])
    out["word_real"] = _nan0(e["word_real"])
    er = final["errors"][(lo, "rare")]
    out["rare_words_wrong_more_probable"] = _nan0(er["word_more_probable"])
    out["rare_words_wrong_real"] = _nan0(er["word_real"])
    # over the run: the largest share of errors more probable than the truth
    # ... counted once the model reads the ciphertext (the frequent shift is
    # decoded on half the common-word sentences): before that it writes a
    # probable sentence whatever the input, "more probable" for a trivial reason
    reading = [s for s in steps if result["evals"][s]["acc"][(hi, "common")] >= 0.5]
    reading = reading or steps[-1:]
    out["reading_step"] = reading[0]
    shares = [
        (s, _nan0(result["evals"][s]["errors"]["all"]["sentence_more_probable"]))
        for s in reading
    ]
    out["peak_sentence_more_probable"] = max(v for _, v in shares)
    words = [
        (s, _nan0(result["evals"][s]["errors"]["all"]["word_more_probable"]))
        for s in reading
    ]
    out["peak_word_more_probable"] = max(v for _, v in words)
    out["peak_word_step"] = max(words, key=lambda sv: sv[1])[0]
    out["peak_sentence_step"] = max(shares, key=lambda sv: sv[1])[0]
    # the task gap at its widest during training, and when
    widest = max(steps, key=lambda s: gaps(result["evals"][s], setup)["task"])
    out["widest_task_gap"] = gaps(result["evals"][widest], setup)["task"]
    out["widest_task_gap_step"] = widest
    saved = result.get("saved")
    retraced = (saved or {}).get("retrace", {})
    out["saved_used"] = int(saved is not None)
    out["saved_n_answers"] = saved["n_answers"] if saved else 0
    out["saved_differ"] = saved["n_differ"] if saved else 0
    out["main_retrace_steps"] = retraced.get("steps", 0)
    out["main_retrace_compared"] = retraced.get("n_compared", 0)
    out["main_retrace_diff"] = _nan0(retraced.get("diff", 0.0))
    out["main_source"] = source_text(result)
    if "by_shift" in result:
        for k, a in result["by_shift"].items():
            out[f"by_shift_{k}"] = a
        rest = [a for k, a in result["by_shift"].items() if p[k] < p[lo]]
        out["by_shift_rest_mean"] = float(np.mean(rest))
    return out


CLAIMS = [
    Claim(
        "frequent_shift_wins",
        "On the same held-out plaintexts, the frequent shift (rot-13) is decoded "
        "exactly at least 0.3 more often than the rare one (rot-12), averaged "
        "over common words, rare words and non-words.",
        ("task_gap", "acc_13_mean", "acc_12_mean"),
        lambda g: g["task_gap"] >= 0.3,
    ),
    Claim(
        "probable_outputs_win",
        "With the shift held fixed, probable answers are decoded more often: "
        "averaged over the two shifts, sentences of common words are decoded "
        "exactly at least 0.1 more often than sentences of non-words with the "
        "same word lengths, and under both shifts accuracy does not rise from "
        "common words to rare words to non-words.",
        (
            "output_gap_non",
            "acc_13_common",
            "acc_13_rare",
            "acc_13_non",
            "acc_12_common",
            "acc_12_rare",
            "acc_12_non",
        ),
        lambda g: (
            g["output_gap_non"] >= 0.1
            and all(
                g[f"acc_{k}_common"] >= g[f"acc_{k}_rare"] >= g[f"acc_{k}_non"]
                for k in (13, 12)
            )
        ),
    ),
    Claim(
        "wrong_sentences_not_more_probable",
        "Prediction 3 does not hold at sentence level: fewer than half of the "
        "wrong answers are more probable under the language than the truth (the "
        "chapter says so; the word level is shown and varies with the seed).",
        ("sentence_more_probable", "n_wrong"),
        lambda g: g["n_wrong"] > 0 and g["sentence_more_probable"] < 0.5,
    ),
]

CLAIMS += [
    Claim(
        "committed_run_retraced",
        "When the page loads the committed run (the book's build does), it is "
        "the run these settings train: its first steps, retrained live, log the "
        "recorded training loss within 0.01 at every logged step (at least "
        "three), and the committed weights, scored afresh, write the recorded "
        "answer on at least 99% of the test sentences. A run trained live has "
        "nothing to retrace.",
        (
            "saved_used",
            "main_retrace_compared",
            "main_retrace_diff",
            "saved_differ",
            "saved_n_answers",
        ),
        lambda g: not g["saved_used"]
        or (
            g["main_retrace_compared"] >= 3
            and g["main_retrace_diff"] <= 0.01
            and g["saved_differ"] <= 0.01 * g["saved_n_answers"]
        ),
    ),
    Claim(
        "scale_leaves_both_gaps",
        "Within the grid, scale does not close either gap: after the full "
        "budget, for every recorded seed at width 32 and at width 64 (seeds 0, "
        "1 and 2), the frequent shift leads the rare one by at least 0.3 and "
        "common-word sentences lead non-words by at least 0.1; the narrowest "
        "models (widths 16 and 24, seed 0) decode the frequent shift on at most "
        "5% of the sentences, so their gaps of zero are no success.",
        (
            "scale_task_min_w32",
            "scale_task_min_w64",
            "scale_output_min_w32",
            "scale_output_min_w64",
            "scale_n_seeds_w64",
            "scale_frequent_w16",
            "scale_frequent_w24",
        ),
        lambda g: (
            g["scale_n_seeds_w64"] == 3
            and min(g["scale_task_min_w32"], g["scale_task_min_w64"]) >= 0.3
            and min(g["scale_output_min_w32"], g["scale_output_min_w64"]) >= 0.1
            and max(g["scale_frequent_w16"], g["scale_frequent_w24"]) <= 0.05
        ),
    ),
    Claim(
        "scale_retraced_live",
        "The narrowest model, retrained live for its first steps, logs the "
        "recorded run's training loss within 0.01 at every logged step (at least "
        "six), and the committed models score within 0.05 of their recorded gaps.",
        ("scale_live_diff", "scale_live_compared", "scale_build_diff"),
        lambda g: (
            g["scale_live_compared"] >= 6
            and g["scale_live_diff"] <= 0.01
            and g["scale_build_diff"] <= 0.05
        ),
    ),
]

HEADLINES = [
    Headline(
        "Decoding accuracy, frequent vs rare shift on the same sentences "
        "(both letter permutations)",
        "GPT-4: rot-13 0.51 vs rot-12 0.00 (high-probability sentences)",
        "rot-13 {acc_13_common:.2f} vs rot-12 {acc_12_common:.2f} (common words); "
        "{acc_13_mean:.2f} vs {acc_12_mean:.2f} over all sets",
        "mccoy2023embers",
        scaling="task gap {scale_task_small:.2f} (rot-13 decoded "
        "{scale_frequent_small:.0%}) → {scale_task_w32:.2f} → "
        "{scale_task_large:.2f} ({scale_param_ratio:.0f}x the weights)",
    ),
    Headline(
        "Decoding accuracy, high- vs low-probability plaintexts, same shift",
        "GPT-4, rot-13: 0.51 (high) vs 0.13 (low)",
        "rot-13: {acc_13_common:.2f} (common words) vs {acc_13_rare:.2f} (rare) "
        "vs {acc_13_non:.2f} (non-words); rot-12: {acc_12_common:.2f} vs "
        "{acc_12_rare:.2f} vs {acc_12_non:.2f}",
        "mccoy2023embers",
        scaling="common − non-words {scale_output_small:.2f} → "
        "{scale_output_w32:.2f} → {scale_output_large:.2f} "
        "({scale_param_ratio:.0f}x the weights)",
    ),
    Headline(
        "Share of wrong answers more probable than the truth (sentence / word)",
        "qualitative: wrong answers tend toward more probable text (no rate quoted)",
        "{sentence_more_probable:.2f} / {word_more_probable:.2f}",
        "mccoy2023embers",
    ),
]


def _logprob_reference(sentence, word_probs, length_probs) -> float:
    words = sentence.split(" ")
    p = length_probs.get(len(words), 0.0)
    for w in words:
        p *= word_probs.get(w, 0.0)
    return math.log(p) if p > 0 else -math.inf


_WORDS = {"ka": 0.5, "bo": 0.25, "tiv": 0.15, "mur": 0.1}
_LENGTHS = {2: 0.5, 3: 0.5}
_LOGPROB_CASES = [
    ("ka bo", _WORDS, _LENGTHS),
    ("ka ka ka", _WORDS, _LENGTHS),
    ("mur tiv bo", _WORDS, _LENGTHS),
    ("ka zzz", _WORDS, _LENGTHS),  # a word the language lacks: -inf
    ("ka", _WORDS, _LENGTHS),  # a length it never produces: -inf
    ("bo bo", {"bo": 1.0}, {2: 1.0}),
]

_SHARES = dict(Setup().mixture.shifts)
_CONTEXT = (
    "A tiny transformer was trained on a mixture of text: half plain sentences "
    "of a synthetic language (300 words, Zipfian frequencies, 3 to 5 words a "
    "sentence), half requests to decode a sentence written in a shift cipher "
    "(rot-k moves each letter k places along the alphabet). rot-13 is in "
    f"{_SHARES[13]:.0%} of the decoding rows and rot-12 in {_SHARES[12]:.0%}; "
    "every shift is a permutation of the letters, so both are equally hard to "
    "compute. Accuracy is exact match of greedy decoding on held-out sentences."
)


def _rare_words_rot12(seed: int = 0) -> float:
    return summary_values(run(Setup(), seed=seed))["acc_12_rare"]


EXERCISES = [
    PredictThenRun(
        id="embers.ex1",
        title="How well is a rare shift decoded on rare words?",
        question="At the chapter's training budget the model decodes rot-13 "
        "almost perfectly, on sentences of common words and of rare words alike. "
        "Predict its exact-match accuracy at decoding **rot-12** on sentences of "
        "**rare** words (a number between 0 and 1).",
        context=_CONTEXT,
        low=0.0,
        high=1.0,
        tolerance=0.15,
        experiment=_rare_words_rot12,
        solution="Far lower than on common words under the same shift. With "
        "little rot-12 practice the model has learned only part of its letter "
        "table, and where the table is unsure the model falls back on what it "
        "knows best: the language. That rescues sentences of common words and "
        "not rare ones.",
    ),
    MultipleChoice(
        id="embers.ex2",
        title="Why do common words survive a rare shift?",
        question="Under rot-12 the model decodes sentences of common words far "
        "more often than sentences of rare words with exactly the same word "
        "lengths. Which explanation fits?",
        context=_CONTEXT,
        options={
            "a": "Common words are shorter, so there are fewer letters to get right.",
            "b": "The model predicts each next letter from the ciphertext and from "
            "the answer so far; where its rot-12 table is unsure, the language's "
            "probabilities decide, and they favour common words.",
            "c": "rot-12 is a harder permutation than rot-13.",
            "d": "Rare words never occur in training.",
        },
        answer="b",
        feedback_for={
            "a": "The two sets have identical word lengths, sentence by sentence.",
            "b": "An autoregressive model mixes what the input says with what "
            "text usually says: probable answers get help, improbable ones do not.",
            "c": "Every shift is a permutation of the same 26 letters; what differs "
            "is how often each was trained.",
            "d": "They occur (rarely) in the plain text and in decoding rows; the "
            "held-out test sentences are new combinations.",
        },
        solution="**b.** The model is what it was trained to be: a predictor of "
        "probable text. The shift's letter table and the language model are "
        "mixed in one next-letter prediction, so the language helps exactly "
        "where the answer is likely.",
    ),
    CodeExercise(
        id="embers.ex3",
        title="The exact probability of a sentence",
        question="Complete `logprob(sentence, word_probs, length_probs)`: the "
        "sentence is words separated by single spaces; words are drawn "
        "independently with probabilities `word_probs` (a dict), and the number "
        "of words with probabilities `length_probs` (a dict from count to "
        "probability). Return the natural log of the sentence's probability, "
        "and `-math.inf` for a sentence the language cannot produce.",
        context="The chapter's language is of this kind (with a small share of "
        "random letter strings added), which is what lets it compute the exact "
        "probability of any answer the model writes.",
        function_name="logprob",
        stub="import math\n\n\ndef logprob(sentence, word_probs, length_probs):\n"
        '    """log P(sentence) under a unigram language."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_logprob_reference,
        cases=_LOGPROB_CASES,
        solution="Multiply `length_probs[len(words)]` by each word's probability "
        "(0 for a missing word or length) and take the log, returning `-math.inf` "
        "for a zero product; or sum logs, stopping at the first impossible part.",
    ),
]
