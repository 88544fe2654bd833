"""The coverage chapter: modular teacher, combination splits, batched students."""

from __future__ import annotations

import itertools
import math

import ipywidgets
import numpy as np
import pytest
import torch

from compgen import TrainConfig, coverage
from compgen.coverage import (
    ModularTask,
    Student,
    SweepConfig,
    all_combinations,
    split_combinations,
)

TASK = ModularTask()  # M = 8, K = 3: the chapter's task
SMALL = ModularTask(n_modules=5, max_active=2, dim_x=4, dim_hidden=6, dim_y=3)
QUICK = SweepConfig(train=TrainConfig(steps=40, lr=3e-3), eval_repeats=2)


# ------------------------------------------------- an independent graph check


def components(trained: np.ndarray) -> list[set[int]]:
    """Modules linked by co-occurring in a trained combination, by breadth-first
    search over an adjacency list (not the library's union-find)."""
    n = trained.shape[1]
    neighbours = {m: set() for m in range(n)}
    for row in trained:
        on = [m for m in range(n) if row[m] > 0]
        for a, b in itertools.permutations(on, 2):
            neighbours[a].add(b)
    present = [m for m in range(n) if trained[:, m].any()]
    found, left = [], set(present)
    while left:
        start = min(left)
        seen, queue = {start}, [start]
        while queue:
            for b in neighbours[queue.pop()]:
                if b not in seen:
                    seen.add(b)
                    queue.append(b)
        found.append(seen)
        left -= seen
    return found


def test_there_are_92_combinations_of_up_to_three_of_eight_modules():
    combos = all_combinations(TASK)
    assert combos.shape == (8 + 28 + 56, 8)
    assert len({tuple(r) for r in combos}) == len(combos)  # all distinct
    assert set(combos.sum(1)) == {1, 2, 3}
    assert all_combinations(TASK, range(4, 5)).shape == (math.comb(8, 4), 8)


@pytest.mark.parametrize("coverage_", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("seed", range(4))
def test_compositional_split_trains_every_module_in_one_connected_graph(
    coverage_, seed
):
    combos = all_combinations(TASK)
    train, held = split_combinations(TASK, coverage_, seed=seed)
    assert len(train) == round(coverage_ * 92) and len(train) + len(held) == 92
    assert not set(train) & set(held)  # a partition
    assert components(combos[train]) == [set(range(8))]


@pytest.mark.parametrize("coverage_", [0.25, 0.3, 63 / 92])
@pytest.mark.parametrize("seed", range(3))
def test_disconnected_split_has_two_groups_that_never_meet(coverage_, seed):
    combos = all_combinations(TASK)
    train, _ = split_combinations(TASK, coverage_, support="disconnected", seed=seed)
    groups = components(combos[train])
    assert len(groups) == 2 and set().union(*groups) == set(range(8))
    for row in combos[train]:  # no trained combination spans both groups
        on = set(np.flatnonzero(row))
        assert on <= groups[0] or on <= groups[1]


@pytest.mark.parametrize("seed", range(3))
def test_non_compositional_split_never_trains_the_last_module(seed):
    combos = all_combinations(TASK)
    train, held = split_combinations(TASK, 0.5, support="non_compositional", seed=seed)
    assert not combos[train][:, 7].any()
    assert components(combos[train]) == [set(range(7))]
    assert combos[held][:, 7].sum() == 1 + 7 + 21  # every combination with it


def test_control_coverage_is_every_combination_without_the_last_module():
    assert coverage.control_coverage(TASK) == pytest.approx(63 / 92)
    train, held = split_combinations(TASK, 63 / 92, support="non_compositional", seed=0)
    assert all_combinations(TASK)[held][:, 7].all()  # only the unseen module held


def test_splits_are_deterministic_and_depend_on_the_seed():
    a = split_combinations(TASK, 0.25, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, split_combinations(
        TASK, 0.25, seed=3), strict=True))  # fmt: skip
    assert not np.array_equal(a[0], split_combinations(TASK, 0.25, seed=4)[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"coverage": 1.0}, "coverage must be in"),
        ({"coverage": 0.0}, "coverage must be in"),
        ({"coverage": 0.5, "support": "random"}, "support must be one of"),
        ({"coverage": 0.8, "support": "disconnected"}, "holds at most 64 of 92"),
        ({"coverage": 0.8, "support": "non_compositional"}, "holds at most 63"),
        ({"coverage": 0.01}, "no compositional split"),
    ],
)
def test_splits_reject_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        split_combinations(TASK, seed=0, max_tries=200, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_modules": 2}, "n_modules"),
        ({"max_active": 1}, "max_active"),
        ({"max_active": 9}, "max_active"),
        ({"dim_x": 0}, "dim_x"),
    ],
)
def test_task_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModularTask(**kwargs)


