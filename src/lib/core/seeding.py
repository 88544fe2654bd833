"""One call seeds every random number generator a chapter touches."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed Python's `random`, NumPy's global generator and torch (CPU and CUDA).

    With `deterministic=True`, torch also refuses nondeterministic kernels, which
    makes GPU runs repeatable at some cost in speed. Returns the seed, so a
    notebook can write `SEED = seed_everything(SEED)`.

    Data generators in this library never rely on this global state: they take a
    `seed` and build their own generator (see `make_rng`). Seeding globally is for
    what we do not control, such as weight initialisation and dropout.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses we start
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        # cuBLAS needs this to be deterministic on CUDA >= 10.2
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed


def make_rng(seed: int) -> np.random.Generator:
    """A local NumPy generator: what every data generator in the book uses."""
    return np.random.default_rng(seed)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A local torch generator, seeded, for sampling without touching global state."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
