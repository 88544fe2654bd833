"""The sweep's widest students, trained ahead of time and committed small.

Training the chapter's grid is mostly its widest widths: one batched model of
18 students per width, 256 hidden units each the widest. Those groups (seed 0,
book parameters) were trained by

    python -m compgen.coverage train --widths 64 256 --seed 0

which writes each width's weights to `trained/w<width>_s0.pt` (about a byte
per weight: each weight's change from its seeded initial value in 8 bits) and
their training record (the loss every 10 steps, every student's scores) to
`trained/record.json`. `train_sweep(..., committed=True)` loads the weights of
a width whose task, students, seed and config match a recorded run and scores
them afresh; any other width (another SEED, other students) trains live.
`retrace` retrains a recorded group live for its first steps and compares the
loss with the record's; `score_diff` compares the fresh scores with it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..core.device import get_device, torch_threads
from ..core.training import compare_losses, train
from .sweep import BatchedMLP, Student, SweepConfig, _group_run, _loss, train_sweep
from .task import ModularTask, make_teacher

TRAINED = Path(__file__).parent / "trained"
RECORD = TRAINED / "record.json"  # read_record() reads this
COMMITTED_WIDTHS = (64, 256)  # the widths whose seed-0 group is committed
SCORES = ("id_r2", "ood_r2", "probe_r2")  # what the record keeps of each student


def command(widths: Sequence[int], seed: int) -> str:
    """The command that trains and commits these widths."""
    return (
        f"python -m compgen.coverage train --widths {' '.join(map(str, widths))} "
        f"--seed {seed}"
    )


def run_key(
    task: ModularTask, students: Sequence[Student], *, seed: int, config: SweepConfig
) -> dict:
    """What a committed run must match: task, students (in order), seed, config.

    Plain JSON data, so that a key read back from the record compares equal.
    """
    widths = {s.width for s in students}
    if len(widths) != 1:
        raise ValueError(f"a committed run is one width, got widths {sorted(widths)}")
    key = {
        "task": dataclasses.asdict(task),
        "students": [dataclasses.asdict(s) for s in students],
        "seed": seed,
        "config": dataclasses.asdict(config),
    }
    return json.loads(json.dumps(key))


def run_name(width: int, seed: int) -> str:
    return f"w{width}/s{seed}"


def weights_path(width: int, seed: int, folder: Path | None = None) -> Path:
    return (TRAINED if folder is None else folder) / f"w{width}_s{seed}.pt"


def read_record(path: Path | None = None) -> dict:
    """The training record: run name -> entry ({} when there is none)."""
    path = RECORD if path is None else path
    return json.loads(path.read_text()) if path.is_file() else {}


def find_run(
    task: ModularTask,
    students: Sequence[Student],
    *,
    seed: int,
    config: SweepConfig,
    record: dict | None = None,
) -> dict | None:
    """The recorded entry whose key matches these students exactly, or None."""
    record = read_record() if record is None else record
    if len({s.width for s in students}) != 1:
        return None
    entry = record.get(run_name(students[0].width, seed))
    key = run_key(task, students, seed=seed, config=config)
    return entry if entry is not None and entry["key"] == key else None


def load_committed(
    task: ModularTask,
    students: Sequence[Student],
    *,
    seed: int,
    config: SweepConfig,
    folder: Path | None = None,
) -> dict[str, torch.Tensor] | None:
    """The committed weights (a BatchedMLP state dict) of this group, or None
    when no recorded run matches it or its weights are not in `folder`
    (default: the committed `trained/`)."""
    folder = TRAINED if folder is None else folder
    record = read_record(folder / "record.json")
    entry = find_run(task, students, seed=seed, config=config, record=record)
    if entry is None:
        return None
    path = folder / entry["weights"]
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    init = _initial_state(task, students, seed=seed, config=config)
    return decode(saved, init)


def _initial_state(
    task: ModularTask, students: Sequence[Student], *, seed: int, config: SweepConfig
) -> dict[str, torch.Tensor]:
    """The group's weights before training (BatchedMLP draws them from `seed`)."""
    n_in = task.n_modules + task.dim_x
    width = students[0].width
    model = BatchedMLP(
        len(students), n_in, width, task.dim_y, depth=config.depth, seed=seed
    )
    return {k: v.detach() for k, v in model.state_dict().items()}