def test_student_rejects_bad_settings():
    with pytest.raises(ValueError, match="coverage must be in"):
        Student(1.5, 16, 32)
    with pytest.raises(ValueError, match="width and n_tasks"):
        Student(0.5, 0, 32)
    with pytest.raises(ValueError, match="support must be one of"):
        Student(0.5, 16, 32, "popular")


# ------------------------------------------------------------- the teacher


def test_teacher_matches_its_formula_by_hand():
    teacher = coverage.make_teacher(SMALL, seed=0)
    z = torch.tensor([[0.5, 0.0, 1.0, 0.0, 0.0]])
    x = torch.linspace(-1, 1, 4)[None]
    hidden = sum(
        z[0, m] / math.sqrt(2) * (teacher.modules[m] @ x[0] + teacher.biases[m])
        for m in range(5)
    )
    expected = teacher.readout @ torch.relu(hidden)
    assert torch.allclose(teacher(z, x)[0], expected, atol=1e-6)
    assert teacher(z, x).shape == (1, 3)
    assert teacher(z[:, None].expand(2, 7, 5), torch.zeros(2, 7, 4)).shape == (2, 7, 3)


def test_teacher_and_tasks_are_deterministic_and_nested():
    t1, t2 = coverage.make_teacher(TASK, seed=1), coverage.make_teacher(TASK, seed=1)
    assert torch.equal(t1.modules, t2.modules) and torch.equal(t1.readout, t2.readout)
    combos = all_combinations(TASK)[:10]
    z, which = coverage.sample_latents(combos, 50, seed=2)
    z_small, which_small = coverage.sample_latents(combos, 20, seed=2)
    assert z.shape == (50, 8) and torch.equal(z[:20], z_small)  # nested draws
    assert np.array_equal(which[:20], which_small)
    assert torch.equal((z > 0).float(), torch.tensor(combos[which]))  # on = active
    values = z[z > 0].numpy()[:, None]
    assert np.abs(values - coverage.STRENGTHS).min(1).max() < 1e-6


# ------------------------------------------------------- R² and the probe


def test_task_r2_against_a_hand_computation():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    base = ((y - y.mean(1, keepdims=True)) ** 2).sum()
    total, per = coverage.task_r2(torch.tensor(p), torch.tensor(y), np.array([4, 1, 4]))
    assert np.isclose(total, 1 - ((p - y) ** 2).sum() / base)
    sse = ((p - y) ** 2).sum((1, 2))
    sst = ((y - y.mean(1, keepdims=True)) ** 2).sum((1, 2))
    assert np.allclose(
        per, [1 - sse[1] / sst[1], 1 - sse[[0, 2]].sum() / sst[[0, 2]].sum()]
    )


def test_ridge_probe_recovers_a_linear_code_and_fails_on_noise():
    rng = np.random.default_rng(0)
    z_fit, z_eval = rng.normal(size=(400, 3)), rng.normal(size=(200, 3))
    mix = rng.normal(size=(3, 20))
    r2 = coverage.ridge_probe_r2(z_fit @ mix, z_fit, z_eval @ mix, z_eval, l2=1e-3)
    assert r2 > 0.999
    noise = coverage.ridge_probe_r2(
        rng.normal(size=(400, 20)), z_fit, rng.normal(size=(200, 20)), z_eval, l2=1.0
    )
    assert noise < 0.1


