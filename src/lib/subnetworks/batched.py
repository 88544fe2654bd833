"""Many seeds at once: S independent networks as one stacked model.

Member i of a `StackedMLP` is exactly the `MaskedMLP` that `train_network` would
build and train with seed i: the same initial weights, the same batches, the
same optimiser (Adam is elementwise, and the loss is the sum of the members'
losses, so each member's gradient is its own). One forward pass with batched
matrix products (`torch.baddbmm`) replaces S small ones; on one CPU thread that
is what makes ten seeds per condition fit the chapter's budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core.seeding import seed_everything
from ..core.training import TrainConfig, train
from .family import TaskFamily
from .masks import (
    RULES,
    SUBROUTINES,
    MajorityTask,
    MaskConfig,
    MaskedMLP,
    _transferable,
    hard_mask,
    rule_loss,
    rule_target,
    sample,
    soft_mask,
)


class StackedMLP(nn.Module):
    """S MaskedMLPs of one shape: weights (S, out, in), biases (S, out)."""

    def __init__(self, nets: Sequence[MaskedMLP]):
        super().__init__()
        if not nets:
            raise ValueError("a StackedMLP needs at least one network")
        shapes = {tuple(n.weight_shapes()) for n in nets}
        if len(shapes) != 1:
            raise ValueError(f"the networks differ in shape: {sorted(shapes)}")
        depth = len(nets[0].layers)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([n.layers[i].weight.detach() for n in nets]))
            for i in range(depth)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([n.layers[i].bias.detach() for n in nets]))
            for i in range(depth)
        )

    @property
    def n_members(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None):
        """x (S, n, in), or (n, in) shared by all; masks (S, out, in) per layer.
        Returns logits (S, n, n_out)."""
        if x.dim() == 2:
            x = x.expand(self.n_members, *x.shape)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            w = w if masks is None else w * masks[i]
            x = torch.baddbmm(b[:, None, :], x, w.transpose(1, 2))  # (S, n, out)
            if i < len(self.weights) - 1:
                x = torch.relu(x)
        return x

    def weight_shapes(self) -> list[torch.Size]:
        """The shapes of one member's weight matrices."""
        return [w.shape[1:] for w in self.weights]

    def member(self, i: int) -> MaskedMLP:
        """Member i as a stand-alone MaskedMLP (a copy)."""
        shapes = self.weight_shapes()
        net = MaskedMLP(
            shapes[0][1], width=shapes[0][0], depth=len(shapes) - 1, n_out=shapes[-1][0]
        )
        with torch.no_grad():
            for layer, w, b in zip(net.layers, self.weights, self.biases, strict=True):
                layer.weight.copy_(w[i])
                layer.bias.copy_(b[i])
        return net


