"""The chapter's experiment: evaluate the trained models on every size, then
measure compounding, the error taxonomy and subgraph matching.

    result = run(Experiment(), seed=0)
    values = summary_values(result)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..claims import Claim, Headline
from ..core.device import torch_threads
from ..exercises import MultipleChoice, PredictThenRun
from .analysis import (
    CATEGORIES,
    classify,
    curve_r2,
    fit_eps,
    graph_patterns,
    pattern_counts,
)
from .model import complete, teacher_forced
from .multiplication import (
    build_graph,
    node_spans,
    parse_answer,
    parse_scratchpad,
    prompt,
    scratchpad,
    target,
)
from .scaling import (
    WIDTH,
    load_point,
    n_weights,
    points,
    score,
    summarize,
    train_point,
)
from .training import FULL, Setup, load_run, train_run


@dataclass(frozen=True)
class Experiment:
    setup: Setup = Setup()
    live_steps: int = 300  # the short run trained on the page
    fallback_steps: int | None = None  # no committed checkpoint: train this
    # many steps (None: the full run, 10-20 minutes on one thread)
    n_eval: int | None = None  # test problems per size (default: the setup's)
    n_count: int | None = None  # training problems whose patterns are counted
    # the scale grid, (width, steps) points: committed weights scored here,
    # the point at the live run's steps is the live run (see `scaling`)
    scaling: tuple = tuple(points())


def get_model(exp: Experiment, *, scratch: bool, seed: int):
    """The committed run for this seed; otherwise one trained here."""
    run = load_run(scratch, seed, exp.setup)
    if run is None:
        training = FULL[scratch]
        if exp.fallback_steps is not None:
            training = replace(training, steps=exp.fallback_steps,
                               warmup_steps=min(100, exp.fallback_steps))
        run = train_run(exp.setup, scratch=scratch, training=training, seed=seed)
    return run


def evaluate_model(model, test: dict, *, scratch: bool) -> list[dict]:
    """One record per test problem: its size, steps, output, and (with the
    scratchpad) each node's predicted value and taxonomy category."""
    records = []
    for size, problems in test.items():
        outs = complete(model, problems, scratch=scratch)
        forced = teacher_forced(model, problems) if scratch else [None] * len(outs)
        for (a, b), text, tf in zip(problems.tolist(), outs, forced, strict=True):
            g = build_graph(a, b)
            rec = {"size": size, "a": a, "b": b, "text": text,
                   "steps": sum(n.kind != "input" for n in g.values()),
                   "correct": parse_answer(text) == a * b,
                   "length": len(prompt(a, b) + target(a, b, pad=scratch))}
            if scratch:
                rec["predicted"] = parse_scratchpad(text, a, b)
                rec["category"] = classify(g, rec["predicted"])
                rec["truth"] = {n: v.value for n, v in g.items()}
                rec["forced"] = tf
                start = len(prompt(a, b))
                spans = node_spans(a, b)
                rec["node_end"] = {n: start + e for n, (_, e) in spans.items()}
            else:
                answer = text.split("$")[0]
                rec["wrong_length"] = len(answer) != len(str(a)) + len(str(b))
            records.append(rec)
    return records


