"""Broad pretraining: a family of many related tasks over the same inputs.

Lepori et al. pretrained on something broad (ImageNet, language modelling), not
on one task next to the target. The miniature of that here is a fixed family of
boolean functions of the compound task's own inputs, each over a random subset
of the bits:

    majority   more than half of the subset's bits are ones (odd subsets),
    threshold  at least t of the subset's bits are ones,
    parity     an odd number of the subset's bits are ones.

A network pretrained on the family has one output per task (a multi-label
head); fine-tuning on the compound rule replaces that head by a fresh one and
keeps the hidden layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from ..core.seeding import make_rng

KINDS = ("majority", "threshold", "parity")


@dataclass(frozen=True)
class TaskFamily:
    n_inputs: int = 14  # the compound task's inputs (two fields of 7 bits)
    n_tasks: int = 48
    seed: int = 0  # which family: fixed across the networks' seeds
    # True: every subset lies inside one of the two fields (first or second
    # half of the bits), so no task mixes the fields the way A XOR B does
    within_fields: bool = False

    def __post_init__(self):
        if self.n_inputs < 3:
            raise ValueError(f"n_inputs must be >= 3, got {self.n_inputs}")
        if self.n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1, got {self.n_tasks}")
        if self.within_fields and (self.n_inputs % 2 or self.n_inputs < 6):
            raise ValueError(
                f"within_fields needs an even n_inputs >= 6, got {self.n_inputs}"
            )

    @cached_property
    def tasks(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(kind, subset of bit positions, threshold) per task, kinds in turn."""
        rng = make_rng(self.seed)
        pool = self.n_inputs // 2 if self.within_fields else self.n_inputs
        out = []
        for k in range(self.n_tasks):
            kind = KINDS[k % len(KINDS)]
            if kind == "majority":
                size = int(rng.choice([s for s in (3, 5, 7) if s <= pool]))
                t = size // 2 + 1
            elif kind == "threshold":
                size = int(rng.integers(3, min(8, pool) + 1))
                t = int(rng.integers(1, size))  # 1 .. size - 1
            else:
                size = int(rng.integers(2, 4))
                t = 0  # unused
            chosen = rng.choice(pool, size=size, replace=False)
            if self.within_fields:
                chosen = chosen + pool * int(rng.integers(0, 2))  # which field
            subset = tuple(sorted(int(i) for i in chosen))
            out.append((kind, subset, t))
        return out

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., n_inputs) in {-1, +1} -> labels (..., n_tasks) in {0., 1.}."""
        if x.shape[-1] != self.n_inputs:
            raise ValueError(
                f"x must have {self.n_inputs} inputs in its last dim, got {x.shape}"
            )
        member, t, parity = self._tensors
        ones = (x > 0).float() @ member  # (..., n_tasks): ones in each subset
        return torch.where(parity, ones % 2, (ones >= t).float())

    @cached_property
    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Membership (n_inputs, n_tasks), thresholds and parity flags (n_tasks,)."""
        member = torch.zeros(self.n_inputs, self.n_tasks)
        for j, (_, subset, _) in enumerate(self.tasks):
            member[list(subset), j] = 1.0
        t = torch.tensor([t for _, _, t in self.tasks], dtype=torch.float32)
        parity = torch.tensor([kind == "parity" for kind, _, _ in self.tasks])
        return member, t, parity
