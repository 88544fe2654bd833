"""Linearized subgraph matching: the multiplication graph, its scratchpad and
parser, the taxonomy, the eps fit, sub-computation counts, the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compgen.subgraph_matching import analysis, model, multiplication, training
from compgen.subgraph_matching.multiplication import (
    build_graph,
    graph_stats,
    parse_answer,
    parse_scratchpad,
    prompt,
    scratchpad,
)

# ---------------------------------------------------------------- the graph


def test_graph_answer_is_the_product_for_every_small_problem():
    for a in range(1, 100):  # every problem up to 2 x 2 digits
        for b in range(1, 100):
            assert build_graph(a, b)["S",].value == a * b
    for a in range(100, 1000, 7):  # and a seventh of those up to 3 x 1
        for b in range(1, 10):
            assert build_graph(a, b)["S",].value == a * b


def test_graph_every_node_follows_from_its_parents_on_larger_problems():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = (int(x) for x in rng.integers(1, 10_000, size=2))
        g = build_graph(a, b)
        assert g["S",].value == a * b
        for j in range(len(str(b))):
            assert g["Q", j].value == a * int(str(b)[::-1][j]) * 10**j
        for name, node in g.items():
            if node.kind != "input":
                parents = {p: g[p].value for p in node.parents}
                assert multiplication.evaluate(name, parents) == node.value


def test_depth_and_node_counts_by_hand():
    # 7 x 8: a0, b0, m00, s00, Q0, t0, t1, S; a chain m -> s -> Q -> t0 -> t1 -> S
    g = build_graph(7, 8)
    assert len(g) == 8
    assert [g[n].depth for n in [("m", 0, 0), ("s", 0, 0), ("Q", 0), ("t", 0),
                                 ("t", 1), ("S",)]] == [1, 2, 3, 4, 5, 6]
    assert graph_stats(g) == {"depth": 6, "width": 2, "nodes": 8,
                              "parallelism": 8 / 6}
    # 12 x 3: 3 inputs, 2 products, 2 cells, Q0, 3 columns, S = 12 nodes;
    # s10 waits for the carry of s00, so Q0 sits at depth 4 and S at 8
    g = build_graph(12, 3)
    assert len(g) == 12
    assert (g["s", 1, 0].depth, g["Q", 0].depth, g["S",].depth) == (3, 4, 8)
    # 123 x 45: 6 products + 6 cells + 2 partials + 5 columns + 1 answer = 20
    # steps, + 5 inputs; the longest path: m, s00, s10, s20, Q, t0..t4, S
    g = build_graph(123, 45)
    assert len(g) == 25 and g["S",].depth == 11
    assert multiplication.steps(123, 45) == 20


def test_scratchpad_text_and_round_trip():
    assert prompt(123, 45) == "321*54="
    assert scratchpad(123, 45) == (
        "1515 1011 0506|5160;1212 0809 0404|02940;05 03 15 05 00|53550$"
    )
    rng = np.random.default_rng(1)
    for _ in range(300):
        a, b = (int(x) for x in rng.integers(1, 10_000, size=2))
        g = build_graph(a, b)
        text = scratchpad(a, b)
        parsed = parse_scratchpad(text, a, b)
        assert parsed == {k: n.value for k, n in g.items() if n.kind != "input"}
        assert parse_answer(text) == a * b
        assert parse_answer(multiplication.answer(a, b)) == a * b


def test_parser_marks_missing_and_garbled_fields():
    text = scratchpad(123, 45)
    short = text.replace("1011 0506|5160", "1011|5160")  # a cell too few
    parsed = parse_scratchpad(short, 123, 45)
    assert parsed["m", 2, 0] is None and parsed["s", 2, 0] is None
    assert parsed["m", 1, 0] == 10 and parsed["Q", 0] == 615
    assert parse_scratchpad(text[:20], 123, 45)["S",] is None
    assert parse_answer("12x4$") is None


@pytest.mark.parametrize("bad", [(0, 3), (-5, 2), (3.5, 2), (True, 2)])
def test_bad_problems_raise(bad):
    with pytest.raises(ValueError, match="positive int"):
        build_graph(*bad)


def test_split_is_deterministic_and_disjoint():
    sizes = multiplication.sizes_up_to(3, 2)
    assert sizes == [(1, 1), (2, 1), (2, 2), (3, 1), (3, 2)]
    tr1, te1 = multiplication.make_split(sizes, [(4, 1)], n_train=500, n_test=50,
                                         seed=3)
    tr2, te2 = multiplication.make_split(sizes, [(4, 1)], n_train=500, n_test=50,
                                         seed=3)
    assert all(np.array_equal(tr1[s], tr2[s]) for s in tr1)
    assert (4, 1) in te1 and (4, 1) not in tr1
    for s in sizes:
        train = set(map(tuple, tr1[s].tolist()))
        assert not train & set(map(tuple, te1[s].tolist()))
        assert all(len(str(a)) == s[0] and len(str(b)) == s[1] for a, b in train)
    assert len(te1[1, 1]) == 16  # at most a fifth of the 81 one-digit problems


# ---------------------------------------------------------------- the analysis


def wrong(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_taxonomy_local_propagation_restoration():
    a, b = 123, 45
    g = build_graph(a, b)
    text = scratchpad(a, b)
    # s00 written 25 instead of 15: a local error; its carry 2 makes s10 = 10+2
    # = 12 (propagation); Q0 then reads 5, 2, 6 -> 625 (propagation too)
    bad = wrong(text, "1515 1011 0506|5160", "1525 1012 0506|5260")
    cats = analysis.classify(g, parse_scratchpad(bad, a, b))
    assert cats["s", 0, 0] == "local"
    assert cats["s", 1, 0] == "propagation"
    assert cats["s", 2, 0] == "restoration"  # 5 + carry(12) = 6: right anyway
    assert cats["Q", 0] == "propagation"
    assert cats["m", 0, 0] == "correct"
    # a cell with a wrong product that is not 3 x 5 and not its parents' result
    cats = analysis.classify(g, parse_scratchpad(wrong(text, "1515", "1616"), a, b))
    assert cats["m", 0, 0] == "local" and cats["s", 0, 0] == "propagation"
    cats = analysis.classify(g, parse_scratchpad(text[:30], a, b))
    assert cats["S",] == "missing"
    assert set(analysis.classify(g, parse_scratchpad(text, a, b)).values()) == {
        "correct"}


def test_patterns_and_counts():
    p = analysis.graph_patterns(123, 45)
    assert p["m", 0, 0] == ("m", 3, 5)
    assert p["s", 1, 0] == ("s", 10, 1)  # 2 x 5 plus the carry 1 of 15
    assert p["t", 2] == ("t", (6, 9), 0)  # column 2: 6 (of 615) + 9 (of 4920)
    assert p["S",] == ("S", (5, 3, 5, 5, 0))
    counts = analysis.pattern_counts(np.array([[123, 45], [123, 45], [21, 3]]))
    assert counts["m", 3, 5] == 2  # per scratchpad, not per occurrence
    assert counts["m", 1, 3] == 1  # 21 x 3
    assert counts["m", 2, 3] == 1  # 2 x 3 in 21 x 3, 3 x 2 is another pattern
    assert counts["m", 3, 2] == 0


def test_fit_eps_recovers_the_rate():
    rng = np.random.default_rng(0)
    k = rng.integers(5, 60, size=20_000)
    correct = rng.random(k.shape) < 0.97**k
    assert abs(analysis.fit_eps(k, correct) - 0.03) < 0.003
    assert analysis.curve_r2([10, 20], [0.97**10, 0.97**20], 0.03) == pytest.approx(1)
    with pytest.raises(ValueError):
        analysis.fit_eps([], [])


# ---------------------------------------------------------------- the model


def test_batch_masks_exactly_the_target():
    x, y, mask = model.make_batch(np.array([[12, 3], [7, 8]]), scratch=True)
    assert x.shape == y.shape == mask.shape
    for r, (a, b) in enumerate([(12, 3), (7, 8)]):
        want = multiplication.target(a, b, pad=True)
        assert model.decode(y[r][mask[r]]) == want
        assert model.decode(x[r, : len(prompt(a, b))]) == prompt(a, b)
    with pytest.raises(ValueError, match="vocabulary"):
        model.encode("12+3")


def test_tiny_overfit_and_batched_decoding():
    torch.manual_seed(0)
    problems = {(1, 1): np.array([[3, 4], [7, 8], [9, 9], [2, 5]])}
    net = model.build_model(model.ModelConfig(block_size=40), seed=0)
    hist = model.fit(net, problems, scratch=True,
                     training=model.Training(steps=300, warmup_steps=20))
    assert hist[-1]["loss"] < 0.05
    outs = model.complete(net, problems[1, 1], scratch=True)
    assert outs == [multiplication.scratchpad(a, b) for a, b in problems[1, 1].tolist()]


def test_training_is_deterministic():
    problems = {(2, 1): np.array([[12, 3], [45, 6], [78, 9]])}
    runs = []
    for _ in range(2):
        net = model.build_model(model.ModelConfig(block_size=40), seed=1)
        runs.append(model.fit(net, problems, scratch=False,
                              training=model.Training(steps=20, warmup_steps=5)))
    assert runs[0][0]["loss"] == runs[1][0]["loss"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_committed_checkpoints_load(seed):
    for scratch in (True, False):
        run = training.load_run(scratch, seed)
        if run is None:
            pytest.skip("no committed run for this seed")
        assert run.training.steps >= 1000 and run.scratch == scratch
        outs = model.complete(run.model, np.array([[12, 3]]), scratch=scratch)
        assert parse_answer(outs[0]) == 36


# ---------------------------------------------------------------- the scale grid


def test_scale_grid_spans_ten_times_the_weights_and_steps():
    from compgen.subgraph_matching import scaling

    pts = scaling.points()
    widths = sorted({w for w, _ in pts})
    assert len(widths) >= 4
    assert scaling.n_weights(widths[-1]) >= 10 * scaling.n_weights(widths[0])
    steps = sorted(s for w, s in pts if w == scaling.WIDTH)
    assert steps[-1] >= 10 * steps[0] and steps[-1] == training.FULL[True].steps
    with pytest.raises(ValueError, match="multiple"):
        scaling.point_setup(18)
    with pytest.raises(ValueError, match="steps"):
        scaling.point_training(0)


def test_scale_scores_and_summary():
    from compgen.subgraph_matching import scaling

    setup = training.Setup()
    net = model.build_model(scaling.point_setup(16, setup).model, seed=0)
    test = {(1, 1): np.array([[3, 4], [7, 8]]), (4, 1): np.array([[1234, 5]])}
    scores = scaling.score(net, test)
    assert set(scores) == {"1x1", "4x1"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    s = scaling.summarize({"1x1": 1.0, "2x1": 0.5, "2x2": 0.5, "3x1": 0.5,
                           "3x2": 0.5, "4x1": 0.1, "3x3": 0.3}, setup)
    assert s == pytest.approx({"id": 0.6, "ood": 0.2, "ood_max": 0.3})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_committed_grid_points_load(seed):
    from compgen.subgraph_matching import scaling

    for width, steps in scaling.points():
        run, record = scaling.load_point(width, steps, seed)
        if not record:
            pytest.skip("no committed grid for this seed")
        if (width, steps) == (scaling.WIDTH, training.FULL[True].steps):
            continue
        assert set(record["scores"]) >= {"3x2", "4x2"}
        if steps == min(scaling.STEPS) and width == scaling.WIDTH:
            assert run is None  # the live point keeps only its record
        else:
            assert run.model.config.n_embd == width
