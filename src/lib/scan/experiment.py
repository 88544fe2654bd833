"""The chapter's experiment: the baseline on three splits, the metalearner on
add-jump, their answers to jump commands, claims, headlines and exercises.

The reference models were trained by `python -m compgen.scan train` (the
record of every run, seeds 0-2, is `trained/record.json`); the chapter
evaluates the seed-0 models on the full test sets when it runs. The short
metalearner "trained live" at the chapter's settings was trained ahead too, by
`python -m compgen.scan live`: the chapter scores it afresh and retrains its
first steps, which must retrace its record; at any other settings or seed it
trains live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..claims import Claim, Headline
from ..core.training import compare_losses
from ..exercises import CodeExercise, MultipleChoice, PredictThenRun
from .grammar import MEANING, interpret, split
from .reference import load_reference, read_record, reference_path
from .scaling import (
    COMMITTED,
    LIVE_WIDTH,
    retrace,
    scaling_values,
    score_widths,
    width_stats,
)
from .training import RunConfig, accuracy, exact_match, predict, train_meta

BASELINE_SPLITS = ("simple", "length", "addprim_jump")
META_SPLITS = ("addprim_jump",)
SEEDS = (0, 1, 2)
# Commands worth looking at in the explorer: jump in every role it plays.
INSTRUCTIVE = (
    "jump twice",
    "jump left",
    "jump around right",
    "jump opposite left thrice",
    "walk and jump",
    "jump after run twice",
    "jump around left twice and walk",
    "look thrice after jump opposite right",
    "turn left twice and jump right thrice",
    "jump around right thrice after walk around left",
)


@dataclass(frozen=True)
class Experiment:
    live_steps: int = 800  # the short metalearner trained in the chapter
    live_eval: int = 1000  # add-jump test commands it is scored on
    eval_limit: int | None = None  # None: the full test sets (SMOKE: a subset)
    scale_steps: int = 300  # steps of the width-16 baseline retraced live


def _subset(pairs, n, seed=0):
    if n is None or n >= len(pairs):
        return pairs
    idx = np.random.default_rng(seed).choice(len(pairs), n, replace=False)
    return [pairs[i] for i in sorted(idx)]


def run(exp: Experiment = Experiment(), *, seed: int = 0) -> dict:
    """Evaluate the reference models and the live metalearner (trained here,
    or, at the chapter's settings, committed and its start retraced here)."""
    out = {"exp": exp, "seed": seed, "acc": {}, "models": {}, "lengths": {}}
    for kind, splits in (("baseline", BASELINE_SPLITS), ("meta", META_SPLITS)):
        for name in splits:
            model, saved = load_reference(kind, name, 0)
            test = _subset(split(name)[1], exp.eval_limit)
            if name == "length":  # the answers' lengths are read: decode them
                got = predict(model, [c for c, _ in test], meta=kind == "meta")
                right = [g == a for g, (_, a) in zip(got, test, strict=True)]
                out["lengths"][kind, name] = [
                    (len(g.split()), len(a.split()))
                    for g, (_, a) in zip(got, test, strict=True)
                ]
            else:  # only right or wrong: one teacher-forced pass
                right = exact_match(model, test, meta=kind == "meta")
            out["acc"][kind, name] = sum(right) / len(test)
            out["models"][kind, name] = model
            out.setdefault("history", {})[kind, name] = saved["history"]
    out["live"] = live_run(exp, seed=seed)
    out["jump_answers"] = answers(out, INSTRUCTIVE)
    # the baseline as it grows: the record, the committed models scored
    # afresh, and the smallest retraced live
    out["scaling"] = {
        "stats": width_stats(),
        "scored": score_widths(  # 64 is the baseline scored above
            COMMITTED,
            eval_limit=exp.eval_limit,
            known={64: out["acc"]["baseline", "addprim_jump"]},
        ),
        "live": retrace(LIVE_WIDTH, stop_at=exp.scale_steps),
    }
    return out


# The live metalearner at the chapter's settings (seed 0, 800 steps, scored on
# 1,000 commands) was trained ahead by `python -m compgen.scan live` and is
# committed; the chapter scores it afresh and retrains its first steps.
LIVE_KIND = "meta_live"
LIVE_RETRACE = 100  # steps of the committed live run retrained on the page


def live_config(exp: Experiment) -> RunConfig:
    """The live metalearner's recipe: `exp.live_steps`, 9 evaluations."""
    return RunConfig(steps=exp.live_steps, eval_every=max(1, exp.live_steps // 8))


def live_test(exp: Experiment) -> list:
    """The `exp.live_eval` add-jump test pairs the live metalearner is scored on
    (its curve during training reads the first 200)."""
    return _subset(split("addprim_jump")[1], exp.live_eval, seed=1)


def train_live(exp: Experiment, *, seed: int = 0, stop_at: int = 0):
    """Train the live metalearner: (model, history). `stop_at`: only its first
    steps, with no evaluations (they change nothing in the training)."""
    test = live_test(exp)[:200]

    def evaluate(model):  # a small slice of the test set, during training only
        return {"test_acc": accuracy(model, test, meta=True)}

    cfg = replace(live_config(exp), stop_at=stop_at)
    return train_meta(
        "addprim_jump", cfg, seed=seed, evaluate=None if stop_at else evaluate
    )


def committed_live(exp: Experiment, seed: int = 0):
    """The committed live run `(model, saved)` if it was made with exactly these
    settings and seed, else None."""
    path = reference_path(LIVE_KIND, "addprim_jump", seed)
    entry = read_record().get(f"{LIVE_KIND}/addprim_jump/{seed}")
    if not path.is_file() or not entry or entry.get("live_eval") != exp.live_eval:
        return None
    model, saved = load_reference(LIVE_KIND, "addprim_jump", seed)
    return (model, saved) if saved["run"] == asdict(live_config(exp)) else None


def live_run(exp: Experiment, *, seed: int = 0) -> dict:
    """The live metalearner scored on `live_test(exp)`: the committed run when
    one matches (its first `LIVE_RETRACE` steps retrained and compared with its
    record), else trained here."""
    test = live_test(exp)
    committed = committed_live(exp, seed)
    retraced = None
    if committed is None:
        model, hist = train_live(exp, seed=seed)
    else:
        model, saved = committed
        hist = saved["history"]
        steps = min(LIVE_RETRACE, exp.live_steps)
        _, prefix = train_live(exp, seed=seed, stop_at=steps)
        check = compare_losses(prefix, hist)
        retraced = {k: check[k] for k in ("diff", "n_compared")} | {"steps": steps}
    return {
        "model": model,
        "history": hist,
        "curve": [(r["step"], r["test_acc"]) for r in hist if "test_acc" in r],
        "acc": accuracy(model, test, meta=True),
        "n_eval": len(test),
        "committed": committed is not None,
        "retraced": retraced,
    }


def answers(result: dict, commands) -> list[dict]:
    """For each command: the grammar's actions and each model's."""
    base = predict(result["models"]["baseline", "addprim_jump"], list(commands))
    meta = predict(result["models"]["meta", "addprim_jump"], list(commands), meta=True)
    return [
        {"command": c, "truth": interpret(c), "baseline": b, "meta": m}
        for c, b, m in zip(commands, base, meta, strict=True)
    ]


def seed_stats(record: dict | None = None) -> dict:
    """Mean, min and max test accuracy over seeds 0-2 from the training record."""
    record = read_record() if record is None else record
    out = {}
    for kind, splits in (("baseline", BASELINE_SPLITS), ("meta", META_SPLITS)):
        for name in splits:
            accs = [
                record[f"{kind}/{name}/{s}"]["test_accuracy"]
                for s in SEEDS
                if f"{kind}/{name}/{s}" in record
            ]
            if accs:
                out[kind, name] = {
                    "mean": float(np.mean(accs)),
                    "min": min(accs),
                    "max": max(accs),
                    "n": len(accs),
                }
    return out


def live_text(values: dict) -> tuple[str, str]:
    """Where the live metalearner came from, and how it was checked: the ends
    of two sentences of the page, from `summary_values`' numbers."""
    if not values["live_committed"]:
        return "was trained just now, as the page was built", (
            "Its training curves are below."
        )
    source = (
        "was trained ahead of time, with exactly the settings above, by `python -m "
        f"compgen.scan live` ({values['live_train_cpu_seconds']:.0f} seconds of one "
        "CPU core, most of this page's budget), and is scored here from its saved "
        "weights"
    )
    check = (
        "To check that the saved run comes from this code, its first "
        f"{values['live_retrace_steps']} steps were retrained here: at the "
        f"{values['live_retrace_compared']} steps where both logged it, the "
        f"training loss matches the saved run's within "
        f"{values['live_retrace_diff']:.1e}. Change SEED, LIVE_STEPS or LIVE_EVAL "
        "and it trains here instead."
    )
    return source, check


def summary_values(result: dict) -> dict:
    """The numbers the chapter glues and the claims read."""
    acc = result["acc"]
    out = {f"{k}_{s}": v for (k, s), v in acc.items()}
    out["live_acc"] = result["live"]["acc"]
    lengths = result["lengths"]["baseline", "length"]  # (answer, truth) lengths
    out["length_right_length"] = sum(a == t for a, t in lengths) / len(lengths)
    out["length_at_most_22"] = sum(a <= 22 for a, _ in lengths) / len(lengths)
    out["length_runaway"] = sum(a >= 49 for a, _ in lengths) / len(lengths)
    out["live_steps"] = result["exp"].live_steps
    out["live_n_eval"] = result["live"]["n_eval"]
    # the live metalearner: trained ahead (its start retraced here) or here
    retraced = result["live"].get("retraced")
    out["live_committed"] = bool(result["live"].get("committed"))
    out["live_retrace_steps"] = retraced["steps"] if retraced else 0
    out["live_retrace_compared"] = retraced["n_compared"] if retraced else 0
    out["live_retrace_diff"] = (
        retraced["diff"] if retraced and retraced["n_compared"] else 0.0
    )
    entry = read_record().get(f"{LIVE_KIND}/addprim_jump/{result['seed']}", {})
    out["live_train_cpu_seconds"] = entry.get("train_cpu_seconds", 0.0)
    out["live_source"], out["live_check"] = live_text(out)
    for kind in ("baseline", "meta"):
        model = result["models"][kind, "addprim_jump"]
        out[f"n_weights_{kind}"] = sum(p.numel() for p in model.parameters())
    record = read_record()
    for (k, s), st in seed_stats(record).items():
        for stat in ("mean", "min", "max", "n"):
            out[f"seeds_{k}_{s}_{stat}"] = st[stat]
    for k, s in acc:
        r = record.get(f"{k}/{s}/0", {})
        out[f"steps_{k}_{s}"] = r.get("steps", 0)
        out[f"cpu_{k}_{s}"] = r.get("train_cpu_seconds", 0.0)
    ablation = record.get("meta_nolookup/addprim_jump/0")
    if ablation:  # the metalearner without its memory lookup (record only)
        out["meta_nolookup_addprim_jump"] = ablation["test_accuracy"]
        out["steps_meta_nolookup"] = ablation["steps"]
    sc = result["scaling"]
    meta = {
        "acc": acc["meta", "addprim_jump"],
        "n_weights": out["n_weights_meta"],
    }
    out.update(scaling_values(sc["stats"], sc["scored"], sc["live"], meta))
    for w, st in sc["stats"].items():  # seeds recorded at each width
        out[f"scale_n_seeds_w{w}"] = len(st["acc"])
    wrong = [a for a in result["jump_answers"] if a["baseline"] != a["truth"]]
    out["n_instructive"] = len(result["jump_answers"])
    out["baseline_wrong_instructive"] = len(wrong)
    return out


CLAIMS = [
    Claim(
        "baseline_fails_add_jump",
        "The seq2seq baseline is near perfect on the random split (at least 0.95 "
        "exact match) and near zero on add-jump (at most 0.10), on the full test "
        "sets.",
        ("baseline_simple", "baseline_addprim_jump"),
        lambda g: g["baseline_simple"] >= 0.95 and g["baseline_addprim_jump"] <= 0.10,
    ),
    Claim(
        "baseline_over_seeds",
        "The same holds for each of seeds 0, 1 and 2 in the training record.",
        (
            "seeds_baseline_simple_min",
            "seeds_baseline_addprim_jump_max",
            "seeds_baseline_simple_n",
            "seeds_baseline_addprim_jump_n",
        ),
        lambda g: (
            g["seeds_baseline_simple_n"] == g["seeds_baseline_addprim_jump_n"] == 3
            and g["seeds_baseline_simple_min"] >= 0.95
            and g["seeds_baseline_addprim_jump_max"] <= 0.10
        ),
    ),
    Claim(
        "metalearner_composes",
        "The metalearner, never shown a composed command with jump, gets at least "
        "0.90 of the add-jump test set exactly right, on each of seeds 0, 1 and 2.",
        (
            "meta_addprim_jump",
            "seeds_meta_addprim_jump_min",
            "seeds_meta_addprim_jump_n",
        ),
        lambda g: (
            g["meta_addprim_jump"] >= 0.90
            and g["seeds_meta_addprim_jump_n"] == 3
            and g["seeds_meta_addprim_jump_min"] >= 0.90
        ),
    ),
]

CLAIMS += [
    Claim(
        "scale_leaves_add_jump",
        "Growing the baseline does not close the gap: over at least four widths "
        "spanning at least 10x in weights, its add-jump exact match stays at most "
        "0.10 for every width and seed in the training record (seeds 0, 1 and 2 "
        "at the smallest width and at 64), against the metalearner's at least "
        "0.90 at its one size.",
        (
            "scale_addjump_max",
            "scale_weight_ratio",
            "scale_n_widths",
            "scale_n_seeds_w16",
            "scale_n_seeds_w64",
            "meta_addprim_jump",
        ),
        lambda g: (
            g["scale_n_widths"] >= 4
            and g["scale_weight_ratio"] >= 10
            and g["scale_n_seeds_w16"] == g["scale_n_seeds_w64"] == 3
            and g["scale_addjump_max"] <= 0.10
            and g["meta_addprim_jump"] >= 0.90
        ),
    ),
    Claim(
        "scale_retraced_live",
        "The smallest baseline, retrained live for its first steps with the "
        "recorded recipe, logs the committed run's training loss within 0.01 at "
        "every logged step (at least six of them).",
        ("scale_live_diff", "scale_live_compared"),
        lambda g: g["scale_live_compared"] >= 6 and g["scale_live_diff"] <= 0.01,
    ),
]

HEADLINES = [
    Headline(
        "SCAN add-jump, exact match: a seq2seq network trained on commands "
        "(random split in brackets)",
        "1.2% best, 0.08% overall-best (random split 99.8%)",
        "{baseline_addprim_jump:.1%} ({baseline_simple:.1%})",
        "lake2018scan",
        scaling="{scale_addjump_small:.1%} → {scale_addjump_large:.1%} "
        "({scale_weight_ratio:.0f}x the weights; mean over seeds)",
    ),
    Headline(
        "SCAN add-jump, exact match: a network metalearned to read word meanings "
        "from study examples",
        "near 100% (meta seq2seq; MLC)",
        "{meta_addprim_jump:.1%}",
        "lake2019meta",
    ),
]


def _follows_study(n: int = 300) -> float:
    """Share of add-jump answers that follow a *changed* study example
    (jump -> I_WALK): does the metalearner read meanings, or remember them?"""
    model, _ = load_reference("meta", "addprim_jump", 0)
    lexicon = dict(MEANING, jump="I_LOOK", look="I_JUMP")
    test = _subset(split("addprim_jump")[1], n, seed=2)
    swapped = [(c, interpret(c, lexicon)) for c, _ in test]
    return float(np.mean(exact_match(model, swapped, meta=True, lexicon=lexicon)))


def _around_reference(action, direction):
    turn = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}[direction]
    return ([turn] + ([] if action is None else [action])) * 4


_CONTEXT = (
    "SCAN commands are built from primitives (walk, look, run, jump, and turn), "
    "directions (left, right), `opposite` and `around`, repetitions (`twice`, "
    "`thrice`) and two conjunctions (`and`, `after`). Each command has one "
    "correct action sequence, written with the actions I_WALK, I_LOOK, I_RUN, "
    "I_JUMP, I_TURN_LEFT and I_TURN_RIGHT. `walk left` is I_TURN_LEFT I_WALK; "
    "`walk opposite left` is I_TURN_LEFT I_TURN_LEFT I_WALK."
)

EXERCISES = [
    PredictThenRun(
        id="scan.ex1",
        title="Does the metalearner read the study examples?",
        question="Give the metalearner study examples that swap two meanings: "
        "`jump -> I_LOOK` and `look -> I_JUMP` (walk and run keep theirs), and "
        "ask it 300 add-jump test commands. Predict the share of its answers that "
        "are exactly right *under the swapped meanings* (0: it ignores the study "
        "examples and answers with the old meanings; 1: it follows them "
        "everywhere).",
        context=_CONTEXT,
        low=0.0,
        high=1.0,
        tolerance=0.15,
        experiment=_follows_study,
        solution="In training no word had a fixed meaning: every episode drew a "
        "new assignment of the four actions, so the network learned to take a "
        "word's action from the study examples and nothing else. Swapping the "
        "meanings at test is just another episode, and the answers follow the "
        "study examples about as often as they follow the true ones.",
    ),
    CodeExercise(
        id="scan.ex2",
        title="Interpret `around`",
        question="Complete `around(action, direction)`: the action sequence (a "
        "list of action names) of `U around DIR`, where `action` is the "
        "primitive's action (`'I_JUMP'`), or `None` for `turn`, and `direction` "
        "is `'left'` or `'right'`. For example `jump around left` is "
        "I_TURN_LEFT I_JUMP four times over.",
        context=_CONTEXT,
        function_name="around",
        stub="def around(action, direction):\n"
        '    """Actions of `U around DIR` as a list of strings."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_around_reference,
        cases=[
            ("I_JUMP", "left"),
            ("I_WALK", "right"),
            (None, "left"),
            (None, "right"),
            ("I_RUN", "left"),
        ],
        solution="Turn, then act, four times: `([turn] + [action]) * 4`, where "
        "`turn` is I_TURN_LEFT or I_TURN_RIGHT and the action is left out for "
        "`turn around`: a full circle on the spot.",
    ),
    MultipleChoice(
        id="scan.ex3",
        title="Why can no network learn jump from the add-jump training set?",
        question="In the add-jump training set, `jump` occurs 1,467 times, always "
        "alone. What does that leave undetermined?",
        context=_CONTEXT,
        options={
            "a": "The action I_JUMP itself: the network never outputs it.",
            "b": "How jump combines: nothing in the data says that jump behaves "
            "like walk, so `jump twice` -> I_JUMP I_JUMP is one generalization "
            "among many that fit the training set equally well.",
            "c": "Nothing: a larger network trained for longer would get it.",
            "d": "The meaning of `twice`.",
        },
        answer="b",
        feedback_for={
            "a": "The network outputs I_JUMP for `jump` alone perfectly well.",
            "b": "Every training pair is consistent with jump being a word that "
            "only ever appears alone; treating it like walk is an inductive "
            "bias the data do not supply.",
            "c": "More of the same data fixes nothing the data leave open; the "
            "baseline fits its training set and still fails.",
            "d": "`twice` appears with walk, look and run thousands of times.",
        },
        solution="**b.** The training set is consistent with many rules for "
        "jump in context. The metalearner was trained on episodes in which "
        "*every* primitive word's meaning changed, so it learned that a word "
        "seen alone in the study examples composes like any other.",
    ),
]


def audit_episodes(steps: int = 100, batch_size: int = 128, seed: int = 0) -> dict:
    """Draw training episodes as the metalearner saw them and count how many
    queries pair a test command with its true actions (the answer must be 0),
    how many contain jump in a composed command, and how many were masked."""
    from .episodes import ID, MAX_CMD, VOCAB, EpisodeSampler
    from .model import PAD, TARGETS

    train, test = split("addprim_jump")
    test_set = set(test)
    sampler = EpisodeSampler(
        train, test, held_out=("jump",), batch_size=batch_size, seed=seed
    )
    n = leaks = composed_jump = masked = jump_study = 0
    for step in range(steps):
        src, _, tout = sampler(step)
        for s, o in zip(src.tolist(), tout.tolist(), strict=True):
            cut = MAX_CMD
            cmd = " ".join(VOCAB[w] for w in s[:cut] if w)
            acts = " ".join(TARGETS[t] for t in o if t > 2)
            n += 1
            masked += o[0] == PAD
            leaks += (cmd, acts) in test_set and o[0] != PAD
            composed_jump += "jump" in cmd.split() and cmd != "jump"
            jump_study += ID["jump"] in s[cut:]
    return {
        "episodes": n,
        "test_pairs": leaks,
        "composed_jump": composed_jump,
        "masked": masked,
        "jump_as_study_word": jump_study,
    }
