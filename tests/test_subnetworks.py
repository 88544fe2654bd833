"""Pruning masks and the ablation test of structural compositionality."""

from __future__ import annotations

import math

import pytest
import torch

from compgen import subnetworks as sn
from compgen import torch_threads

TASK = sn.MajorityTask(n_bits=5)


def test_sample_labels_and_fixed_subroutines():
    x, a, b, y = sample = sn.sample(TASK, 500, seed=0)
    assert x.shape == (500, 10) and set(x.unique().tolist()) == {-1.0, 1.0}
    bits = (x > 0).long()
    assert torch.equal(a, (bits[:, :5].sum(1) >= 3).long())
    assert torch.equal(b, (bits[:, 5:].sum(1) >= 3).long())
    assert torch.equal(y, a ^ b)
    assert 0.4 < a.float().mean() < 0.6  # both classes appear
    _, a, b, y = sn.sample(TASK, 500, seed=1, fix="B")  # tests A alone
    assert int(b.sum()) == 0 and torch.equal(y, a) and 0.4 < a.float().mean() < 0.6
    _, a, b, y = sn.sample(TASK, 500, seed=1, fix="A")
    assert int(a.sum()) == 0 and torch.equal(y, b)
    again = sn.sample(TASK, 500, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(sample, again, strict=True))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sn.MajorityTask(n_bits=4), "odd"),
        (lambda: sn.sample(TASK, 10, seed=0, fix="C"), "fix"),
        (lambda: sn.sample(TASK, 0, seed=0), "n must be"),
        (lambda: sn.train_network(TASK, seed=0, rule="or"), "rule"),
        (lambda: sn.find_subnetwork(sn.MaskedMLP(10), TASK, "C", seed=0), "subroutine"),
    ],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_soft_and_hard_masks_by_hand():
    s = [torch.tensor([[0.0, math.log(3) / 2, -1.0]])]
    soft = sn.soft_mask(s, temperature=2.0)[0]
    assert torch.allclose(soft, torch.tensor([[0.5, 0.75, 1 / (1 + math.e**2)]]))
    assert sn.hard_mask(s)[0].tolist() == [[0.0, 1.0, 0.0]]  # s = 0 is pruned
    penalty = sn.l0_penalty(s, temperature=2.0)
    assert math.isclose(float(penalty), 0.5 + 0.75 + 1 / (1 + math.e**2), rel_tol=1e-6)
    # as the temperature grows the soft mask approaches the hard one
    sharp = sn.soft_mask([torch.tensor([0.3, -0.3])], temperature=200.0)[0]
    assert torch.allclose(sharp, torch.tensor([1.0, 0.0]), atol=1e-20)


def test_masked_forward_by_hand():
    torch.manual_seed(0)
    net = sn.MaskedMLP(3, width=4, depth=1, n_out=2)
    x = torch.randn(5, 3)
    ones = [torch.ones(s) for s in net.weight_shapes()]
    assert torch.allclose(net(x, ones), net(x))
    zeros = [torch.zeros(s) for s in net.weight_shapes()]
    l1, l2 = net.layers
    by_hand = torch.relu(l1.bias) @ torch.zeros(4, 2) + l2.bias  # weights all gone
    assert torch.allclose(net(x, zeros), by_hand.expand(5, 2))
    one_weight = [torch.zeros(s) for s in net.weight_shapes()]
    one_weight[0][2, 1] = 1  # keep W1[2, 1] and all of layer 2
    one_weight[1] = torch.ones(2, 4)
    hidden = torch.relu(
        l1.bias + torch.outer(x[:, 1], torch.eye(4)[2]) * l1.weight[2, 1]
    )
    assert torch.allclose(net(x, one_weight), hidden @ l2.weight.T + l2.bias, atol=1e-6)


def test_mask_statistics_by_hand():
    a = [torch.tensor([[1.0, 1.0, 0.0, 0.0]])]
    b = [torch.tensor([[0.0, 1.0, 1.0, 0.0]])]
    assert sn.kept_fraction(a) == 0.5
    assert sn.overlap(a, b) == pytest.approx(1 / 3)
    assert sn.complement(a)[0].tolist() == [[0.0, 0.0, 1.0, 1.0]]


def test_selectivity_by_hand():
    m = {
        ("full", "A"): 1.0,
        ("full", "B"): 1.0,
        ("ablate A", "A"): 0.5,
        ("ablate A", "B"): 0.9,
        ("ablate B", "A"): 1.0,
        ("ablate B", "B"): 0.6,
    }
    # A: drop 0.5 on A vs 0.1 on B -> 0.4; B: drop 0.4 on B vs 0.0 on A -> 0.4
    assert sn.selectivity(m) == pytest.approx(0.4)


