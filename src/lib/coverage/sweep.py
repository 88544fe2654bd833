"""MLP students on (z, x), a whole grid of them trained as one batched model.

A grid point (a `Student`) is a training support (coverage and structure), a
width and a number of training tasks. Students of one width share a shape, so
their weights are stacked along a leading "member" axis and every layer is one
`torch.baddbmm`: G small networks cost one pass of a G-times-wider one. The loss
is the sum of the members' own losses, so each member's gradient, and its AdamW
update, is exactly what it would be if it trained alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.checkpoint import checkpoint_path
from ..core.device import get_device, torch_threads
from ..core.seeding import make_generator, make_rng
from ..core.training import TrainConfig, train
from .task import (
    STRENGTHS,
    SUPPORTS,
    ModularTask,
    Teacher,
    all_combinations,
    make_teacher,
    pair_coverage,
    sample_latents,
    split_combinations,
)


@dataclass(frozen=True)
class Student:
    coverage: float  # fraction of module combinations in the training support
    width: int  # hidden units per layer
    n_tasks: int  # distinct training tasks (each with samples_per_task examples)
    support: str = "compositional"

    def __post_init__(self):
        if self.support not in SUPPORTS:
            raise ValueError(f"support must be one of {SUPPORTS}, got {self.support!r}")
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage}")
        if self.width < 1 or self.n_tasks < 1:
            raise ValueError(
                f"width and n_tasks must be >= 1, got {self.width}, {self.n_tasks}"
            )


@dataclass(frozen=True)
class SweepConfig:
    train: TrainConfig = TrainConfig(steps=2000, lr=3e-3, warmup_steps=100)
    batch_size: int = 128  # examples per member per step
    depth: int = 2  # hidden layers
    eval_repeats: int = 4  # evaluation tasks per combination
    probe_samples: int = 4  # examples per evaluation task the probe reads
    probe_l2: float = 1.0  # ridge penalty of the probe (the paper's value)

    def __post_init__(self):
        if self.batch_size < 1 or self.depth < 1 or self.eval_repeats < 1:
            raise ValueError("batch_size, depth and eval_repeats must be >= 1")
        if self.probe_l2 <= 0:
            raise ValueError(f"probe_l2 must be > 0, got {self.probe_l2}")


class BatchedMLP(nn.Module):
    """`n_members` ReLU MLPs of one shape; weights (G, fan_in, fan_out) per layer.

    Every member starts from the same weights, those `nn.Linear` layers seeded
    with `seed` would draw, so members differ only in the data they see.
    """

    def __init__(
        self,
        n_members: int,
        n_in: int,
        width: int,
        n_out: int,
        *,
        depth: int,
        seed: int,
    ):
        super().__init__()
        g, dims = make_generator(seed), [n_in] + [width] * depth + [n_out]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True):
            bound = 1 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            w = (torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound
            b = (torch.rand(1, fan_out, generator=g) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w.repeat(n_members, 1, 1)))
            self.biases.append(nn.Parameter(b.repeat(n_members, 1, 1)))

    def forward(
        self, x: torch.Tensor, *, member: int | None = None, hidden: bool = False
    ):
        """x (G, B, n_in) -> (G, B, n_out); with `member`, x (1, B, n_in) for one.

        With `hidden=True`, also returns each hidden layer's ReLU output.
        """
        pick = slice(None) if member is None else slice(member, member + 1)
        layers, n = [], len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b[pick], x, w[pick])  # (G, B, fan_out)
            if i < n - 1:
                x = torch.relu(x)
                layers.append(x)
        return (x, layers) if hidden else x


@dataclass
class Tasks:
    """Tasks with their examples: z (n, M), x (n, S, d), y (n, S, dim_y)."""

    z: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    combo: np.ndarray  # index of each task's combination, (n,)

    @property
    def inputs(self) -> torch.Tensor:  # (n, S, M + d): what the student reads
        return torch.cat([self.z[:, None].expand(-1, self.x.shape[1], -1), self.x], -1)


def make_tasks(
    task: ModularTask, teacher: Teacher, combo_idx: np.ndarray, n: int, *, seed: int
) -> Tasks:
    """n tasks drawn from the combinations `combo_idx`, with their examples."""
    z, which = sample_latents(all_combinations(task)[combo_idx], n, seed=seed)
    shape = (n, task.samples_per_task, task.dim_x)
    x = torch.tensor(
        make_rng([seed, 2]).uniform(-1, 1, size=shape), dtype=torch.float32
    )
    return Tasks(z, x, teacher(z[:, None], x), combo_idx[which])


def every_combination(
    task: ModularTask, teacher: Teacher, combos: np.ndarray, repeats: int, *, seed: int
) -> Tasks:
    """`repeats` tasks for each row of `combos` (n_combos, M): evaluation sets."""
    rng = make_rng(seed)
    level = rng.integers(
        0, len(STRENGTHS), size=(len(combos) * repeats, combos.shape[1])
    )
    z = np.repeat(combos, repeats, 0) * STRENGTHS[level]
    z = torch.tensor(z, dtype=torch.float32)
    shape = (len(z), task.samples_per_task, task.dim_x)
    x = torch.tensor(rng.uniform(-1, 1, size=shape), dtype=torch.float32)
    combo = np.repeat(np.arange(len(combos)), repeats)
    return Tasks(z, x, teacher(z[:, None], x), combo)


def task_r2(pred: torch.Tensor, y: torch.Tensor, combo: np.ndarray | None = None):
    """R² against predicting each task's own mean output (the paper's baseline).

    pred, y: (n_tasks, S, dim_y). With `combo` (n_tasks,), also one R² per
    distinct combination, in sorted order of `combo`.
    """
    sse = ((pred - y) ** 2).sum((1, 2)).double()
    sst = ((y - y.mean(1, keepdim=True)) ** 2).sum((1, 2)).double()
    total = float(1 - sse.sum() / sst.sum())
    if combo is None:
        return total
    keys, inv = np.unique(combo, return_inverse=True)
    inv = torch.as_tensor(inv)
    per = 1 - torch.zeros(len(keys)).double().index_add(0, inv, sse) / torch.zeros(
        len(keys)
    ).double().index_add(0, inv, sst)
    return total, per.numpy()


def ridge_probe_r2(
    h_fit: np.ndarray,
    z_fit: np.ndarray,
    h_eval: np.ndarray,
    z_eval: np.ndarray,
    l2: float,
) -> float:
    """Fit z ≈ h β + c by ridge regression on (h_fit, z_fit); R² on the eval set.

    h: (n, width) activations, z: (n, M) latents. Solved in float64 with numpy
    (batched torch.linalg.solve fails on some CPU builds).
    """
    h_fit, h_eval = np.asarray(h_fit, float), np.asarray(h_eval, float)
    z_fit, z_eval = np.asarray(z_fit, float), np.asarray(z_eval, float)
    mu_h, mu_z = h_fit.mean(0), z_fit.mean(0)
    a = h_fit - mu_h
    beta = np.linalg.solve(a.T @ a + l2 * np.eye(a.shape[1]), a.T @ (z_fit - mu_z))
    pred = (h_eval - mu_h) @ beta + mu_z
    sst = ((z_eval - z_eval.mean(0)) ** 2).sum()
    return float(1 - ((pred - z_eval) ** 2).sum() / sst)


def _batches(data: Sequence[Tasks], batch_size: int, seed: int):
    """get_batch(step) -> (inputs (G, B, M + d), targets (G, B, dim_y)).

    Depends only on (seed, step) and each member's own tasks, so a member draws
    the same examples whether it trains alone or in a grid.
    """
    n = torch.tensor([len(d.z) for d in data])
    rows = torch.arange(len(data))[:, None]

    def pad(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t, t.new_zeros(int(n.max()) - len(t), *t.shape[1:])])

    z = torch.stack([pad(d.z) for d in data])  # (G, N, M)
    x = torch.stack([pad(d.x) for d in data])  # (G, N, S, d)
    y = torch.stack([pad(d.y) for d in data])  # (G, N, S, dim_y)

    def get_batch(step: int):
        g = make_generator(seed * 1_000_003 + step)
        pick = (torch.rand(batch_size, generator=g) * n[:, None]).long()
        pick = torch.minimum(pick, n[:, None] - 1)  # (G, B) task of each example
        s = torch.randint(0, x.shape[2], (batch_size,), generator=g)  # which sample
        return torch.cat([z[rows, pick], x[rows, pick, s]], -1), y[rows, pick, s]

    return get_batch


def _loss(model: nn.Module, batch) -> torch.Tensor:
    inputs, targets = batch
    return ((model(inputs) - targets) ** 2).mean((1, 2)).sum()  # sum of member MSEs


@torch.no_grad()
def _evaluate(model, member, tasks: Tasks, device) -> tuple[torch.Tensor, list]:
    x = tasks.inputs.flatten(0, 1)[None].to(device)  # (1, n * S, M + d)
    out, hidden = model(x, member=member, hidden=True)
    return out[0].cpu().unflatten(0, tasks.x.shape[:2]), [h[0].cpu() for h in hidden]


def train_sweep(
    task: ModularTask,
    students: Sequence[Student],
    *,
    seed: int,
    config: SweepConfig = SweepConfig(),
    batched: bool = True,
    checkpoint: bool = True,
    device: torch.device | str | None = None,
    threads: int | None = 1,
    committed: bool = False,
) -> list[dict]:
    """Train every student and measure it; one result dict per student, in order.

    Students of one width train together as one `BatchedMLP` (or one by one with
    `batched=False`). Each result holds the student's fields, "id_r2" (new tasks
    on trained combinations), "ood_r2" (held-out combinations), "probe_r2" (one
    per hidden layer: a ridge probe of z fit on trained combinations, scored on
    held-out ones), "combo_r2" and "pair_coverage" (per held-out combination),
    and "model"/"member" to evaluate the student further. `threads`: CPU threads
    for torch meanwhile (these small models gain little from a second thread and
    lose much on a busy machine); None keeps the current setting.

    With `committed=True`, a width whose students, task, seed and config match a
    run trained ahead of time (`compgen.coverage.committed`) loads its weights
    instead of training; it is scored afresh all the same. "trained" says which
    ("live" or "committed"), "history" holds a live group's training record.
    """
    with torch_threads(threads or torch.get_num_threads()):
        return _train_sweep(
            task, students, seed, config, batched, checkpoint, device, committed
        )


def _groups(students: Sequence[Student], batched: bool) -> dict[tuple, list[int]]:
    """Indices of the students that train together, by width (in first order)."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(students):
        groups.setdefault((s.width,) if batched else (s.width, i), []).append(i)
    return groups


