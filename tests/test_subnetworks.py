"""Pruning masks and the ablation test of structural compositionality."""

from __future__ import annotations

import math

import pytest
import torch

from compgen import subnetworks as sn

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


def test_training_and_mask_finding_work_on_a_tiny_task():
    net = sn.train_network(TASK, seed=0, steps=600, width=32)
    assert sn.subroutine_accuracy(net, TASK, "A") > 0.95
    before = [p.clone() for p in net.parameters()]
    mask = sn.find_subnetwork(net, TASK, "A", seed=0, config=sn.MaskConfig(steps=400))
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters(), strict=True))
    assert sn.kept_fraction(mask) < 0.5  # sparse ...
    assert sn.subroutine_accuracy(net, TASK, "A", masks=mask) > 0.9  # ... and it works
    assert set(torch.cat([m.flatten() for m in mask]).unique().tolist()) <= {0.0, 1.0}