def train_stack(
    task: MajorityTask,
    *,
    seeds: Sequence[int],
    steps: int = 1500,
    width: int = 64,
    rule: str = "xor",
    init: StackedMLP | None = None,
    family: TaskFamily | None = None,
) -> StackedMLP:
    """`train_network` for every seed at once; member i has seed `seeds[i]`."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if rule == "family" and family is None:
        raise ValueError("rule 'family' needs a TaskFamily: pass family=...")
    if len(seeds) < 1 or (init is not None and init.n_members != len(seeds)):
        raise ValueError("seeds must be non-empty, one per member of init")
    n_out = family.n_tasks if rule == "family" else 2
    nets = []
    for i, seed in enumerate(seeds):
        seed_everything(seed)
        net = MaskedMLP(task.n_inputs, width=width, n_out=n_out)
        if init is not None:
            net.load_state_dict(_transferable(init.member(i), net))
        nets.append(net)
    stack = StackedMLP(nets)
    if steps == 0:
        return stack

    def get_batch(step: int):
        xs, targets = [], []
        for seed in seeds:
            x, a, b, y = sample(task, 256, seed=seed * 100_003 + step)
            xs.append(x)
            targets.append(rule_target(rule, task, x, a, b, y, family))
        return torch.stack(xs), torch.stack(targets)

    def loss_fn(m, batch):
        x, target = batch  # (S, 256, in), (S, 256, ...)
        return rule_loss(rule, m(x), target) * len(seeds)  # sum of members' means

    train(
        stack,
        get_batch,
        device="cpu",
        desc=f"train {rule} x{len(seeds)}",
        loss_fn=loss_fn,
        config=TrainConfig(steps=steps, lr=3e-3, log_every=100),
    )
    return stack


def find_stack_subnetworks(
    stack: StackedMLP,
    task: MajorityTask,
    *,
    seeds: Sequence[int],
    config: MaskConfig = MaskConfig(),
) -> dict[str, list[torch.Tensor]]:
    """`find_subnetwork` for both subroutines of every member at once.

    Returns {"A": masks, "B": masks}, each a list of hard masks (S, out, in)
    per layer; member i's mask equals find_subnetwork(member i, ..., seed=seeds[i]).
    """
    if len(seeds) != stack.n_members:
        raise ValueError(f"need one seed per member ({stack.n_members}), got {seeds}")
    s = len(seeds)
    frozen = [w.detach().repeat(2, 1, 1) for w in stack.weights]  # (2S, out, in)
    biases = [b.detach().repeat(2, 1) for b in stack.biases]
    logits = nn.ParameterList(
        nn.Parameter(torch.full((2 * s, *shape), config.init))
        for shape in stack.weight_shapes()
    )
    jobs = [(sub, seed) for sub in SUBROUTINES for seed in seeds]  # member order

    def get_batch(step: int):
        xs, ys = [], []
        for sub, seed in jobs:
            other = "B" if sub == "A" else "A"
            x, _, _, y = sample(
                task, config.batch_size, seed=seed * 100_003 + step, fix=other
            )
            xs.append(x)
            ys.append(y)
        return torch.stack(xs), torch.stack(ys), torch.tensor(config.temperature(step))

    def loss_fn(m: nn.ParameterList, batch):
        x, y, temp = batch
        masks = soft_mask(list(m), float(temp))
        for i, (w, b) in enumerate(zip(frozen, biases, strict=True)):
            x = torch.baddbmm(b[:, None, :], x, (w * masks[i]).transpose(1, 2))
            if i < len(frozen) - 1:
                x = torch.relu(x)
        task_loss = nn.functional.cross_entropy(x.reshape(-1, 2), y.reshape(-1))
        kept = sum(mask.sum() for mask in masks)  # summed over members
        return task_loss * len(jobs) + config.l0_weight * kept

    train(
        logits,
        get_batch,
        loss_fn=loss_fn,
        device="cpu",
        desc=f"masks x{len(jobs)}",
        config=TrainConfig(steps=config.steps, lr=config.lr, log_every=100),
    )
    hard = hard_mask([p.detach() for p in logits])
    return {
        sub: [h[j * s : (j + 1) * s] for h in hard] for j, sub in enumerate(SUBROUTINES)
    }


@torch.no_grad()
def stack_results(
    stack: StackedMLP, task: MajorityTask, masks: dict[str, list[torch.Tensor]]
) -> list[dict]:
    """Per member: the ablation matrix of `masks.ablation_matrix` plus the row
    "ablate both", and each subnetwork's kept fraction and the two masks'
    overlap (intersection over union)."""
    both = [
        torch.clamp(a + b, max=1) for a, b in zip(masks["A"], masks["B"], strict=True)
    ]
    rows = {"full": None, "ablate both": [1 - m for m in both]}
    for name, m in masks.items():
        rows[f"only {name}"] = m
        rows[f"ablate {name}"] = [1 - x for x in m]
    acc = {}
    for sub in SUBROUTINES:
        other = "B" if sub == "A" else "A"
        x, _, _, y = sample(task, 4000, seed=12345, fix=other)  # as subroutine_accuracy
        for row, m in rows.items():
            acc[(row, sub)] = (stack(x, m).argmax(-1) == y).float().mean(1)  # (S,)

    def per_member(ms, dims=(1, 2)):
        return sum(m.sum(dims) for m in ms)

    total = sum(shape.numel() for shape in stack.weight_shapes())
    inter = per_member([a * b for a, b in zip(masks["A"], masks["B"], strict=True)])
    union = per_member(both)
    out = []
    for i in range(stack.n_members):
        matrix = {k: float(v[i]) for k, v in acc.items()}
        out.append(
            {
                "matrix": matrix,
                "kept": {s: float(per_member(m)[i]) / total for s, m in masks.items()},
                "overlap": float(inter[i] / union[i]) if union[i] else 0.0,
            }
        )
    return out
