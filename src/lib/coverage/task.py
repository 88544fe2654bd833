"""The modular teacher: a family of tasks built by combining a few modules.

There are M modules. A task switches on between 1 and K of them, each with a
strength, and the vector of strengths is the task latent z (zero for modules
that are off). The task's function is one ReLU layer whose weights are the
z-weighted sum of the active modules, followed by a readout all tasks share:

    f_z(x) = Ω · ReLU( Σ_m (z_m / √K) (Θ_m x + b_m) ),   x ~ U[-1, 1]^d

A *combination* is which modules are on (the support of z). The chapter holds
some combinations out of training and asks whether a student that saw the
others can predict the held-out ones. Which combinations are trained, the
*support*, is the experiment's control knob:

- "compositional": a random subset in which every module appears and the
  module co-occurrence graph is connected (the paper's default);
- "disconnected": the modules form two groups that never appear together;
- "non_compositional": the last module never appears in training at all.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..core.seeding import make_generator, make_rng

SUPPORTS = ("compositional", "disconnected", "non_compositional")
STRENGTHS = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])  # values an active z_m takes


@dataclass(frozen=True)
class ModularTask:
    n_modules: int = 8  # M
    max_active: int = 3  # K: a task combines 1..K modules
    dim_x: int = 16  # input size d
    dim_hidden: int = 16  # teacher's hidden layer
    dim_y: int = 16  # output size
    samples_per_task: int = 16  # (x, y) examples drawn for each training task

    def __post_init__(self):
        for name in ("dim_x", "dim_hidden", "dim_y", "samples_per_task"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_modules < 3:
            raise ValueError(f"n_modules must be >= 3, got {self.n_modules}")
        if not 2 <= self.max_active <= self.n_modules:
            raise ValueError(
                f"max_active must be in [2, n_modules={self.n_modules}], "
                f"got {self.max_active}"
            )


def all_combinations(task: ModularTask, sizes: range | None = None) -> np.ndarray:
    """Every set of 1..K modules as a 0/1 matrix, shape (n_combinations, M).

    Ordered by size, then lexicographically; `sizes` picks other set sizes.
    """
    sizes = range(1, task.max_active + 1) if sizes is None else sizes
    rows = [
        np.isin(np.arange(task.n_modules), c)
        for k in sizes
        for c in itertools.combinations(range(task.n_modules), k)
    ]
    return np.array(rows, dtype=np.float32).reshape(-1, task.n_modules)


@dataclass(frozen=True)
class Teacher:
    modules: torch.Tensor  # Θ, (M, hidden, d)
    biases: torch.Tensor  # b, (M, hidden)
    readout: torch.Tensor  # Ω, (dim_y, hidden)
    max_active: int  # K, for the 1/√K scale

    def __call__(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """f_z(x) for latents z (..., M) and inputs x (..., d): shape (..., dim_y)."""
        n_mod, hidden, _ = self.modules.shape
        per_module = x @ self.modules.reshape(n_mod * hidden, -1).T  # (..., M*hidden)
        per_module = per_module.unflatten(-1, (n_mod, hidden)) + self.biases
        mixed = (z.unsqueeze(-1) * per_module).sum(-2) / math.sqrt(self.max_active)
        return torch.relu(mixed) @ self.readout.T


def make_teacher(task: ModularTask, *, seed: int) -> Teacher:
    """Random modules and readout (truncated normal, variance √3 / fan-in)."""
    g = make_generator(seed)

    def weights(*shape: int) -> torch.Tensor:
        std = math.sqrt(math.sqrt(3.0) / shape[-1])
        w = torch.empty(shape)
        return torch.nn.init.trunc_normal_(w, 0, std, -2 * std, 2 * std, generator=g)

    m, h = task.n_modules, task.dim_hidden
    return Teacher(
        modules=weights(m, h, task.dim_x),
        biases=torch.rand(m, h, generator=g) * 0.5,
        readout=weights(task.dim_y, h),
        max_active=task.max_active,
    )


def sample_latents(
    combos: np.ndarray, n: int, *, seed: int
) -> tuple[torch.Tensor, np.ndarray]:
    """n task latents z (n, M): a row of `combos`, then a strength per module.

    Returns z and which row of `combos` each task uses, shape (n,). Draws are
    nested: the first n of a larger draw with the same seed are the same tasks,
    so a bigger training set contains the smaller ones.
    """
    if len(combos) == 0 or n < 1:
        raise ValueError(f"need combinations and n >= 1, got {len(combos)} and {n}")
    which = make_rng([seed, 0]).integers(0, len(combos), size=n)
    level = make_rng([seed, 1]).integers(0, len(STRENGTHS), size=(n, combos.shape[1]))
    z = torch.tensor(combos[which] * STRENGTHS[level], dtype=torch.float32)
    return z, which


def module_graph_components(combos: np.ndarray) -> list[set[int]]:
    """Groups of modules linked by appearing together (only modules that appear)."""
    parent = list(range(combos.shape[1]))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in combos:
        on = np.flatnonzero(row)
        for a in on[1:]:
            parent[root(a)] = root(on[0])
    seen = np.flatnonzero(combos.sum(0) > 0)
    groups: dict[int, set[int]] = {}
    for m in seen:
        groups.setdefault(root(m), set()).add(int(m))
    return sorted(groups.values(), key=min)


def _allowed(combos: np.ndarray, support: str, n_train: int) -> tuple[np.ndarray, list]:
    """The combinations a support may train on, and the module groups it must have."""
    n_mod = combos.shape[1]
    if support == "compositional":
        return np.arange(len(combos)), [set(range(n_mod))]
    if support == "non_compositional":  # the last module is never trained
        return np.flatnonzero(combos[:, -1] == 0), [set(range(n_mod - 1))]
    # disconnected: modules [0, s) and [s, M) never meet; the most even split
    # that still leaves n_train combinations to train on
    for s in range(n_mod // 2, 0, -1):
        inside = (combos[:, :s].sum(1) == 0) | (combos[:, s:].sum(1) == 0)
        if inside.sum() >= n_train:
            return np.flatnonzero(inside), [set(range(s)), set(range(s, n_mod))]
    return np.flatnonzero(inside), [set(range(1)), set(range(1, n_mod))]


def split_combinations(
    task: ModularTask,
    coverage: float,
    *,
    support: str = "compositional",
    seed: int,
    max_tries: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Split the combinations into trained and held-out, as index arrays.

    `coverage` is the fraction of all combinations trained on. Resamples until
    the trained set has the support's structure: the module groups it names are
    each connected and every module in them is trained (and no other module).
    """
    if support not in SUPPORTS:
        raise ValueError(f"support must be one of {SUPPORTS}, got {support!r}")
    if not (isinstance(coverage, (int, float)) and 0 < coverage < 1):
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    combos = all_combinations(task)
    n_train = min(max(1, round(coverage * len(combos))), len(combos) - 1)
    allowed, groups = _allowed(combos, support, n_train)
    if n_train > len(allowed):
        raise ValueError(
            f"a {support} support holds at most {len(allowed)} of {len(combos)} "
            f"combinations (coverage {len(allowed) / len(combos):.3f}), "
            f"got coverage {coverage}"
        )
    rng = make_rng(seed)
    for _ in range(max_tries):
        train = np.sort(rng.choice(allowed, size=n_train, replace=False))
        if module_graph_components(combos[train]) == groups:
            return train, np.setdiff1d(np.arange(len(combos)), train)
    raise ValueError(
        f"found no {support} split at coverage {coverage} in {max_tries} tries: "
        "too few combinations to link every module; raise the coverage"
    )


def support_counts(task: ModularTask, train: np.ndarray) -> np.ndarray:
    """How often modules i and j are trained together, shape (M, M).

    The diagonal counts the trained combinations that contain module i.
    """
    trained = all_combinations(task)[train]
    return (trained.T @ trained).astype(int)


def pair_coverage(
    task: ModularTask, train: np.ndarray, combos: np.ndarray
) -> np.ndarray:
    """For each row of `combos` (n, M), the fraction of its module pairs that some
    trained combination (indices `train`) contains. A single module counts 1 if
    trained, else 0. Shape (n,).
    """
    together = support_counts(task, train) > 0
    out = []
    for row in np.asarray(combos):
        on = np.flatnonzero(row)
        pairs = list(itertools.combinations(on, 2)) or [(on[0], on[0])]
        out.append(np.mean([together[a, b] for a, b in pairs]))
    return np.array(out)