@torch_threads(1)  # tiny nets: a second thread only adds overhead
def test_training_and_mask_finding_work_on_a_tiny_task():
    net = sn.train_network(TASK, seed=0, steps=600, width=32)
    assert sn.subroutine_accuracy(net, TASK, "A") > 0.95
    before = [p.clone() for p in net.parameters()]
    mask = sn.find_subnetwork(net, TASK, "A", seed=0, config=sn.MaskConfig(steps=400))
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters(), strict=True))
    assert sn.kept_fraction(mask) < 0.5  # sparse ...
    assert sn.subroutine_accuracy(net, TASK, "A", masks=mask) > 0.9  # ... and it works
    assert set(torch.cat([m.flatten() for m in mask]).unique().tolist()) <= {0.0, 1.0}


# ------------------------------------------------ broad pretraining: the task family

FAMILY = sn.TaskFamily(n_inputs=10, n_tasks=12, seed=3)


def _family_label_by_hand(kind, subset, t, bits):
    ones = sum(bits[i] for i in subset)
    if kind == "majority":
        return int(2 * ones > len(subset))
    if kind == "threshold":
        return int(ones >= t)
    return ones % 2


def test_family_labels_match_a_loop_over_examples_and_tasks():
    x, *_ = sn.sample(TASK, 200, seed=4)
    labels = FAMILY.labels(x)
    assert labels.shape == (200, 12) and set(labels.unique().tolist()) <= {0.0, 1.0}
    bits = (x > 0).long().tolist()
    for j, (kind, subset, t) in enumerate(FAMILY.tasks):
        by_hand = [_family_label_by_hand(kind, subset, t, row) for row in bits]
        assert labels[:, j].long().tolist() == by_hand, (kind, subset, t)
    kinds = [kind for kind, _, _ in FAMILY.tasks]
    assert kinds[:3] == ["majority", "threshold", "parity"]  # the kinds in turn
    for kind, subset, t in FAMILY.tasks:
        assert len(set(subset)) == len(subset) and max(subset) < 10
        if kind == "majority":
            assert len(subset) % 2 == 1
        if kind == "threshold":
            assert 1 <= t < len(subset)
    assert sn.TaskFamily(n_inputs=10, n_tasks=12, seed=3).tasks == FAMILY.tasks
    assert sn.TaskFamily(n_inputs=10, n_tasks=12, seed=4).tasks != FAMILY.tasks
    inside = sn.TaskFamily(n_inputs=10, n_tasks=30, within_fields=True).tasks
    assert all(max(s) < 5 or min(s) >= 5 for _, s, _ in inside)  # one field each
    assert {min(s) >= 5 for _, s, _ in inside} == {True, False}  # both fields
    # a stack of batches (S, n, in) gets labels (S, n, n_tasks), the same per slice
    stacked = FAMILY.labels(torch.stack([x[:50], x[50:100]]))
    assert torch.equal(stacked[1], labels[50:100])


# ------------------------------------------------- stacked seeds = one net per seed


@torch_threads(1)
def test_stacked_training_equals_one_network_per_seed():
    seeds, width = [3, 4], 16
    pre = sn.train_stack(
        TASK,
        seeds=[s + 10_000 for s in seeds],
        steps=30,
        width=width,
        rule="family",
        family=FAMILY,
    )
    stack = sn.train_stack(TASK, seeds=seeds, steps=30, width=width, init=pre)
    mask_config = sn.MaskConfig(steps=30)
    masks = sn.find_stack_subnetworks(stack, TASK, seeds=seeds, config=mask_config)
    results = sn.stack_results(stack, TASK, masks)
    for i, seed in enumerate(seeds):
        single_pre = sn.train_network(
            TASK,
            seed=seed + 10_000,
            steps=30,
            width=width,
            rule="family",
            family=FAMILY,
        )
        assert single_pre.layers[-1].weight.shape == (12, width)  # one head a task
        net = sn.train_network(TASK, seed=seed, steps=30, width=width, init=single_pre)
        for p, q in zip(net.parameters(), stack.member(i).parameters(), strict=True):
            assert torch.allclose(p, q, atol=1e-5)
        single = {
            s: sn.find_subnetwork(net, TASK, s, seed=seed, config=mask_config)
            for s in sn.SUBROUTINES
        }
        for s in sn.SUBROUTINES:
            for m, stacked in zip(single[s], masks[s], strict=True):
                assert torch.equal(m, stacked[i])
        matrix = sn.ablation_matrix(net, TASK, single)
        assert all(
            results[i]["matrix"][k] == pytest.approx(v) for k, v in matrix.items()
        )
        assert results[i]["kept"]["A"] == pytest.approx(sn.kept_fraction(single["A"]))
        assert results[i]["overlap"] == pytest.approx(
            sn.overlap(single["A"], single["B"])
        )