# ------------------------------------------------------- batched students


def test_batched_mlp_shapes_and_members_start_equal():
    model = coverage.BatchedMLP(3, 13, 7, 3, depth=2, seed=0)
    out, hidden = model(torch.randn(3, 5, 13), hidden=True)
    assert out.shape == (3, 5, 3) and [h.shape for h in hidden] == [(3, 5, 7)] * 2
    assert torch.equal(model.weights[0][0], model.weights[0][2])
    one = model(torch.ones(1, 5, 13), member=1)
    assert torch.allclose(one, model(torch.ones(3, 5, 13))[1:2])


def test_batched_grid_equals_training_each_member_alone():
    students = [Student(0.5, 8, 16), Student(0.8, 8, 64), Student(0.5, 8, 64)]
    grid = coverage.train_sweep(SMALL, students, seed=0, config=QUICK, checkpoint=False)
    for i in (0, 1):
        (alone,) = coverage.train_sweep(
            SMALL, [students[i]], seed=0, config=QUICK, checkpoint=False
        )
        assert grid[i]["ood_r2"] == pytest.approx(alone["ood_r2"], abs=1e-5)
        assert grid[i]["id_r2"] == pytest.approx(alone["id_r2"], abs=1e-5)
        w_grid = grid[i]["model"].weights[-1][grid[i]["member"]]
        assert torch.allclose(w_grid, alone["model"].weights[-1][0], atol=1e-5)
    assert grid[0]["ood_r2"] != grid[1]["ood_r2"]  # members really differ


def test_sweep_is_deterministic_and_reports_every_field():
    students = [Student(0.5, 8, 16), Student(0.5, 8, 16, "non_compositional")]
    a = coverage.train_sweep(SMALL, students, seed=1, config=QUICK, checkpoint=False)
    b = coverage.train_sweep(SMALL, students, seed=1, config=QUICK, checkpoint=False)
    assert [r["ood_r2"] for r in a] == [r["ood_r2"] for r in b]
    r = a[1]
    assert len(r["probe_r2"]) == QUICK.depth
    assert len(r["combo_r2"]) == len(r["held"]) == len(r["pair_coverage"])
    assert r["n_train_combinations"] == len(r["train"])


def test_a_wide_student_overfits_a_few_tasks():
    config = SweepConfig(train=TrainConfig(steps=400, lr=3e-3), eval_repeats=1)
    (result,) = coverage.train_sweep(
        SMALL, [Student(0.5, 64, 4)], seed=0, config=config, checkpoint=False
    )
    model, teacher = result["model"], coverage.make_teacher(SMALL, seed=0)
    tasks = coverage.make_tasks(SMALL, teacher, result["train"], 4, seed=1)
    with torch.no_grad():
        pred = model(tasks.inputs.flatten(0, 1)[None]).reshape(tasks.y.shape)
    assert coverage.task_r2(pred, tasks.y) > 0.95  # the very tasks it trained on


# ------------------------------------------------------- the chapter's pieces