def run(exp: Experiment = Experiment(), *, seed: int = 0) -> dict:
    """Everything the chapter shows, for one training seed."""
    setup = exp.setup
    train, test = setup.split()
    if exp.n_eval is not None:
        test = {s: p[: exp.n_eval] for s, p in test.items()}
    with torch_threads(1):
        runs = {name: get_model(exp, scratch=name == "scratchpad", seed=seed)
                for name in ("scratchpad", "direct")}
        live = train_run(setup, scratch=True, training=replace(
            FULL[True], steps=exp.live_steps, warmup_steps=min(100, exp.live_steps)),
            seed=seed)
        records = {name: evaluate_model(r.model, test, scratch=name == "scratchpad")
                   for name, r in runs.items()}
        trained = {s: test[s] for s in setup.train_sizes()}
        records["live"] = evaluate_model(live.model, trained, scratch=True)
    pool = np.concatenate(list(train.values()))
    counts = pattern_counts(pool if exp.n_count is None else pool[:: max(
        1, len(pool) // exp.n_count)])
    for rec in records["scratchpad"]:
        pats = graph_patterns(rec["a"], rec["b"])
        rec["seen"] = {k: counts.get(p, 0) for k, p in pats.items()}
    longest = max(len(prompt(a, b) + scratchpad(a, b))
                  for p in train.values() for a, b in p[:50].tolist())
    return {"exp": exp, "seed": seed, "runs": runs, "live": live,
            "records": records, "train": train, "test": test, "longest": longest,
            "scaling": scale_grid(exp, seed, test, live, records["scratchpad"])}


def scale_grid(exp: Experiment, seed: int, test: dict, live, full_records) -> dict:
    """{(width, steps): {"scores", "record", "weights", "how"}} for the grid:
    each committed point scored afresh on `test`; the point at the live run's
    steps and the chapter's width is the live run; the full steps are the
    committed full run (its records already scored); a point with no
    committed weights is trained here (`fallback_steps`, if set)."""
    out = {}
    for width, steps in exp.scaling:
        if (width, steps) == (WIDTH, FULL[True].steps):
            grid = accuracy_grid(full_records)
            scores, record, how = ({f"{a}x{b}": v for (a, b), v in grid.items()},
                                   {}, "committed full run")
        else:
            run_, record = load_point(width, steps, seed)
            if (width, steps) == (WIDTH, exp.live_steps):
                model, how = live.model, "trained live"
            elif run_ is not None:
                model, how = run_.model, "committed"
            else:
                model = train_point(width, exp.fallback_steps or steps, seed,
                                    exp.setup).model
                how = "trained here"
            scores = score(model, test)
        out[width, steps] = {"scores": scores, "record": record, "how": how,
                             "weights": n_weights(width, exp.setup),
                             **summarize(scores, exp.setup)}
    return out


def scaling_values(grid: dict) -> dict:
    """The glued numbers of the scale grid: each point's in-distribution and
    larger-size exact match, the two axes' ends, and how far the live point
    lies from its training record."""
    out = {}
    for (w, s), p in grid.items():
        for k in ("id", "ood", "ood_max"):
            out[f"scale_{k}_w{w}_s{s}"] = p[k]
    widths = sorted({w for w, _ in grid})
    steps = sorted({s for w, s in grid if w == WIDTH})
    common = sorted({s for w, s in grid if w == widths[0]}
                    & {s for w, s in grid if w == widths[-1]})
    if len(widths) > 1 and common:
        s0 = common[0]
        small, big = grid[widths[0], s0], grid[widths[-1], s0]
        out.update(scale_width_small=widths[0], scale_width_big=widths[-1],
                   scale_width_steps=s0,
                   scale_weights_small=small["weights"],
                   scale_weights_big=big["weights"],
                   scale_weights_ratio=big["weights"] / small["weights"],
                   scale_id_small=small["id"], scale_id_big=big["id"],
                   scale_ood_max_small=small["ood_max"],
                   scale_ood_max_big=big["ood_max"])
    if len(steps) > 1:
        short, long_ = grid[WIDTH, steps[0]], grid[WIDTH, steps[-1]]
        out.update(scale_steps_short=steps[0], scale_steps_long=steps[-1],
                   scale_steps_ratio=steps[-1] / steps[0],
                   scale_id_short=short["id"], scale_id_long=long_["id"],
                   scale_ood_max_short=short["ood_max"],
                   scale_ood_max_long=long_["ood_max"])
    out["scale_ood_max_all"] = max(p["ood_max"] for p in grid.values())
    out["scale_ood_all"] = max(p["ood"] for p in grid.values())
    out["scale_id_max"] = max(p["id"] for p in grid.values())
    out["scale_id_min"] = min(p["id"] for p in grid.values())
    gaps = [max(abs(p["scores"][k] - p["record"]["scores"][k]) for k in p["scores"])
            for p in grid.values() if p["how"] == "trained live"
            and "scores" in p["record"]]
    # how many live points had a record to retrace (none in the smoke tier's
    # tiny grid: the claim then does not hold), and their largest difference
    out["scale_live_compared"] = len(gaps)
    out["scale_live_retrace_gap"] = max(gaps, default=0.0)
    return out


def accuracy_grid(records: list[dict]) -> dict[tuple, float]:
    """Exact-match accuracy per (digits of a, digits of b)."""
    sizes = sorted({r["size"] for r in records})
    return {s: float(np.mean([r["correct"] for r in records if r["size"] == s]))
            for s in sizes}


def compounding(records: list[dict]) -> dict:
    """Accuracy per size against its steps k, the fitted eps, and the product
    of each size's teacher-forced per-node accuracies (each node's accuracy with
    the true scratchpad before it): what exact match would be if every node
    went wrong independently, nothing repaired and nothing compounded beyond
    the node itself."""
    k = np.array([r["steps"] for r in records])
    c = np.array([r["correct"] for r in records], float)
    eps = fit_eps(k, c)
    sizes = sorted({r["size"] for r in records})
    ks, acc, product = [], [], []
    for size in sizes:
        group = [r for r in records if r["size"] == size]
        ks.append(group[0]["steps"])
        acc.append(np.mean([r["correct"] for r in group]))
        product.append(np.prod([np.mean([r["forced"][n] for r in group])
                                for n in group[0]["forced"]]))
    ks, acc, product = np.array(ks), np.array(acc), np.array(product)
    return {"eps": eps, "sizes": sizes, "k": ks, "acc": acc,
            "r2": curve_r2(ks, acc, eps), "product": product,
            "product_gap": float(np.max(np.abs(product - acc)))}


def taxonomy(records: list[dict]) -> dict[str, np.ndarray]:
    """Counts of each category per depth, {category: (max_depth + 1,)}."""
    rows = []
    for r in records:
        g = build_graph(r["a"], r["b"])
        rows += [(g[n].depth, cat) for n, cat in r["category"].items()]
    top = max(d for d, _ in rows)
    out = {c: np.zeros(top + 1, int) for c in CATEGORIES}
    for d, c in rows:
        out[c][d] += 1
    return out


def matching(records: list[dict]) -> dict:
    """Node accuracy when its sub-computation was seen in training vs not, the
    mean training count of right and wrong nodes per depth, and exact match of
    problems whose every sub-computation was seen vs those with an unseen one."""
    seen, unseen, by_depth = [], [], {}
    all_seen, some_unseen = [], []
    for r in records:
        g = build_graph(r["a"], r["b"])
        for n, cat in r["category"].items():
            ok = cat == "correct"
            (seen if r["seen"][n] else unseen).append(ok)
            by_depth.setdefault(g[n].depth, {True: [], False: []})[ok].append(
                r["seen"][n])
        (all_seen if min(r["seen"].values()) else some_unseen).append(r["correct"])
    depths = sorted(by_depth)

    def mean(x):
        return float(np.mean(x)) if len(x) else float("nan")

    return {"acc_seen": mean(seen), "acc_unseen": mean(unseen),
            "n_seen": len(seen), "n_unseen": len(unseen),
            "depths": np.array(depths),
            "count_right": np.array([mean(by_depth[d][True]) for d in depths]),
            "count_wrong": np.array([mean(by_depth[d][False]) for d in depths]),
            "exact_all_seen": mean(all_seen), "exact_some_unseen": mean(some_unseen),
            "n_all_seen": len(all_seen), "n_some_unseen": len(some_unseen)}


def failure_kinds(records: list[dict], longest: int) -> dict:
    """Of the wrong answers: a scratchpad of the wrong shape (some node missing:
    a length or position failure) vs the right shape with wrong values
    (composition). Also how many problems need positions never trained."""
    wrong = [r for r in records if not r["correct"]]
    shape = [r for r in wrong if "missing" in r["category"].values()]
    return {"n_wrong": len(wrong), "shape": len(shape),
            "values": len(wrong) - len(shape),
            "share_shape": len(shape) / max(1, len(wrong)),
            "beyond_trained": float(np.mean([r["length"] > longest
                                             for r in records]))}


def forced_accuracy(records: list[dict], longest: int) -> dict[str, float]:
    """Teacher-forced node accuracy (the true scratchpad before each node),
    split by whether the node's sub-computation was seen in training and
    whether it is written within the longest trained sequence."""
    groups: dict[str, list] = {"all": [], "seen_within": [], "seen_beyond": [],
                               "unseen_within": [], "unseen_beyond": []}
    for r in records:
        for n, ok in r["forced"].items():
            where = "within" if r["node_end"][n] <= longest else "beyond"
            seen = "seen" if r["seen"][n] else "unseen"
            groups["all"].append(ok)
            groups[f"{seen}_{where}"].append(ok)
    out = {}
    for k, v in groups.items():
        out[f"forced_{k}"] = float(np.mean(v)) if v else float("nan")
        out[f"n_forced_{k}"] = len(v)
    return out


def summary_values(result: dict) -> dict:
    """The numbers the chapter glues and the claims read."""
    setup = result["exp"].setup
    trained = set(setup.train_sizes())
    out = {"seed": result["seed"], "longest_trained": result["longest"]}
    for name in ("scratchpad", "direct", "live"):
        recs = result["records"][name]
        grid = accuracy_grid(recs)
        idr = [r["correct"] for r in recs if r["size"] in trained]
        oodr = {s: a for s, a in grid.items() if s not in trained}
        out[f"id_acc_{name}"] = float(np.mean(idr))
        out[f"id_min_{name}"] = min(a for s, a in grid.items() if s in trained)
        if oodr:
            out[f"ood_max_{name}"] = max(oodr.values())
            out[f"ood_acc_{name}"] = float(np.mean(
                [r["correct"] for r in recs if r["size"] not in trained]))
        for (da, db), a in grid.items():
            out[f"acc_{name}_{da}x{db}"] = a
    for name in ("scratchpad", "direct"):
        out[f"train_seconds_{name}"] = result["runs"][name].seconds
        out[f"train_steps_{name}"] = result["runs"][name].training.steps
    out["live_steps"] = result["live"].training.steps
    out["live_seconds"] = result["live"].seconds
    recs = result["records"]["scratchpad"]
    comp = compounding(recs)
    out.update(eps=comp["eps"], eps_r2=comp["r2"], product_gap=comp["product_gap"])
    m = matching(recs)
    out.update({k: v for k, v in m.items() if np.isscalar(v)})
    out["seen_margin"] = m["acc_seen"] - m["acc_unseen"]
    idm = matching([r for r in recs if r["size"] in trained])
    out.update(acc_seen_id=idm["acc_seen"], acc_unseen_id=idm["acc_unseen"],
               n_unseen_id=idm["n_unseen"])
    ood = [r for r in recs if r["size"] not in trained]
    fk = failure_kinds(ood, result["longest"])
    out.update({f"ood_{k}": v for k, v in fk.items()})
    longest = result["longest"]
    idr = [r for r in recs if r["size"] in trained]
    out.update({f"ood_{k}": v for k, v in forced_accuracy(ood, longest).items()})
    out.update({f"id_{k}": v for k, v in forced_accuracy(idr, longest).items()})
    first = [r["forced"]["m", 0, 0] for r in ood if r["size"] == (4, 1)]
    if first:  # the very first node of a new size, a seen product at a seen place
        out["forced_first_product_4x1"] = float(np.mean(first))
    tax = taxonomy(ood)
    errors = sum(tax[c].sum() for c in ("local", "propagation"))
    out["ood_propagation_share"] = float(tax["propagation"].sum() / max(1, errors))
    direct_ood = [r for r in result["records"]["direct"]
                  if r["size"] not in trained and not r["correct"]]
    out["direct_wrong_length_share"] = float(np.mean(
        [r["wrong_length"] for r in direct_ood])) if direct_ood else 0.0
    out.update(scaling_values(result["scaling"]))
    # a group with no members (no unseen node beyond the trained length, say)
    # has no mean: leave it out rather than glue a NaN
    return {k: v for k, v in out.items()
            if not (isinstance(v, float) and not np.isfinite(v))}


CLAIMS = [
    Claim("id_accurate",
          "With the scratchpad, the model answers held-out problems of the trained "
          "sizes exactly at least 90% of the time.",
          ("id_acc_scratchpad",), lambda g: g["id_acc_scratchpad"] >= 0.90),
    Claim("ood_collapses",
          "On every size larger than those trained, exact match is at most 0.2, "
          "with the scratchpad as without.",
          ("ood_max_scratchpad", "ood_max_direct"),
          lambda g: g["ood_max_scratchpad"] <= 0.2 and g["ood_max_direct"] <= 0.2),
    Claim("errors_multiply",
          "Every size's exact match is within 0.1 of the product of its nodes' "
          "teacher-forced accuracies: per-node errors, multiplied, account for "
          "the answers.",
          ("product_gap",), lambda g: g["product_gap"] <= 0.1),
    Claim("seen_subgraphs_right",
          "Over all test problems, nodes whose sub-computation occurred in a "
          "training scratchpad are right more often than nodes whose "
          "sub-computation never did, by at least 0.2.",
          ("acc_seen", "acc_unseen", "seen_margin"),
          lambda g: g["seen_margin"] >= 0.2),
    Claim("layout_not_rule",
          "Not only new positions: on the larger sizes, nodes that sit within the "
          "trained length and whose sub-computation was seen are right at most "
          "30% of the time even with the true scratchpad before them, against at "
          "least 95% for the nodes of held-out problems of the trained sizes.",
          ("ood_forced_seen_within", "id_forced_all"),
          lambda g: g["ood_forced_seen_within"] <= 0.3
          and g["id_forced_all"] >= 0.95),
    Claim("scale_leaves_ood",
          "Scale does not close the gap: at every width from 16 to 64 (12 times "
          "the weights, 1000 steps each) and every run of the width-64 model "
          "from 300 to 5000 steps, exact match on every larger size stays at "
          "most 0.2, while on the trained sizes it rises by at least 0.3 from "
          "the narrowest to the widest and by at least 0.5 from the shortest "
          "run to the longest.",
          ("scale_ood_max_all", "scale_id_small", "scale_id_big",
           "scale_id_short", "scale_id_long"),
          lambda g: g["scale_ood_max_all"] <= 0.2
          and g["scale_id_big"] - g["scale_id_small"] >= 0.3
          and g["scale_id_long"] - g["scale_id_short"] >= 0.5),
    Claim("live_run_retraces",
          "The run trained on the page retraces its committed record: its exact "
          "match differs from the record's by at most 0.02 on every size.",
          ("scale_live_compared", "scale_live_retrace_gap"),
          lambda g: g["scale_live_compared"] >= 1
          and g["scale_live_retrace_gap"] <= 0.02),
]

HEADLINES = [
    Headline("Fine-tuned on small multiplications, exact match in distribution vs "
             "on larger sizes (with a scratchpad)",
             "GPT-3 fine-tuned with scratchpads: near 100% in distribution, near 0% "
             "out of distribution",
             "{id_acc_scratchpad:.2f} vs at most {ood_max_scratchpad:.2f}",
             "dziri2023faith",
             scaling="best larger size {scale_ood_max_small:.2f} → "
             "{scale_ood_max_big:.2f} ({scale_weights_ratio:.0f}x the weights, "
             "{scale_width_steps} steps), {scale_ood_max_short:.2f} → "
             "{scale_ood_max_long:.2f} ({scale_steps_ratio:.0f}x the steps)"),
    Headline("Node accuracy when the node's sub-computation was seen in training "
             "vs never seen",
             "correct nodes' subgraphs occur far more often in training than those "
             "of wrong nodes",
             "{acc_seen:.2f} vs {acc_unseen:.2f}", "dziri2023faith"),
    Headline("Node accuracy with the true scratchpad before each node: larger "
             "sizes (within the trained length, sub-computation seen) vs "
             "trained sizes",
             "not measured (length and composition are not separated)",
             "{ood_forced_seen_within:.2f} vs {id_forced_all:.2f}",
             "dziri2023faith"),
]


_CONTEXT = (
    "A small character transformer (2 layers, width 64) was trained on "
    "multiplications "
    "a x b with a up to 3 digits and b up to 2 digits, writing a scratchpad of "
    "every intermediate value (one-digit products, carries, partial products, "
    "column sums) before the answer. It is tested on held-out problems of those "
    "sizes and on 4-digit by 2-digit problems it never saw."
)


def _ood_4x2(seed: int = 0) -> float:
    exp = Experiment(n_eval=100)
    setup = exp.setup
    run_ = get_model(exp, scratch=True, seed=seed)
    test = setup.split()[1]
    with torch_threads(1):
        recs = evaluate_model(run_.model, {(4, 2): test[4, 2]}, scratch=True)
    return float(np.mean([r["correct"] for r in recs]))


EXERCISES = [
    PredictThenRun(
        id="subgraph_matching.ex1",
        title="From 3 digits to 4",
        question="The model answers held-out 3-digit by 2-digit problems almost "
        "always right. Predict its exact-match accuracy (0 to 1) on 4-digit by "
        "2-digit problems, which need one more cell per row of the same "
        "one-digit operations.",
        context=_CONTEXT, low=0.0, high=1.0, tolerance=0.1, experiment=_ood_4x2,
        solution="Zero, or close to it. The extra cell uses only operations the "
        "model does well, but the model has learned where each trained size "
        "keeps its digits: in the new layout even the first one-digit product "
        "reads the wrong digits, the scratchpad comes out with the wrong shape, "
        "and the later fields sit at positions it never wrote.",
    ),
    MultipleChoice(
        id="subgraph_matching.ex2",
        title="Which error is this?",
        question="In a scratchpad, the model writes the product cell m = 12 "
        "(3 x 4) correctly, but the cell before it had the wrong carry: it wrote "
        "s = 27 where the truth is 17. It then writes s = 14 for this cell, "
        "which is 12 plus the carry 2 of its wrong parent (the truth is 13). "
        "What kind of error is the new s?",
        context=_CONTEXT,
        options={"a": "a local error", "b": "a propagation error",
                 "c": "a restoration", "d": "correct"},
        answer="b",
        feedback_for={
            "a": "A local error does not follow from its parents; this one does.",
            "b": "It applied the right operation to a wrong parent.",
            "c": "A restoration is right despite a wrong parent; 14 is wrong.",
            "d": "The truth is 13.",
        },
        solution="**b.** 12 + 2 = 14 is exactly the operation applied to the "
        "parents the model wrote; the error came from upstream.",
    ),
]