def encode(
    state: dict[str, torch.Tensor], init: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """A BatchedMLP state, small: each weight matrix as its change from the
    initial weights in 8 bits (int8 codes, one float scale per member and
    output unit), the biases in half precision. About a byte per weight."""
    out = {}
    for name, value in state.items():
        value = value.detach().float()
        if name.startswith("weights."):
            delta = value - init[name]
            scale = delta.abs().amax(dim=-2, keepdim=True).clamp_min(1e-30) / 127
            out[f"{name}.codes"] = torch.round(delta / scale).to(torch.int8)
            out[f"{name}.scale"] = scale
        else:
            out[name] = value.half()
    return out


def decode(
    saved: dict[str, torch.Tensor], init: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The float32 state `encode` stored (to within its 8 bits)."""
    out = {}
    for name, start in init.items():
        if name.startswith("weights."):
            codes, scale = saved[f"{name}.codes"], saved[f"{name}.scale"]
            out[name] = start + codes.float() * scale.float()
        else:
            out[name] = saved[name].float()
    return out


def train_committed(
    widths: Sequence[int] = COMMITTED_WIDTHS,
    *,
    seed: int = 0,
    folder: Path | None = None,
    task: ModularTask | None = None,
    students: Sequence[Student] | None = None,
    config: SweepConfig = SweepConfig(),
    threads: int = 1,
) -> dict:
    """Train the chapter's grid at `widths` live, write each width's weights
    (`encode`: about a byte per weight) and its record entry (the loss every log
    step, every student's scores). Defaults: the chapter's task and students at
    book parameters."""
    from . import sweep_students

    folder = TRAINED if folder is None else folder
    task = ModularTask() if task is None else task
    students = sweep_students(task) if students is None else students
    folder.mkdir(parents=True, exist_ok=True)
    record = read_record(folder / "record.json")
    for width in widths:
        group = [s for s in students if s.width == width]
        if not group:
            raise ValueError(f"no student of width {width}")
        start = time.perf_counter()
        results = train_sweep(
            task, group, seed=seed, config=config, checkpoint=False, threads=threads
        )
        seconds = time.perf_counter() - start
        model = results[0]["model"]
        init = _initial_state(task, group, seed=seed, config=config)
        path = weights_path(width, seed, folder)
        torch.save(encode(model.state_dict(), init), path)
        history = results[0]["history"]
        record[run_name(width, seed)] = {
            "command": command(widths, seed),
            "key": run_key(task, group, seed=seed, config=config),
            "weights": path.name,
            "dtype": "int8 change from the initial weights, float16 biases",
            "loss": [[r["step"], r["loss"]] for r in history if "loss" in r],
            "scores": [{k: r[k] for k in SCORES} for r in results],
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
        }
        (folder / "record.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def retrace(
    task: ModularTask,
    students: Sequence[Student],
    *,
    seed: int,
    config: SweepConfig,
    stop_at: int = 100,
    record: dict | None = None,
    threads: int | None = 1,
    device: torch.device | str | None = None,
) -> dict:
    """Retrain a recorded group (one width) live for its first `stop_at` steps
    (the learning rate depends on the step only, so they are the recorded run's
    first steps) and compare its training loss with the record's."""
    total = config.train.steps
    if not isinstance(stop_at, int) or not 1 <= stop_at <= total:
        raise ValueError(f"stop_at must be an int in [1, {total}], got {stop_at!r}")
    entry = find_run(task, students, seed=seed, config=config, record=record)
    if entry is None:
        raise ValueError(
            f"no recorded run matches these {len(students)} students at seed {seed}"
        )
    device = get_device(device) if not isinstance(device, torch.device) else device
    short = dataclasses.replace(config.train, steps=stop_at)
    teacher = make_teacher(task, seed=seed)
    with torch_threads(threads or torch.get_num_threads()):
        _, model, get_batch = _group_run(task, teacher, students, seed, config)
        history = train(
            model, get_batch, loss_fn=_loss, config=short, device=device,
            desc=f"retrace width {students[0].width}",
        )  # fmt: skip
    compared = compare_losses(history, entry["loss"], up_to=stop_at)
    return {"width": students[0].width, "steps": stop_at, **compared}


def score_diff(
    task: ModularTask,
    results: Sequence[dict],
    *,
    seed: int,
    config: SweepConfig,
    record: dict | None = None,
) -> float:
    """Largest gap between a committed student's fresh scores (id, OOD and probe
    R²) and those its live training recorded; nan when none was committed."""
    record = read_record() if record is None else record
    diffs = []
    for width in sorted({r["width"] for r in results if r["trained"] == "committed"}):
        rows = [r for r in results if r["width"] == width]
        students = [
            Student(r["coverage"], width, r["n_tasks"], r["support"]) for r in rows
        ]
        entry = find_run(task, students, seed=seed, config=config, record=record)
        for r, saved in zip(rows, entry["scores"], strict=True):
            diffs += [
                abs(r["id_r2"] - saved["id_r2"]),
                abs(r["ood_r2"] - saved["ood_r2"]),
            ]
            diffs += [
                abs(a - b)
                for a, b in zip(r["probe_r2"], saved["probe_r2"], strict=True)
            ]
    return max(diffs, default=math.nan)


def provenance(
    task: ModularTask,
    results: Sequence[dict],
    *,
    seed: int,
    config: SweepConfig,
    retrace_steps: int = 100,
    threads: int | None = 1,
) -> dict:
    """What of a `train_sweep(..., committed=True)` run was trained ahead of
    time, checked: the committed groups' fresh scores against their record, and
    every committed group retrained live for `retrace_steps` steps.

    Returns glue-ready values and "provenance", a sentence saying which students
    trained where (every student live when no committed run matched).
    """
    ahead = [r for r in results if r["trained"] == "committed"]
    widths = sorted({r["width"] for r in ahead})
    out = {
        "committed_students": len(ahead),
        "live_students": len(results) - len(ahead),
        "committed_widths": " and ".join(
            filter(None, [", ".join(map(str, widths[:-1])), *map(str, widths[-1:])])
        )
        or "none",
    }
    if not ahead:
        out.update(retrace_steps=0, retrace_compared=0, retrace_diff=0.0)
        out["committed_score_diff"] = 0.0
        out["provenance"] = (
            f"all {len(results)} students were trained live on this page (no run "
            "trained ahead of time matches these parameters)"
        )
        return out
    steps = min(retrace_steps, config.train.steps)
    diffs, compared = [], 0
    for width in widths:  # each committed width retrains its first steps live
        group = [
            Student(r["coverage"], r["width"], r["n_tasks"], r["support"])
            for r in results
            if r["width"] == width
        ]
        live = retrace(
            task, group, seed=seed, config=config, stop_at=steps, threads=threads
        )
        diffs.append(live["diff"] if live["n_compared"] else 0.0)
        compared = live["n_compared"]
    out["retrace_steps"] = steps
    out["retrace_compared"] = compared
    out["retrace_diff"] = max(diffs)
    out["committed_score_diff"] = score_diff(task, results, seed=seed, config=config)
    many = "s" if len(widths) > 1 else ""
    diff = out["retrace_diff"]
    matches = "exactly" if diff == 0 else f"within {diff:.1e}"
    out["provenance"] = (
        f"the {len(ahead)} students of width{many} {out['committed_widths']} are "
        "loaded from that commit and scored afresh, within "
        f"{out['committed_score_diff']:.0e} of the R² their training recorded; "
        f"retrained live for their first {steps} steps, they log the recorded "
        f"training loss {matches} at each of the {compared} logged steps. The "
        f"other {out['live_students']} students trained live on this page"
    )
    return out