def test_chapter_grid_headline_and_explorer_on_a_tiny_sweep(monkeypatch):
    tiny = ModularTask(n_modules=6, max_active=3, dim_x=4, dim_hidden=4, dim_y=2)
    students = coverage.sweep_students(tiny, (0.2, 0.8), (4, 8), (8, 16))
    assert len(students) == 2 * 2 * 2 + 3 * 2
    results = coverage.train_sweep(
        tiny, students, seed=0, config=QUICK, checkpoint=False
    )
    values = coverage.headline(tiny, results)
    ahead = coverage.provenance(tiny, results, seed=0, config=QUICK)
    assert ahead["committed_students"] == 0 and "all 14 students" in ahead["provenance"]
    values.update({k: v for k, v in ahead.items() if k != "provenance"})
    for claim in coverage.CLAIMS:
        assert set(claim.uses) <= values.keys(), claim.name
    for h in coverage.HEADLINES:  # the scaling column reads the same values
        assert set(h.keys()) <= values.keys(), h.finding
    assert (
        values["ood_non_compositional_small_width"]
        == values["ood_non_compositional_w4"]
    )
    assert values["weights_ratio"] == coverage.n_weights(tiny, 8) / coverage.n_weights(
        tiny, 4
    )
    assert all(np.isfinite(v) for v in values.values() if not isinstance(v, str))
    # the explorer: one picture per student, and every Stack follows a control
    # through a client-side link (no kernel needed):
    # (control, "index") -> (stack, "selected_index")
    links = []
    real_jslink = ipywidgets.jslink
    monkeypatch.setattr(
        ipywidgets, "jslink", lambda a, b: links.append((a, b)) or real_jslink(a, b)
    )
    cc = coverage.control_coverage(tiny)
    tabs = coverage.figures.explorer(tiny, results, (0.2, 0.8), (4, 8), cc)
    by_coverage, by_support = (child.children[1] for child in tabs.children)
    assert [len(s.children) for s in by_coverage.children] == [2, 2]
    assert [len(s.children) for s in by_support.children] == [2, 2, 2]
    first = by_coverage.children[0].children[0]
    assert first.format == "png" and first.value[:4] == b"\x89PNG"
    driven = {
        id(b[0]) for a, b in links if a[1] == "index" and b[1] == "selected_index"
    }
    stacks = [by_coverage, by_support, *by_coverage.children, *by_support.children]
    assert all(id(stack) in driven for stack in stacks)


def test_exercise_reference_for_connectivity_agrees_with_the_graph_check():
    ex = next(e for e in coverage.EXERCISES if e.kind == "code")
    for (combos,) in ex.cases:
        expected = components(combos) == [set(range(combos.shape[1]))]
        assert ex.reference(combos) == expected
    assert ex.check(ex.reference).correct


def test_student_weights_by_hand_and_the_widths_span_ten_times():
    task = ModularTask()  # 8 modules + 16 inputs in, 16 out, two hidden layers
    assert coverage.n_weights(task, 16) == (24 + 1) * 16 + 17 * 16 + 17 * 16
    assert len(coverage.WIDTHS) >= 4
    ws = [coverage.n_weights(task, w) for w in coverage.WIDTHS]
    assert ws == sorted(ws) and ws[-1] >= 10 * ws[0]


# ------------------------------------------- the widest students, committed

BOOK = SweepConfig()  # the chapter's parameters (STEPS = 2000)


def book_group(width: int = 256) -> list[Student]:
    return [s for s in coverage.sweep_students(TASK) if s.width == width]


def test_committed_widest_students_load_and_score_as_recorded():
    from compgen.coverage import committed

    for width in committed.COMMITTED_WIDTHS:
        group = book_group(width)
        entry = committed.find_run(TASK, group, seed=0, config=BOOK)
        assert entry is not None and entry["weights"] == f"w{width}_s0.pt"
        assert len(entry["scores"]) == len(group) == 18
        assert entry["loss"][-1][0] == BOOK.train.steps  # the whole run recorded
        state = committed.load_committed(TASK, group, seed=0, config=BOOK)
        assert state["weights.1"].shape == (18, width, width)
    sizes = [committed.weights_path(w, 0).stat().st_size for w in (64, 256)]
    assert sum(sizes) < 1_700_000  # about a byte per weight
    group = book_group(64)  # scored afresh (the widest scores the same way)
    results = coverage.train_sweep(TASK, group, seed=0, config=BOOK, committed=True)
    assert {r["trained"] for r in results} == {"committed"}
    assert committed.score_diff(TASK, results, seed=0, config=BOOK) <= 0.005
    # another seed, another config or another grid matches no committed run
    assert committed.load_committed(TASK, group, seed=1, config=BOOK) is None
    assert committed.load_committed(TASK, group[:-1], seed=0, config=BOOK) is None
    other = SweepConfig(train=TrainConfig(steps=1000, lr=3e-3, warmup_steps=100))
    assert committed.load_committed(TASK, group, seed=0, config=other) is None