def test_fine_tuning_keeps_the_pretrained_hidden_layers_and_a_fresh_head():
    pre = sn.train_network(TASK, seed=1, steps=5, width=8, rule="family", family=FAMILY)
    net = sn.train_network(TASK, seed=2, steps=0, width=8, init=pre)
    fresh = sn.train_network(TASK, seed=2, steps=0, width=8)
    assert torch.equal(net.layers[0].weight, pre.layers[0].weight)
    assert torch.equal(net.layers[1].bias, pre.layers[1].bias)
    assert torch.equal(net.layers[2].weight, fresh.layers[2].weight)


# --------------------------------------------------------- statistics of the runs


def test_bootstrap_difference_and_cross_damage_by_hand():
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(12, generator=rng).numpy()
    d, lo, hi = sn.bootstrap_difference(a, a)  # a group against itself
    assert d == 0 and lo < 0 < hi
    d, lo, hi = sn.bootstrap_difference(a + 5, a)  # a clear shift of 5
    assert d == pytest.approx(5) and 4 < lo < 5 < hi < 6
    d, lo, hi = sn.bootstrap_difference(3 * a, a, sn.spread)
    assert d == pytest.approx(2 * float(a.std(ddof=1))) and lo > 0
    m = {
        ("full", "A"): 1.0,
        ("full", "B"): 0.9,
        ("ablate A", "B"): 0.7,
        ("ablate B", "A"): 0.8,
    }
    assert sn.cross_damage(m) == pytest.approx((0.2 + 0.2) / 2)
    # weights of a 14-input MLP with two hidden layers of 64 and 2 outputs
    assert sn.n_weights(sn.MajorityTask(), 64) == 14 * 64 + 64 * 64 + 64 * 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sn.TaskFamily(n_tasks=0), "n_tasks"),
        (lambda: sn.TaskFamily(n_inputs=7, within_fields=True), "even"),
        (lambda: FAMILY.labels(torch.ones(3, 7)), "inputs"),
        (lambda: sn.train_network(TASK, seed=0, rule="family"), "TaskFamily"),
        (lambda: sn.train_stack(TASK, seeds=[0], rule="family"), "TaskFamily"),
        (lambda: sn.train_stack(TASK, seeds=[], steps=1), "seeds"),
        (lambda: sn.StackedMLP([sn.MaskedMLP(10, width=4), sn.MaskedMLP(10)]), "shape"),
        (
            lambda: sn.find_stack_subnetworks(
                sn.train_stack(TASK, seeds=[0, 1], steps=0), TASK, seeds=[0]
            ),
            "one seed per member",
        ),
        (lambda: sn.run_condition(sn.Experiment(), "finetuned", [0]), "condition"),
        (lambda: sn.bootstrap_difference([1.0], [1.0, 2.0]), ">= 2"),
    ],
)
def test_new_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_width_values_and_verdicts_by_hand():
    def row(sel, cross):  # a result whose ablation matrix gives `cross`
        m = {(r, s): 1.0 for r in ("full", "only A", "only B") for s in "AB"}
        m |= {("ablate A", "B"): 1 - cross, ("ablate B", "A"): 1 - cross}
        return {"selectivity": sel, "matrix": m, "kept": {"A": 0.1, "B": 0.3}}

    task = sn.MajorityTask()
    by_width = {16: [row(0.1, 0.5), row(0.3, 0.4)], 64: [row(0.4, 0.2)] * 2}
    v = sn.width_values(by_width, task)
    assert v["selectivity_small"] == pytest.approx(0.2)
    assert v["selectivity_large"] == pytest.approx(0.4)
    assert v["cross_damage_small"] == pytest.approx(0.45)
    assert v["selectivity_min_all_widths"] == pytest.approx(0.1)
    assert v["selectivity_mean_min_widths"] == pytest.approx(0.2)
    assert v["kept_large"] == pytest.approx(0.2) and v["full_small"] == 1.0
    assert v["weights_ratio"] == pytest.approx(sn.n_weights(task, 64) / 512)
    assert sn.scale_verdict(0.5, 0.05) == "closes"
    assert sn.scale_verdict(0.5, 0.3) == "narrows"
    assert sn.scale_verdict(0.5, 0.45) == "leaves"
    words = {"below": "b", "above": "a", "neither": "n"}
    assert sn.direction(-0.3, -0.1, **words) == "b"
    assert sn.direction(0.1, 0.3, **words) == "a"
    assert sn.direction(-0.1, 0.3, **words) == "n"
