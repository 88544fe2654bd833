"""The opening chapter's two-part task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compgen import TrainConfig, pairs

TASK = pairs.PairTask(n_a=6, n_b=5, dim=4, holdout=0.3)


def test_split_is_a_partition_with_every_symbol_trained():
    for seed in range(20):
        train, held = pairs.split_pairs(TASK, seed=seed)
        together = {tuple(p) for p in train} | {tuple(p) for p in held}
        assert len(together) == len(train) + len(held) == 30  # disjoint, complete
        assert len(held) == 9
        assert set(train[:, 0]) == set(range(6)) and set(train[:, 1]) == set(range(5))


def test_split_and_targets_are_deterministic():
    a, b = pairs.split_pairs(TASK, seed=1), pairs.split_pairs(TASK, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], pairs.split_pairs(TASK, seed=2)[1])
    assert torch.equal(
        pairs.make_targets(TASK, seed=3), pairs.make_targets(TASK, seed=3)
    )


def test_targets_are_tanh_of_a_sum():
    y = pairs.make_targets(TASK, seed=0)
    assert y.shape == (6, 5, 4)
    z = torch.atanh(y.double())  # u_a + v_b: additive, so its double difference is 0
    double_diff = z[1:, 1:] - z[1:, :-1] - z[:-1, 1:] + z[:-1, :-1]
    assert double_diff.abs().max() < 1e-4


def test_encodings_by_hand():
    x = pairs.encode(np.array([[2, 3]]), TASK, "factorised")
    assert x.shape == (1, 11) and x[0].nonzero().flatten().tolist() == [2, 6 + 3]
    x = pairs.encode(np.array([[2, 3], [0, 0]]), TASK, "conjunctive")
    assert x.shape == (2, 30) and x.argmax(1).tolist() == [2 * 5 + 3, 0]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"holdout": 1.0}, "holdout"), ({"n_a": 1}, "symbols"), ({"dim": 0}, "dim")],
)
def test_task_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pairs.PairTask(**kwargs)


def test_encode_rejects_bad_input():
    with pytest.raises(ValueError, match="code must be one of"):
        pairs.encode(np.array([[0, 0]]), TASK, "holistic")
    with pytest.raises(ValueError, match="shape"):
        pairs.encode(np.array([0, 1, 2]), TASK, "factorised")


def test_r2_matches_its_definition():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    expected = 1 - ((p - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()
    assert np.isclose(pairs.r2_score(torch.tensor(p), torch.tensor(y)), expected)
    assert pairs.r2_score(torch.tensor(y), torch.tensor(y)) == 1.0


def test_fit_overfits_training_pairs_and_is_repeatable():
    config = TrainConfig(steps=400, lr=1e-2, eval_every=200)
    _, h1 = pairs.fit(
        TASK, "factorised", seed=0, width=32, config=config, checkpoint=False
    )
    _, h2 = pairs.fit(
        TASK, "factorised", seed=0, width=32, config=config, checkpoint=False
    )
    assert h1.last("train_r2") > 0.95
    assert h1.series("loss")[1].tolist() == h2.series("loss")[1].tolist()


def test_fit_widths_members_learn_as_they_would_alone():
    config = TrainConfig(steps=60, lr=1e-2, eval_every=30)
    members, history = pairs.fit_widths(
        TASK, "conjunctive", (8, 32), seed=0, config=config
    )
    alone, solo = pairs.fit(
        TASK, "conjunctive", seed=0, width=32, config=config, checkpoint=False
    )
    assert [m[0].out_features for m in members] == [8, 32]
    for a, b in zip(members[1].parameters(), alone.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert history.last("held_out_r2_32") == pytest.approx(solo.last("held_out_r2"))
    steps, _ = history.series("train_r2_8")
    assert steps.tolist() == [0, 30, 60]
    _, again = pairs.fit_widths(TASK, "conjunctive", (8, 32), seed=0, config=config)
    assert history.series("loss")[1].tolist() == again.series("loss")[1].tolist()
    out = pairs.MLPGrid(members)(pairs.encode(np.array([[0, 1]]), TASK, "conjunctive"))
    assert out.shape == (2, 1, TASK.dim)
    for bad in ((), (0,), (8.0,)):
        with pytest.raises(ValueError, match="widths"):
            pairs.fit_widths(TASK, "factorised", bad, seed=0, config=config)