def test_committed_widest_students_retrace_their_first_steps():
    # width 64 (the chapter retraces both committed widths, 100 steps each)
    result = coverage.retrace(TASK, book_group(64), seed=0, config=BOOK, stop_at=20)
    assert result["n_compared"] == 2 and result["diff"] <= 1e-3
    assert [s for s, _ in result["live"]] == [10, 20]


def test_train_committed_then_load_retrace_and_provenance(tmp_path, monkeypatch):
    from compgen.coverage import committed

    students = coverage.sweep_students(SMALL, (0.3, 0.6), (8, 16), (8, 32))
    config = SweepConfig(train=TrainConfig(steps=60, lr=3e-3), eval_repeats=2)
    record = committed.train_committed(
        [16], seed=0, folder=tmp_path, task=SMALL, students=students, config=config
    )
    assert (tmp_path / "w16_s0.pt").is_file() and list(record) == ["w16/s0"]
    assert record["w16/s0"]["command"].endswith("--widths 16 --seed 0")
    monkeypatch.setattr(committed, "TRAINED", tmp_path)
    monkeypatch.setattr(committed, "RECORD", tmp_path / "record.json")
    live = coverage.train_sweep(
        SMALL, students, seed=0, config=config, checkpoint=False
    )
    mixed = coverage.train_sweep(
        SMALL, students, seed=0, config=config, checkpoint=False, committed=True
    )
    assert [r["trained"] for r in mixed] == [
        "committed" if s.width == 16 else "live" for s in students
    ]
    for a, b in zip(live, mixed, strict=True):  # half precision changes little
        assert a["ood_r2"] == pytest.approx(b["ood_r2"], abs=1e-3)
        if a["width"] == 8:  # the live width is the very same run
            assert a["ood_r2"] == b["ood_r2"]
    ahead = coverage.provenance(SMALL, mixed, seed=0, config=config, retrace_steps=60)
    assert ahead["committed_students"] == 7 and ahead["live_students"] == 7
    assert ahead["retrace_compared"] == 6 and ahead["retrace_diff"] == 0.0
    assert ahead["committed_score_diff"] <= 1e-3
    assert "students of width 16 are loaded" in ahead["provenance"]
    assert "training loss exactly at each of the 6" in ahead["provenance"]
    claim = next(c for c in coverage.CLAIMS if c.name == "committed_retraced")
    assert claim.evaluate(ahead)[0]


def test_committed_runs_reject_bad_input():
    from compgen.coverage import committed

    with pytest.raises(ValueError, match="one width"):
        committed.run_key(TASK, [Student(0.5, 8, 16), Student(0.5, 16, 16)],
                          seed=0, config=BOOK)  # fmt: skip
    with pytest.raises(ValueError, match="stop_at"):
        coverage.retrace(TASK, book_group(), seed=0, config=BOOK, stop_at=0)
    with pytest.raises(ValueError, match="no recorded run"):
        coverage.retrace(TASK, book_group(), seed=5, config=BOOK, stop_at=10)
    with pytest.raises(ValueError, match="no student of width"):
        committed.train_committed([12], task=SMALL, students=[Student(0.5, 8, 4)])


def test_explorer_frames_drawn_in_one_figure_look_like_fresh_ones():
    import io

    from PIL import Image

    combos = all_combinations(TASK)
    results = []
    for i, (cov, support) in enumerate([(0.1, "compositional"), (0.5, "disconnected")]):
        train, held = split_combinations(TASK, cov, support=support, seed=0)
        results.append({
            "train": train, "support": support, "coverage": cov, "width": 16,
            "n_tasks": 32, "ood_r2": 0.1 * i,
            "pair_coverage": coverage.pair_coverage(TASK, train, combos[held]),
            "combo_r2": np.linspace(-1, 1, len(held)),
        })  # fmt: skip
    frames = coverage.figures.Frames(TASK)
    again = [frames(r) for r in results]
    frames.close()
    for result, png in zip(results, again, strict=True):
        fresh = Image.open(io.BytesIO(coverage.figures.frame(TASK, result)))
        mine = Image.open(io.BytesIO(png))
        assert (
            abs(fresh.width - mine.width) <= 3 and abs(fresh.height - mine.height) <= 3
        )
    assert again[0] != again[1]
