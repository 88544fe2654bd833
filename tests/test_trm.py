"""TRM: shapes, the recursion's gradient paths, deep supervision, EMA, exact resume,
the command line, the reference-run loader, the explorer."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from compgen import trm
from compgen.core import (
    count_parameters,
    load_checkpoint,
    seed_everything,
    torch_threads,
)
from compgen.trm import experiment as ex
from compgen.trm.cli import main as cli

TINY_MODEL = trm.TRMConfig(size=4, d_model=16, T=2, n=2)
TINY = trm.RunConfig(
    model=TINY_MODEL, givens=8, n_train=64, n_test=32, steps=12, batch_size=8,
    N_sup=3, eval_every=6, warmup_steps=2, eval_batch=16,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COMPGEN_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("COMPGEN_PROGRESS", "0")
    with torch_threads(1):  # tiny models: a second thread only adds waiting
        yield


@pytest.mark.parametrize("mixer", ["mlp", "attention"])
def test_shapes_and_detached_carry(mixer):
    torch.manual_seed(0)
    model = trm.TRM(dataclasses.replace(TINY_MODEL, size=6, d_model=24, mixer=mixer))
    puzzles = torch.randint(0, 7, (5, 36))
    y, z = model.initial_state(5)
    (y2, z2), logits, q = model(puzzles, y, z)
    assert y2.shape == z2.shape == (5, 36, 24)
    assert logits.shape == (5, 36, 6) and q.shape == (5,)
    assert not y2.requires_grad and not z2.requires_grad  # carried detached
    assert logits.requires_grad
    assert torch.allclose(
        torch.sigmoid(q), torch.full((5,), torch.sigmoid(torch.tensor(-5.0)).item())
    )  # the halting head starts at "not yet"


def test_variants_have_equal_parameter_counts():
    counts = {
        name: count_parameters(trm.TRM(trm.variant(TINY, name).model))
        for name in trm.VARIANTS
    }
    assert len(set(counts.values())) == 1, counts


def count_net_calls(model, fn) -> tuple[int, int]:
    """(calls of `net`, calls made with gradients enabled) while fn runs."""
    calls = {"all": 0, "grad": 0}
    original = model.net

    def counted(h, inject):
        calls["all"] += 1
        calls["grad"] += torch.is_grad_enabled()
        return original(h, inject)

    model.net = counted
    try:
        fn()
    finally:
        del model.net
    return calls["all"], calls["grad"]


@pytest.mark.parametrize(
    "changes, total, with_grad",
    [
        ({}, 2 * (2 + 1), 2 + 1),  # T(n+1) calls; the last n+1 back-propagated
        ({"one_step_grad": True}, 6, 2),  # only the last z and y updates
        ({"T": 1, "n": 1}, 2, 2),  # two-pass
        ({"T": 1, "n": 0}, 1, 1),  # single pass
        ({"T": 3, "n": 6}, 21, 7),  # the paper's Sudoku setting
    ],
)
def test_recursion_depth_and_gradient_paths(changes, total, with_grad):
    model = trm.TRM(dataclasses.replace(TINY_MODEL, **changes))
    puzzles = torch.randint(0, 5, (2, 16))
    y, z = model.initial_state(2)
    assert count_net_calls(model, lambda: model(puzzles, y, z)) == (total, with_grad)


def test_trace_matches_the_forward_pass():
    torch.manual_seed(1)
    model = trm.TRM(TINY_MODEL).eval()
    puzzles = trm.make_sudoku(3, size=4, givens=6, seed=0).puzzles
    frames = model.trace(puzzles, N_sup=3)
    assert len(frames) == 3 * TINY_MODEL.T
    answers = trm.solve_batch(model, puzzles, N_sup=3)
    last_of_each = [f["answer"] for f in frames if f["t"] == TINY_MODEL.T]
    for a, b in zip(answers, last_of_each, strict=True):
        assert torch.equal(a, b)


def test_deep_supervision_carries_and_replaces_halted_puzzles():
    cfg = dataclasses.replace(TINY, N_sup=2, halt_explore=0.0)
    model = trm.TRM(cfg.model)
    loss_fn = trm.DeepSupervision(cfg)
    get_batch = trm.batches(trm.make_sudoku(40, size=4, givens=8, seed=0), cfg)
    first, second, third = get_batch(0), get_batch(1), get_batch(2)
    loss, metrics = loss_fn(model, first)
    assert loss.requires_grad and 0 <= float(metrics["train_exact"]) <= 1
    assert torch.equal(loss_fn.carry["puzzle"], first[0])
    loss_fn(model, second)  # nothing halted (q < 0, steps 1 < 2): same puzzles
    assert torch.equal(loss_fn.carry["puzzle"], first[0])
    assert bool(loss_fn.carry["halted"].all())  # N_sup = 2 reached
    loss_fn(model, third)  # every slot takes the fresh puzzle
    assert torch.equal(loss_fn.carry["puzzle"], third[0])


def test_batches_are_augmented_valid_and_seeded():
    data = trm.make_sudoku(20, size=6, givens=12, seed=0)
    cfg = dataclasses.replace(TINY, model=dataclasses.replace(TINY_MODEL, size=6))
    p, s = trm.batches(data, cfg)(3)
    p2, _ = trm.batches(data, cfg)(3)
    assert torch.equal(p, p2)
    assert all(trm.is_solution(t, size=6) for t in s)
    assert all(trm.count_solutions(q, size=6) == 1 for q in p)


def test_tiny_model_overfits_a_few_puzzles():
    cfg = dataclasses.replace(
        TINY, n_train=4, n_test=4, steps=200, batch_size=4, lr=3e-3, eval_every=0,
        ema=None, augment=False, model=dataclasses.replace(TINY_MODEL, d_model=32),
    )  # fmt: skip
    result = trm.train_trm(cfg, checkpoint=False, device="cpu")
    history = result["history"]
    assert history.series("loss")[1][-1] < 0.3 * history.series("loss")[1][0]
    train_set, _ = trm.datasets(cfg)
    final = trm.evaluate(result["model"], train_set, N_sup=cfg.N_sup)
    assert final["cell"] > 0.9


def test_no_ema_variant_is_the_raw_weights_of_the_trm_run():
    seed_everything(0)
    with_ema = trm.train_trm(TINY, checkpoint=False, device="cpu")
    without = trm.train_trm(trm.variant(TINY, "no EMA"), checkpoint=False, device="cpu")
    for a, b in zip(
        with_ema["raw_model"].parameters(), without["model"].parameters(), strict=True
    ):
        assert torch.equal(a, b)
    ema_params = list(with_ema["model"].parameters())
    assert not all(
        torch.equal(a, b)
        for a, b in zip(ema_params, without["model"].parameters(), strict=True)
    )
    assert with_ema["metrics"]["raw_exact"] == without["metrics"]["exact"]


def test_resume_equals_an_uninterrupted_run(tmp_path):
    cfg = dataclasses.replace(TINY, checkpoint_seconds=0.0)  # save after every step
    straight = trm.train_trm(cfg, checkpoint=tmp_path / "a.pt", device="cpu")

    class Crash(Exception):
        pass

    def crash_at_first_eval(record):
        if record["step"] == cfg.eval_every and "exact" in record:
            raise Crash

    ck = tmp_path / "b.pt"
    with pytest.raises(Crash):
        trm.train_trm(cfg, checkpoint=ck, device="cpu", callbacks=[crash_at_first_eval])
    saved = load_checkpoint(ck)
    assert saved["step"] == cfg.eval_every - 1  # the crash came before that save
    assert saved["extra"]["carry"]["carry"] is not None and "ema" in saved["extra"]
    torch.manual_seed(123)  # a new session: other global random state
    resumed = trm.train_trm(cfg, checkpoint=ck, device="cpu")

    def numbers(history):
        clocks = ("time",)
        return [{k: v for k, v in r.items() if k not in clocks} for r in history]

    assert numbers(resumed["history"]) == numbers(straight["history"])
    for key in ("model", "raw_model"):  # the EMA weights and the trained weights
        a, b = resumed[key].state_dict(), straight[key].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), key


def test_command_line_writes_metrics_and_weights_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    # the gpu preset's code path, shrunk to run in seconds on a CPU
    tiny = ["--set", "size=4", "d_model=16", "T=2", "n=1", "givens=8", "n_train=40",
            "n_test=20", "batch_size=8", "N_sup=2", "eval_every=4", "steps=6",
            "warmup_steps=1", "eval_batch=10"]  # fmt: skip
    metrics = cli(["train", "--preset", "gpu", "--out", str(out), *tiny])
    info = json.loads((out / "metrics.json").read_text())
    assert (
        info["preset"] == "gpu" and info["config"]["amp"] and info["config"]["compile"]
    )
    assert info["metrics"]["exact"] == metrics["exact"]
    assert {"wall_s", "train_s", "examples_per_s", "device", "params"} <= set(metrics)
    assert [r["step"] for r in info["history"] if "exact" in r] == [0, 4, 6]
    clock = [r["time"] for r in info["history"] if "exact" in r]
    assert clock == sorted(clock) and metrics["train_s"] == clock[-1]
    assert (out / "checkpoint.pt").is_file() and (out / "model.pt").is_file()
    assert "exact-solve" in capsys.readouterr().out
    # run again: the finished checkpoint is resumed, not retrained
    again = cli(["train", "--preset", "gpu", "--out", str(out), *tiny])
    assert again["exact"] == metrics["exact"]
    with pytest.raises(ValueError, match="unknown settings"):
        cli(["train", "--preset", "cpu", "--out", str(out), "--set", "depth=3"])


def test_reference_run_loads_offline_on_cpu(tmp_path):
    assert trm.load_reference(tmp_path / "nothing") is None
    result = trm.train_trm(TINY, checkpoint=False, device="cpu")
    trm.save_run(result, tmp_path / "ref", preset="test")
    info, model = trm.load_reference(tmp_path / "ref")
    assert info["preset"] == "test" and info["metrics"]["exact"] == pytest.approx(
        result["metrics"]["exact"]
    )
    _, test_set = trm.datasets(TINY)
    again = trm.evaluate(model, test_set, N_sup=TINY.N_sup)
    assert again["exact"] == pytest.approx(result["metrics"]["exact"])
    assert again["cell"] == pytest.approx(result["metrics"]["cell"])


def test_no_reference_run_is_committed_as_if_from_a_gpu():
    ref = trm.load_reference()
    if ref is not None:  # a committed reference must say it ran on CUDA
        assert ref[0]["metrics"]["device"].startswith("cuda")


def test_explorer_frames_and_widgets():
    import ipywidgets as w

    torch.manual_seed(0)
    model = trm.TRM(TINY_MODEL)
    puzzle = trm.make_sudoku(1, size=4, givens=6, seed=0).puzzles[0]
    frames = ex.think_frames(model, puzzle, N_sup=2)
    assert len(frames) == 2 * TINY_MODEL.T
    f = frames[0]
    assert f["answer"].shape == (16,) and f["wrong"].dtype == torch.bool
    assert 0 < f["halt"] < 1
    html = ex.grid_html(f, 4)
    assert html.count("<td") == 16 and "supervision step 1" in html
    box = ex.think_explorer(frames, 4)
    slider, stack = box.children[0], box.children[1]
    assert isinstance(stack, w.Stack) and len(stack.children) == len(frames)
    assert slider.max == len(frames) - 1
    index, first = ex.instructive_example(model, TINY, N_sup=2, limit=8)
    assert 0 <= index < 8 and (first is None or 1 <= first <= 2)
    live = ex.live_explorer(model, N_sup=2)
    assert "running chapter" in live.children[0].value
    assert any(isinstance(c, w.Textarea) for c in live.children[1].children)


def test_live_explorer_shows_no_dead_controls_in_the_rendered_book(monkeypatch):
    import ipywidgets as w

    monkeypatch.setenv("COMPGEN_STATIC", "1")
    model = trm.TRM(TINY_MODEL)
    static = ex.live_explorer(model, N_sup=2, colab_url="https://colab.example/x")
    assert isinstance(static, w.HTML), "a static page must not show a dead box"
    assert "running chapter" in static.value and "colab.example/x" in static.value


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="mixer"):
        trm.TRMConfig(mixer="conv")
    with pytest.raises(ValueError, match="size"):
        trm.TRMConfig(size=5)
    with pytest.raises(ValueError, match="ema"):
        dataclasses.replace(TINY, ema=1.5)
    with pytest.raises(ValueError, match="variant"):
        trm.variant(TINY, "bigger")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.gpu
def test_gpu_path_with_bf16_and_compile():
    cfg = dataclasses.replace(TINY, amp=True, compile=True)
    result = trm.train_trm(cfg, checkpoint=False, device="cuda")
    assert result["metrics"]["device"].startswith("cuda")


def test_the_gpu_code_path_compiles_and_runs_in_bf16_at_tiny_size():
    """What the gpu preset turns on, checked on a CPU: the model traces under
    torch.compile (backend without a C compiler) and trains under bf16 autocast."""
    torch.manual_seed(0)
    model = trm.TRM(TINY_MODEL)
    batch = trm.batches(trm.make_sudoku(16, size=4, givens=8, seed=0), TINY)(0)
    with torch.no_grad():
        eager_loss, _ = trm.DeepSupervision(TINY)(model, batch)
    compiled = torch.compile(model, backend="aot_eager")
    loss, _ = trm.DeepSupervision(TINY)(compiled, batch)
    loss.backward()
    assert torch.allclose(loss, eager_loss, atol=1e-5)
    assert all(p.grad is not None for p in model.blocks.parameters())
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        loss_bf16, _ = trm.DeepSupervision(TINY)(model, batch)
    assert loss_bf16.dtype == torch.float32 and torch.isfinite(loss_bf16)
    assert abs(loss_bf16.item() - eager_loss.item()) < 0.1


def _gpu(name, major, minor, gb):
    from types import SimpleNamespace

    return SimpleNamespace(name=name, major=major, minor=minor, total_memory=gb * 1e9)


@pytest.mark.parametrize(
    ("props", "preset"),
    [
        (_gpu("Tesla T4", 7, 5, 15.8), "colab"),  # Colab's free GPU
        (_gpu("Tesla V100-SXM2-16GB", 7, 0, 16.9), "colab"),
        (_gpu("NVIDIA A100-SXM4-40GB", 8, 0, 42.5), "gpu"),
        (_gpu("NVIDIA H100 80GB HBM3", 9, 0, 85.0), "gpu"),
        (_gpu("NVIDIA L4", 8, 9, 23.8), "gpu"),
        (_gpu("NVIDIA GeForce RTX 3060", 8, 6, 12.6), "colab"),  # bf16, little memory
    ],
)
def test_the_gpu_preset_follows_the_device(props, preset):
    chosen, why = trm.choose_preset(props)
    assert chosen == preset and chosen in trm.PRESETS
    assert props.name in why and f'"{preset}"' in why


def test_without_a_gpu_the_cpu_preset_is_chosen(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    chosen, why = trm.choose_preset()
    assert chosen == "cpu" and "no CUDA" in why


def test_a_saved_ablation_loads_evaluated_afresh_only_for_its_settings(tmp_path):
    results = ex.run_ablation(TINY, seed=0, checkpoint=False)
    ex.save_ablation(results, tmp_path / "runs", command="test")
    loaded = ex.load_ablation(TINY, tmp_path / "runs", seed=0)
    assert loaded is not None and set(loaded) == set(results)
    for name, r in results.items():
        m = loaded[name]["metrics"]
        assert m["exact"] == pytest.approx(r["metrics"]["exact"])
        assert m["recorded_exact"] == pytest.approx(r["metrics"]["exact"])
        assert m["params"] == r["metrics"]["params"]
    assert loaded["TRM"]["history"].series("exact")[1][-1] == pytest.approx(
        results["TRM"]["history"].series("exact")[1][-1]
    )
    assert loaded["no EMA"]["history"] is None
    other = dataclasses.replace(TINY, steps=TINY.steps + 1)
    assert ex.load_ablation(other, tmp_path / "runs") is None  # other settings
    assert ex.load_ablation(TINY, tmp_path / "runs", seed=1) is None
    assert ex.load_ablation(TINY, tmp_path / "nothing") is None
    again, was_loaded = ex.ablation(TINY, folder=tmp_path / "runs")
    assert was_loaded and again["TRM"]["metrics"]["exact"] == loaded["TRM"][
        "metrics"
    ]["exact"]


def test_the_committed_book_runs_match_the_chapter_settings():
    from compgen.trm.cli import BOOK_TIER

    cfg = trm.override(trm.PRESETS["cpu"], {**BOOK_TIER, "seed": 0})
    record = json.loads((ex.BOOK_RUNS / "record.json").read_text())
    for name, saved in record["variants"].items():
        assert saved["config"] == dataclasses.asdict(trm.variant(cfg, name, seed=0))
    assert set(record["variants"]) == {*ex.TRAINED, "no EMA"}
    assert (ex.BOOK_RUNS / "weights.pt").stat().st_size < 2_500_000


def test_hard_test_scores_every_variant_on_fewer_givens():
    results = ex.run_ablation(TINY, seed=0, checkpoint=False)
    hard = ex.hard_test(results, TINY, givens=6)
    assert set(hard) == {
        "hard_exact_trm", "hard_exact_no_ema", "hard_exact_1_step_gradient"
    }
    assert all(0.0 <= v <= 1.0 for v in hard.values())
    assert ex.hard_test(results, TINY, givens=6) == hard  # deterministic


def test_seed_ranges_are_the_smallest_and_largest_leads(tmp_path):
    seeds = {
        s: {"exact_trm": 0.9, "exact_no_ema": 0.8 - s / 10,
            "exact_1_step_gradient": 0.85, "hard_exact_trm": 0.8,
            "hard_exact_no_ema": 0.5, "hard_exact_1_step_gradient": 0.7 - s / 10}
        for s in range(3)
    }  # fmt: skip
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"command": "test", "seeds": seeds}))
    r = ex.seed_ranges(ex.seed_record(path))
    assert r["seeds_last"] == 2
    assert r["gap_no_ema_min"] == pytest.approx(0.1)
    assert r["gap_no_ema_max"] == pytest.approx(0.3)
    assert r["hard_gap_1step_min"] == pytest.approx(0.1)
    assert r["hard_gap_1step_max"] == pytest.approx(0.3)


def test_the_committed_seed_record_holds_the_chapter_claims():
    seeds = ex.seed_record()
    assert sorted(seeds) == [0, 1, 2, 3, 4]
    claim = next(c for c in trm.CLAIMS if c.name.startswith("harder_puzzles"))
    assert all(claim.evaluate(v)[0] for v in seeds.values())


def test_scaling_grid_saves_scores_and_retraces(tmp_path):
    from compgen.trm import scaling

    runs = scaling.train_grid(TINY, (16, 24), (0,), out=tmp_path / "sc")
    assert set(runs) == {"w16/s0", "w24/s0"}
    assert runs["w24/s0"]["params"] > runs["w16/s0"]["params"]
    record = scaling.load_grid(tmp_path / "sc")
    assert scaling.matches(record, TINY)
    assert not scaling.matches(record, dataclasses.replace(TINY, steps=13))
    saved = scaling.score_saved(tmp_path / "sc")
    assert saved["key"] == "w24/s0" and saved["exact"] == saved["float16"]
    assert scaling.table(record) == {16: [runs["w16/s0"]["exact"]],
                                     24: [runs["w24/s0"]["exact"]]}  # fmt: skip
    cfg = trm.override(TINY, {"d_model": 16})
    again, loaded, check = scaling.scaling_results(
        cfg, live_steps=12, folder=tmp_path / "sc"
    )
    assert loaded and check["live_key"] == "w24/s0"
    assert check["live_loss"] == pytest.approx(check["recorded_loss"], abs=1e-6)
    s = scaling.summary(again, trm.count_parameters(trm.TRM(cfg.model)))
    assert s["sp_weight_ratio"] > 1 and s["sp_params_large"] == runs["w24/s0"][
        "params"
    ]
    fresh, loaded, check = scaling.scaling_results(
        dataclasses.replace(cfg, steps=4), folder=tmp_path / "sc"
    )
    assert not loaded and check is None and len(fresh["runs"]) == 2


def test_the_committed_scaling_grid_matches_the_chapter_settings():
    from compgen.trm import scaling
    from compgen.trm.cli import BOOK_TIER

    cfg = trm.override(trm.PRESETS["cpu"], {**BOOK_TIER, "seed": 0})
    record = scaling.load_grid()
    assert scaling.matches(record, cfg)
    widths = scaling.table(record)
    assert sorted(widths) == list(scaling.WIDTHS)
    assert all(len(v) >= 3 for v in widths.values())  # seeds 0-2
    ratio = scaling.params_by_width(record)[max(widths)] / 86145
    assert ratio >= 10
    assert (scaling.SCALING_RUNS / "weights.pt").stat().st_size < 2_000_000
