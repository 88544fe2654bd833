"""The shared core: seeding, devices, training loop, checkpoints, notebook helpers."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

import compgen
from compgen import (
    History,
    TrainConfig,
    batches_from_tensors,
    checkpoint_path,
    get_device,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    train,
)
from compgen.core import device as device_mod

# ---------------------------------------------------------------- seeding


def draw_all() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_seed_everything_makes_every_generator_repeat():
    seed_everything(123)
    first = draw_all()
    seed_everything(123)
    assert draw_all() == first
    seed_everything(124)
    assert draw_all() != first


def test_seed_everything_repeats_weight_init():
    seed_everything(5)
    a = nn.Linear(4, 3).weight.detach().clone()
    seed_everything(5)
    assert torch.equal(a, nn.Linear(4, 3).weight)


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises((ValueError, TypeError), match="seed"):
        seed_everything(bad)


def test_local_generators_ignore_global_state():
    a = compgen.make_rng(7).normal(size=3)
    np.random.seed(0)
    np.random.rand(10)
    assert np.array_equal(a, compgen.make_rng(7).normal(size=3))
    g1, g2 = compgen.make_generator(3), compgen.make_generator(3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


# ---------------------------------------------------------------- devices


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COMPGEN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: True)
    assert get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device().type == "mps"
    monkeypatch.setattr(device_mod, "_mps_available", lambda: False)
    assert get_device().type == "cpu"


def test_device_env_override_and_errors(monkeypatch):
    monkeypatch.setenv("COMPGEN_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA was asked for"):
        get_device("cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        get_device("tpu")
    assert get_device(torch.device("cpu")).type == "cpu"


# ---------------------------------------------------------------- training


def regression_problem(seed=0, n=64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    return x, x @ w + 0.3


def mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def fit_linear(config, *, checkpoint=None, seed=0, global_seed=None):
    seed_everything(seed if global_seed is None else global_seed)
    model = nn.Linear(3, 1)
    x, y = regression_problem()
    history = train(
        model,
        batches_from_tensors(x, y, batch_size=16, seed=seed),
        loss_fn=mse,
        config=config,
        evaluate=lambda m: {"full_mse": float(mse(m, (x, y)))},
        checkpoint=checkpoint,
        device="cpu",
    )
    return model, history


def test_training_fits_a_linear_map():
    model, history = fit_linear(TrainConfig(steps=300, lr=0.05, log_every=10))
    steps, losses = history.series("loss")
    assert steps[-1] == 300 and len(steps) == 30
    assert losses[-1] < 1e-3 < losses[0]
    assert history.last("full_mse") < 1e-3
    assert torch.allclose(model.weight, torch.tensor([[1.0, -2.0, 0.5]]), atol=0.02)


def test_training_is_deterministic():
    config = TrainConfig(steps=40, lr=0.01)
    _, h1 = fit_linear(config)
    _, h2 = fit_linear(config)
    assert h1.series("loss")[1].tolist() == h2.series("loss")[1].tolist()


def test_eval_every_and_metrics_from_loss_fn():
    seed_everything(0)
    model = nn.Linear(3, 1)
    x, y = regression_problem()

    def loss_with_metric(m, batch):
        loss = mse(m, batch)
        return loss, {"double": 2 * loss.item()}

    history = train(
        model,
        batches_from_tensors(x, y, batch_size=8, seed=1),
        loss_fn=loss_with_metric,
        config=TrainConfig(steps=20, log_every=5, eval_every=10),
        evaluate=lambda m: {"acc": 1.0},
        device="cpu",
    )
    assert history.series("acc")[0].tolist() == [0, 10, 20]
    steps, double = history.series("double")
    assert steps.tolist() == [5, 10, 15, 20] and np.all(double > 0)
    with pytest.raises(KeyError, match="recorded keys"):
        history.series("nope")


def test_warmup_ramps_the_learning_rate():
    _, history = fit_linear(TrainConfig(steps=10, lr=0.1, warmup_steps=5, log_every=1))
    lrs = history.series("lr")[1]
    assert np.allclose(lrs[:5], [0.02, 0.04, 0.06, 0.08, 0.1]) and lrs[-1] == 0.1


@pytest.mark.parametrize(
    "field, value",
    [
        ("steps", 0),
        ("log_every", -1),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("eval_every", -2),
    ],
)
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_batches_depend_only_on_seed_and_step():
    x = torch.arange(100.0)
    a = batches_from_tensors(x, batch_size=10, seed=3)
    b = batches_from_tensors(x, batch_size=10, seed=3)
    assert torch.equal(a(7)[0], b(7)[0]) and not torch.equal(a(7)[0], a(8)[0])
    with pytest.raises(ValueError, match="differ in length"):
        batches_from_tensors(x, x[:5], batch_size=2, seed=0)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    seed_everything(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    path = save_checkpoint(
        tmp_path / "a" / "ck.pt",
        model=model,
        optimizer=opt,
        step=7,
        history=[{"step": 7, "loss": 0.5}],
        config={"lr": 1e-3},
    )
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh_opt = torch.optim.Adam(fresh.parameters())
    state = load_checkpoint(path, model=fresh, optimizer=fresh_opt)
    assert state["step"] == 7 and state["history"] == [{"step": 7, "loss": 0.5}]
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p, q)
    assert torch.equal(
        opt.state_dict()["state"][0]["exp_avg"],
        fresh_opt.state_dict()["state"][0]["exp_avg"],
    )
    assert not list(tmp_path.glob("a/*.tmp")), "the temporary file was left behind"
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "stop, saved_at",
    # Ctrl-C saves on the way out; a crash leaves the step-25 checkpoint, taken
    # in the middle of a logging window (records at 7, 14, 21, 28)
    [(KeyboardInterrupt, 28), (RuntimeError, 25)],
)
def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path, stop, saved_at):
    config = TrainConfig(
        steps=60, lr=0.02, log_every=7, eval_every=20, checkpoint_every=25
    )
    straight_model, straight = fit_linear(config)

    # stop after step 28 ...
    class Stop(stop):
        pass

    def stop_at_28(record):
        if record["step"] == 28:
            raise Stop

    ck = tmp_path / "run.pt"
    seed_everything(0)
    model = nn.Linear(3, 1)
    x, y = regression_problem()
    with pytest.raises(Stop):
        train(
            model,
            batches_from_tensors(x, y, batch_size=16, seed=0),
            loss_fn=mse,
            config=config,
            evaluate=lambda m: {"full_mse": float(mse(m, (x, y)))},
            checkpoint=ck,
            callbacks=[stop_at_28],
            device="cpu",
        )
    assert load_checkpoint(ck)["step"] == saved_at

    # ... and resume as a new session would: other global RNG state, other init
    resumed_model, resumed = fit_linear(config, checkpoint=ck, global_seed=999)
    for key in ("loss", "full_mse"):
        assert resumed.series(key)[1].tolist() == straight.series(key)[1].tolist(), key
    assert torch.equal(resumed_model.weight, straight_model.weight)

    # a finished run returns at once with the same history
    _, again = fit_linear(config, checkpoint=ck)
    assert again == resumed


class RunningMean:
    """Stateful helper for the test below: an average of the weights, kept by hook."""

    def __init__(self, model):
        self.model, self.mean, self.calls = model, torch.zeros(3), []

    def __call__(self, done):
        self.calls.append(done)
        self.mean = 0.9 * self.mean + 0.1 * self.model.weight.detach()[0]

    def state_dict(self):
        return {"mean": self.mean.clone(), "calls": list(self.calls)}

    def load_state_dict(self, state):
        self.mean, self.calls = state["mean"].clone(), list(state["calls"])


def fit_with_state(config, *, checkpoint=None, callbacks=(), global_seed=0):
    seed_everything(global_seed)
    model = nn.Linear(3, 1)
    if global_seed != 0:  # a resumed session starts from other weights
        nn.init.normal_(model.weight)
    mean = RunningMean(model)
    x, y = regression_problem()
    history = train(
        model,
        batches_from_tensors(x, y, batch_size=16, seed=0),
        loss_fn=mse,
        config=config,
        checkpoint=checkpoint,
        callbacks=callbacks,
        device="cpu",
        after_step=[mean],
        state={"mean": mean},
    )
    return model, mean, history


def test_after_step_hooks_and_extra_state_resume_exactly(tmp_path):
    config = TrainConfig(steps=30, lr=0.02, log_every=5, checkpoint_every=10)
    _, straight, h_straight = fit_with_state(config)
    assert straight.calls == list(range(1, 31))  # once per optimizer step

    def stop_at_15(record):
        if record["step"] == 15:
            raise RuntimeError("crash")

    ck = tmp_path / "run.pt"
    with pytest.raises(RuntimeError):
        fit_with_state(config, checkpoint=ck, callbacks=[stop_at_15])
    assert load_checkpoint(ck)["extra"]["mean"]["calls"][-1] == 10
    _, resumed, h_resumed = fit_with_state(config, checkpoint=ck, global_seed=7)
    assert resumed.calls == straight.calls
    assert torch.equal(resumed.mean, straight.mean)
    assert h_resumed.series("loss")[1].tolist() == h_straight.series("loss")[1].tolist()


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    ck = tmp_path / "run.pt"
    fit_linear(TrainConfig(steps=5), checkpoint=ck)
    with pytest.raises(ValueError, match="different config"):
        fit_linear(TrainConfig(steps=6), checkpoint=ck)


def test_checkpoint_path_depends_on_config(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPGEN_CHECKPOINTS", str(tmp_path))
    a = checkpoint_path("run", TrainConfig(steps=5))
    assert a.parent == tmp_path and a.name.startswith("run-")
    assert a == checkpoint_path("run", TrainConfig(steps=5))
    assert a != checkpoint_path("run", replace(TrainConfig(), steps=6))
    with pytest.raises(ValueError, match="plain file name"):
        checkpoint_path("../escape")


# ---------------------------------------------------------------- notebook helpers


def test_history_is_a_list_of_records():
    h = History(
        [{"step": 1, "loss": 2.0}, {"step": 2, "acc": 0.5}, {"step": 3, "loss": 1.0}]
    )
    steps, loss = h.series("loss")
    assert steps.tolist() == [1, 3] and loss.tolist() == [2.0, 1.0]
    assert h.last("acc") == 0.5


def test_glue_records_what_read_glued_reads(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append((a, k)))
    compgen.glue("acc", np.float64(0.25))
    compgen.glue("table", {"a": [1, 2]})
    cells = [
        {
            "cell_type": "code",
            "outputs": [
                {
                    "output_type": "display_data",
                    "data": args[0],
                    "metadata": kw["metadata"],
                }
                for args, kw in shown
            ],
        }
    ]
    assert compgen.read_glued({"cells": cells}) == {"acc": 0.25, "table": {"a": [1, 2]}}
    with pytest.raises(ValueError, match="non-finite"):
        compgen.glue("bad", float("nan"))
    with pytest.raises(ValueError, match="identifier"):
        compgen.glue("not a name", 1)


def test_show_source_shows_library_code():
    code = compgen.show_source(compgen.seed_everything)
    assert "def seed_everything" in code.data
    with pytest.raises(TypeError, match="cannot show"):
        compgen.show_source(3)


def test_book_style_applies():
    import matplotlib.pyplot as plt

    compgen.use_book_style()
    assert plt.rcParams["axes.spines.top"] is False


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with compgen.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="positive int"):
        with compgen.torch_threads(0):
            pass


def test_frame_explorer_links_a_control_to_its_pictures_in_the_browser():
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from compgen import EXPLORER_CLASS, frame_explorer

    figs = []
    for k in range(3):
        fig, ax = plt.subplots()
        ax.plot([0, k])
        figs.append(fig)
    box = frame_explorer(figs, ["a", "b", "c"], description="pick", control="toggle")
    assert EXPLORER_CLASS in box._dom_classes
    chooser, stack = box.children
    assert isinstance(stack, w.Stack) and len(stack.children) == 3
    assert all(bytes(img.value)[:4] == b"\x89PNG" for img in stack.children)
    # the link lives in the widget state, so it works without a kernel
    state = w.Widget.get_manager_state()["state"]
    links = [
        s["state"]
        for s in state.values()
        if s["model_name"] == "LinkModel"
        and s["state"]["source"] == [f"IPY_MODEL_{chooser.model_id}", "index"]
    ]
    assert links[0]["target"] == [f"IPY_MODEL_{stack.model_id}", "selected_index"]
    slider = frame_explorer([b"\x89PNG1", b"\x89PNG2"], ["x", "y"])
    assert isinstance(slider.children[0], w.SelectionSlider)


def test_switcher_without_stack_swaps_the_view_from_python(monkeypatch):
    """Under ipywidgets 7 (no Stack) the kernel swaps the shown picture."""
    import ipywidgets as w

    from compgen.core import explorer

    monkeypatch.setattr(explorer, "has_stack", lambda: False)
    box = explorer.frame_explorer([b"\x89PNG1", b"\x89PNG2", b"\x89PNG3"], "abc")
    chooser, view = box.children
    assert not isinstance(view, getattr(w, "Stack", ()))
    assert bytes(view.children[0].value) == b"\x89PNG1"
    chooser.value = "c"
    assert bytes(view.children[0].value) == b"\x89PNG3"
    chooser.index = 1
    assert bytes(view.children[0].value) == b"\x89PNG2"
    slider = w.IntSlider(value=0, min=0, max=1)
    pages = [w.HTML("p0"), w.HTML("p1")]
    by_value = explorer.switcher(pages, slider, "value")
    slider.value = 1
    assert by_value.children == (pages[1],)
    with pytest.raises(ValueError, match="selected must be in"):
        explorer.switcher(pages, slider, selected=2)
    with pytest.raises(ValueError, match="at least one page"):
        explorer.switcher([], slider)


def test_set_titles_names_tabs_in_either_ipywidgets():
    import ipywidgets as w

    from compgen import set_titles

    tabs = set_titles(w.Tab([w.HTML("a"), w.HTML("b")]), ["first", "second"])
    assert [tabs.get_title(k) for k in range(2)] == ["first", "second"]


@pytest.mark.parametrize(
    "frames, labels, kwargs, message",
    [
        ([b"1", b"2"], ["a"], {}, "one label per frame"),
        ([b"1"], ["a"], {}, "at least two frames"),
        ([b"1", b"2"], ["a", "a"], {}, "distinct"),
        ([b"1", b"2"], ["a", "b"], {"control": "knob"}, "control must be one of"),
    ],
)
def test_frame_explorer_rejects_bad_input_clearly(frames, labels, kwargs, message):
    from compgen import frame_explorer

    with pytest.raises(ValueError, match=message):
        frame_explorer(frames, labels, **kwargs)


def test_record_time_counts_training_only_and_goes_on_after_a_resume(tmp_path):
    import time as clock

    data = batches_from_tensors(
        torch.randn(16, 2), torch.randn(16, 1), batch_size=4, seed=0
    )

    def slow_loss(m, b):
        clock.sleep(0.05)  # each step takes a known time
        return torch.nn.functional.mse_loss(m(b[0]), b[1])

    def slow_evaluate(m):
        clock.sleep(0.5)
        return {"score": 1.0}

    def run(path=None, callbacks=()):
        return train(
            torch.nn.Linear(2, 1),
            data,
            loss_fn=slow_loss,
            config=TrainConfig(steps=6, log_every=1, eval_every=3),
            evaluate=slow_evaluate,
            checkpoint=path,
            callbacks=callbacks,
            device="cpu",
        )

    times = [r["time"] for r in run()]
    assert times == sorted(times)
    assert times[-1] < 0.5, "evaluation time was counted as training time"

    def stop_at_step_4(record):
        if record["step"] == 4:
            raise KeyboardInterrupt

    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        run(path, [stop_at_step_4])
    resumed = [r["time"] for r in run(path)]
    assert resumed == sorted(resumed), "the clock restarted at zero on the resume"


def test_compare_losses_of_histories_and_pairs_by_hand():
    from compgen.core import compare_losses

    live = [{"step": 10, "loss": 1.0}, {"step": 20, "loss": 0.5}, {"step": 20, "x": 1}]
    record = [[10, 1.25], [15, 9.0], [20, 0.5], [30, 0.1]]
    got = compare_losses(live, record)
    assert got["n_compared"] == 2 and got["diff"] == 0.25
    assert got["live"] == [(10, 1.0), (20, 0.5)] and got["record"][-1] == (30, 0.1)
    assert compare_losses(live, record, up_to=20)["record"][-1] == (20, 0.5)
    only_20 = compare_losses(live, record, every=20)
    assert only_20["n_compared"] == 1 and only_20["diff"] == 0.0
    none = compare_losses(live, [[40, 0.0]])
    assert none["n_compared"] == 0 and none["diff"] != none["diff"]  # nan
