"""Modular subnetworks found by pruning (structural compositionality).

A network learns a compound rule that needs two subroutines:

    A(x) = majority of the first field of bits,  B(x) = majority of the second,
    y(x) = A(x) XOR B(x).

Each subroutine can be tested alone: with the second field fixed to a minority
(B = 0), y = A; with A = 0, y = B. A binary mask over the trained weights is then
learned by *continuous sparsification*: mask = sigmoid(temperature * s), a penalty
on the mask's sum (an L0 surrogate), and a temperature that grows until the mask
is effectively binary; at test time the mask is hard, s > 0. A mask that keeps
subroutine A, and one that keeps B, are the two subnetworks. Zeroing one
(ablation) should break its own subroutine and spare the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.seeding import make_rng, seed_everything
from ..core.training import TrainConfig, train
from .family import TaskFamily

SUBROUTINES = ("A", "B")
RULES = ("xor", "and", "counts", "family")


@dataclass(frozen=True)
class MajorityTask:
    n_bits: int = 7  # bits per field; odd, so a majority always exists

    def __post_init__(self):
        if self.n_bits < 1 or self.n_bits % 2 == 0:
            raise ValueError(f"n_bits must be a positive odd number, got {self.n_bits}")

    @property
    def n_inputs(self) -> int:
        return 2 * self.n_bits


def sample(task: MajorityTask, n: int, *, seed: int, fix: str | None = None):
    """n examples: x (n, 2 * n_bits) in {-1, +1}, and the labels a, b, y = a ^ b.

    `fix="A"` holds A at 0 (its field has a minority of ones), so y = B: the data
    that tests subroutine B alone; `fix="B"` tests A alone. Flipping every bit of
    an odd-sized field flips its majority, so the fixed field stays uniform over
    the bit patterns with that majority.
    """
    if fix not in (None, *SUBROUTINES):
        raise ValueError(f"fix must be None, 'A' or 'B', got {fix!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = make_rng(seed)
    k = task.n_bits
    bits = rng.integers(0, 2, size=(n, 2 * k))
    for name, cols in (("A", slice(0, k)), ("B", slice(k, 2 * k))):
        if fix == name:
            high = bits[:, cols].sum(1) > k / 2
            bits[high, cols] = 1 - bits[high, cols]
    a = (bits[:, :k].sum(1) > k / 2).astype(np.int64)
    b = (bits[:, k:].sum(1) > k / 2).astype(np.int64)
    x = torch.tensor(2 * bits - 1, dtype=torch.float32)
    return x, torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(a ^ b)


class MaskedMLP(nn.Module):
    """A ReLU MLP whose weight matrices can be multiplied by masks in `forward`."""

    def __init__(self, n_in: int, *, width: int = 64, depth: int = 2, n_out: int = 2):
        super().__init__()
        sizes = [n_in] + [width] * depth + [n_out]
        self.layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:], strict=True)
        )

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None):
        for i, layer in enumerate(self.layers):
            weight = layer.weight if masks is None else layer.weight * masks[i]
            x = nn.functional.linear(x, weight, layer.bias)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x  # (n, n_out) logits

    def weight_shapes(self) -> list[torch.Size]:
        return [layer.weight.shape for layer in self.layers]


# ------------------------------------------------------- continuous sparsification


def soft_mask(logits: list[torch.Tensor], temperature: float) -> list[torch.Tensor]:
    """sigmoid(temperature * s), elementwise: the mask used while learning it."""
    return [torch.sigmoid(temperature * s) for s in logits]


def hard_mask(logits: list[torch.Tensor]) -> list[torch.Tensor]:
    """The binary mask used at test time: 1 where s > 0."""
    return [(s > 0).float() for s in logits]


def l0_penalty(logits: list[torch.Tensor], temperature: float) -> torch.Tensor:
    """The sum of the soft mask: a differentiable count of the weights kept."""
    return sum(m.sum() for m in soft_mask(logits, temperature))


@dataclass(frozen=True)
class MaskConfig:
    steps: int = 1500
    batch_size: int = 256
    lr: float = 0.05
    l0_weight: float = 1e-4  # penalty per kept weight
    max_temperature: float = 200.0  # grows geometrically from 1 to this
    init: float = 0.5  # initial logit: every weight starts (softly) kept

    def temperature(self, step: int) -> float:
        return float(self.max_temperature ** (step / max(1, self.steps - 1)))


class _MaskLearner(nn.Module):
    """Mask logits over a frozen network: the only trainable parameters."""

    def __init__(self, net: MaskedMLP, init: float):
        super().__init__()
        self.net = net
        self.logits = nn.ParameterList(
            nn.Parameter(torch.full(shape, init)) for shape in net.weight_shapes()
        )


def find_subnetwork(
    net: MaskedMLP,
    task: MajorityTask,
    subroutine: str,
    *,
    seed: int,
    config: MaskConfig = MaskConfig(),
) -> list[torch.Tensor]:
    """Learn a hard mask over `net`'s weights that keeps `subroutine` ("A" or "B").

    The mask is trained on data where only that subroutine decides the label
    (the other one held at 0). `net` itself is not changed.
    """
    if subroutine not in SUBROUTINES:
        raise ValueError(f"subroutine must be 'A' or 'B', got {subroutine!r}")
    other = "B" if subroutine == "A" else "A"
    for p in net.parameters():
        p.requires_grad_(False)
    learner = _MaskLearner(net, config.init)

    def get_batch(step: int):
        x, _, _, y = sample(
            task, config.batch_size, seed=seed * 100_003 + step, fix=other
        )
        return x, y, torch.tensor(config.temperature(step))

    def loss_fn(m: _MaskLearner, batch):
        x, y, temp = batch
        logits = m.net(x, soft_mask(list(m.logits), float(temp)))
        task_loss = nn.functional.cross_entropy(logits, y)
        return task_loss + config.l0_weight * l0_penalty(list(m.logits), float(temp))

    train(
        learner,
        get_batch,
        loss_fn=loss_fn,
        device="cpu",
        desc=f"mask {subroutine}",
        config=TrainConfig(steps=config.steps, lr=config.lr, log_every=100),
    )
    return hard_mask([s.detach() for s in learner.logits])


# ---------------------------------------------------------------- training and tests


def train_network(
    task: MajorityTask,
    *,
    seed: int,
    steps: int = 1500,
    width: int = 64,
    rule: str = "xor",
    init: MaskedMLP | None = None,
    family: TaskFamily | None = None,
) -> MaskedMLP:
    """Train a MaskedMLP on a rule: "xor" (A ^ B, the compound task), "and"
    (A & B), "counts" (regress the mean of each field, a related task), or
    "family" (every task of a `TaskFamily` at once, one output each: broad
    pretraining).

    With `init`, training continues from that network (pretraining); a head of
    another shape (the family's outputs) is not copied: the new network keeps
    its own fresh head. With steps=0 the network stays at its random
    initialisation (the control).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if rule == "family" and family is None:
        raise ValueError("rule 'family' needs a TaskFamily: pass family=...")
    seed_everything(seed)
    n_out = family.n_tasks if rule == "family" else 2
    net = MaskedMLP(task.n_inputs, width=width, n_out=n_out)
    if init is not None:
        net.load_state_dict(_transferable(init, net))
    if steps == 0:
        return net

    def get_batch(step: int):
        x, a, b, y = sample(task, 256, seed=seed * 100_003 + step)
        return x, rule_target(rule, task, x, a, b, y, family)

    def loss_fn(m, batch):
        x, target = batch
        return rule_loss(rule, m(x), target)

    train(
        net,
        get_batch,
        device="cpu",
        desc=f"train {rule}",
        loss_fn=loss_fn,
        config=TrainConfig(steps=steps, lr=3e-3, log_every=100),
    )
    return net


def _transferable(init: nn.Module, net: nn.Module) -> dict:
    """`net`'s state with every tensor of `init` whose shape fits copied in."""
    state = net.state_dict()
    if init.state_dict().keys() != state.keys():
        raise ValueError("init must be a network of the same depth")
    for k, v in init.state_dict().items():
        if v.shape == state[k].shape:
            state[k] = v.clone()
        elif not k.startswith(f"layers.{len(net.layers) - 1}."):
            raise ValueError(
                f"init's {k} has shape {tuple(v.shape)}, "
                f"the network's {tuple(state[k].shape)}"
            )
    return state


def rule_target(rule, task, x, a, b, y, family=None) -> torch.Tensor:
    """What a network trained on `rule` must output for the batch x."""
    if rule == "xor":
        return y
    if rule == "and":
        return a & b
    if rule == "counts":
        return _field_counts(x, task)
    return family.labels(x)


def rule_loss(rule: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean loss of outputs (..., n_out) against `rule_target`'s targets."""
    if rule == "counts":
        return nn.functional.mse_loss(out, target)
    if rule == "family":
        return nn.functional.binary_cross_entropy_with_logits(out, target)
    return nn.functional.cross_entropy(
        out.reshape(-1, out.shape[-1]), target.reshape(-1)
    )


def _field_counts(x: torch.Tensor, task: MajorityTask) -> torch.Tensor:
    """The mean of each field's bits, (n, 2): a related target for pretraining."""
    k = task.n_bits
    return torch.stack([x[:, :k].mean(1), x[:, k:].mean(1)], dim=1)


@torch.no_grad()
def subroutine_accuracy(
    net: MaskedMLP,
    task: MajorityTask,
    subroutine: str,
    *,
    masks=None,
    n: int = 4000,
    seed: int = 12345,
) -> float:
    """Accuracy on the data that tests `subroutine` alone (chance is 0.5)."""
    other = "B" if subroutine == "A" else "A"
    x, _, _, y = sample(task, n, seed=seed, fix=other)
    return float((net(x, masks).argmax(1) == y).float().mean())


def complement(masks: list[torch.Tensor]) -> list[torch.Tensor]:
    """The network with the subnetwork removed (zero ablation)."""
    return [1 - m for m in masks]


def kept_fraction(masks: list[torch.Tensor]) -> float:
    return float(sum(m.sum() for m in masks) / sum(m.numel() for m in masks))


def overlap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Intersection over union of two masks."""
    inter = sum(float((x * y).sum()) for x, y in zip(a, b, strict=True))
    union = sum(float(((x + y) > 0).sum()) for x, y in zip(a, b, strict=True))
    return inter / union if union else 0.0


def ablation_matrix(net: MaskedMLP, task: MajorityTask, masks: dict) -> dict:
    """Accuracy on each subroutine for: the full net, each subnetwork alone, and the
    net with each subnetwork ablated. Keys like ("ablate A", "B")."""
    rows = {"full": None}
    for name, m in masks.items():
        rows[f"only {name}"] = m
        rows[f"ablate {name}"] = complement(m)
    return {
        (row, sub): subroutine_accuracy(net, task, sub, masks=m)
        for row, m in rows.items()
        for sub in SUBROUTINES
    }


def selectivity(matrix: dict) -> float:
    """How much more ablating a subnetwork hurts its own subroutine than the other,
    averaged over A and B (in accuracy points; 0 means not selective)."""
    total = 0.0
    for own, other in (("A", "B"), ("B", "A")):
        drop_own = matrix[("full", own)] - matrix[(f"ablate {own}", own)]
        drop_other = matrix[("full", other)] - matrix[(f"ablate {own}", other)]
        total += drop_own - drop_other
    return total / 2