def _group_run(
    task: ModularTask, teacher: Teacher, members: Sequence[Student], seed: int, config
):
    """The splits, the training tasks, the untrained model and get_batch of one
    group of students of one width."""
    splits = [
        split_combinations(task, s.coverage, support=s.support, seed=seed)
        for s in members
    ]
    data = [
        make_tasks(task, teacher, tr, s.n_tasks, seed=seed + 1)
        for s, (tr, _) in zip(members, splits, strict=True)
    ]
    n_in = task.n_modules + task.dim_x
    model = BatchedMLP(
        len(members), n_in, members[0].width, task.dim_y, depth=config.depth, seed=seed
    )
    return splits, model, _batches(data, config.batch_size, seed)


def _train_sweep(
    task: ModularTask,
    students: Sequence[Student],
    seed: int,
    config: SweepConfig,
    batched: bool,
    checkpoint: bool,
    device: torch.device | str | None,
    committed: bool = False,
) -> list[dict]:
    device = get_device(device) if not isinstance(device, torch.device) else device
    teacher, combos = make_teacher(task, seed=seed), all_combinations(task)
    results: list[dict] = [{} for _ in students]
    s_probe = config.probe_samples
    for key, members in _groups(students, batched).items():
        group = [students[i] for i in members]
        splits, model, get_batch = _group_run(task, teacher, group, seed, config)
        saved = None
        if committed and batched:
            from .committed import load_committed

            saved = load_committed(task, group, seed=seed, config=config)
        if saved is not None:
            model.load_state_dict(saved)
            model.to(device)
            history, trained = None, "committed"
        else:
            run = {"task": task, "students": group, "seed": seed, "config": config}
            history = train(
                model,
                get_batch,
                loss_fn=_loss,
                config=config.train,
                device=device,
                desc=f"width {key[0]} ({len(members)} students)",
                checkpoint=checkpoint_path("coverage", run) if checkpoint else None,
            )
            trained = "live"
        model.eval()
        for g, (i, (tr, held)) in enumerate(zip(members, splits, strict=True)):
            fit = every_combination(
                task, teacher, combos[tr], config.eval_repeats, seed=seed + 2
            )
            ood = every_combination(
                task, teacher, combos[held], config.eval_repeats, seed=seed + 3
            )
            pred_fit, h_fit = _evaluate(model, g, fit, device)
            pred_ood, h_ood = _evaluate(model, g, ood, device)
            ood_r2, combo_r2 = task_r2(pred_ood, ood.y, ood.combo)

            def rows(h, t):  # the probe reads the first s_probe examples of a task
                h = h.unflatten(0, t.x.shape[:2])[:, :s_probe]
                return h.flatten(0, 1).numpy(), np.repeat(t.z.numpy(), s_probe, 0)

            probe = [
                ridge_probe_r2(*rows(a, fit), *rows(b, ood), l2=config.probe_l2)
                for a, b in zip(h_fit, h_ood, strict=True)
            ]
            results[i] = {
                **students[i].__dict__,
                "n_train_combinations": len(tr),
                "id_r2": task_r2(pred_fit, fit.y),
                "ood_r2": ood_r2,
                "probe_r2": probe,
                "combo_r2": combo_r2,
                "pair_coverage": pair_coverage(task, tr, combos[held]),
                "train": tr,
                "held": held,
                "model": model,
                "member": g,
                "trained": trained,
                "history": history,
            }
    return results


def r2_on(
    task: ModularTask, result: dict, combos: np.ndarray, *, seed: int, repeats: int = 4
) -> float:
    """R² of a trained student (a `train_sweep` result) on tasks of `combos` (n, M)."""
    model = result["model"]
    device = next(model.parameters()).device
    tasks = every_combination(
        task, make_teacher(task, seed=seed), combos, repeats, seed=seed + 4
    )
    return task_r2(_evaluate(model, result["member"], tasks, device)[0], tasks.y)


def pick(results: Sequence[dict], **where) -> dict:
    """The one result whose fields match `where` (e.g. width=64, support=...)."""
    found = [r for r in results if all(r.get(k) == v for k, v in where.items())]
    if len(found) != 1:
        raise KeyError(f"{len(found)} results match {where}")
    return found[0]
