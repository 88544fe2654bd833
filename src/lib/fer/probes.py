"""Fitting a CPPN by gradient descent, and the probes that look inside one.

* `NormalizedAdam`, `fit`: the paper's SGD recipe (Adam on the gradient scaled to
  unit norm every step), here through the book's training loop.
* `pixel_error`: root-mean-square difference of two images, in brightness units.
* `sweep`, `sweep_all`: vary one weight and render, for one weight or all.
* `mirror_asymmetry`, `symmetry_breaking`: how much of an edit breaks the
  image's left-right symmetry; our scalar measure of fracture.
* `adapt`: fine-tune a network to a new target and count the steps it needs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch

from ..core.training import History, TrainConfig, train
from .cppn import CPPN, cppn_forward, grid


class NormalizedAdam(torch.optim.Adam):
    """Adam on the gradient divided by its global norm, with an optional cosine
    decay of the learning rate over `decay_steps` steps."""

    def __init__(self, params, lr: float = 1e-3, *, decay_steps: int = 0, **kw):
        super().__init__(params, lr=lr, **kw)
        self.decay_steps = decay_steps
        self.n_steps = 0

    @torch.no_grad()
    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"]]
        grads = [g for g in grads if g is not None]
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        for g in grads:
            g.div_(norm + 1e-12)  # g <- g / ||g||: every step has unit length
        scale = 1.0
        if self.decay_steps:
            scale = 0.5 * (
                1 + math.cos(math.pi * min(1.0, self.n_steps / self.decay_steps))
            )
        lrs = [group["lr"] for group in self.param_groups]
        for group in self.param_groups:
            group["lr"] *= scale
        try:
            return super().step(closure)
        finally:
            for group, lr in zip(self.param_groups, lrs, strict=True):
                group["lr"] = lr
            self.n_steps += 1


def pixel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square difference of two images of the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}"
        )
    return float(torch.sqrt(((a - b) ** 2).mean()))


def fit(
    net: CPPN,
    target: torch.Tensor,
    *,
    steps: int = 3000,
    lr: float = 0.02,
    decay: bool = True,
    eval_every: int = 0,
    desc: str = "SGD fit",
) -> History:
    """Fit `net` to a `(res, res)` target image by MSE on every pixel at once.

    The paper's recipe: Adam with the gradient normalised each step (here with a
    cosine decay of the learning rate, so that a short run settles). With
    `eval_every`, the history records the pixel error every that many steps.
    """
    from .cppn import check_image

    target = check_image(target)
    res = target.shape[0]
    coords, pixels = grid(res), target.reshape(-1)
    opt = NormalizedAdam(net.parameters(), lr=lr, decay_steps=steps if decay else 0)

    def loss_fn(model, batch):
        x, y = batch
        return ((model(x) - y) ** 2).mean()

    def evaluate(model):
        return {"pixel_error": pixel_error(model(coords), pixels)}

    config = TrainConfig(
        steps=steps, lr=lr, log_every=min(100, steps), eval_every=eval_every
    )
    return train(
        net,
        lambda step: (coords, pixels),
        loss_fn=loss_fn,
        config=config,
        optimizer=opt,
        evaluate=evaluate,
        device="cpu",
        desc=desc,
    )


def adapt(
    net: CPPN,
    target: torch.Tensor,
    *,
    steps: int = 1000,
    lr: float = 0.003,
    threshold: float = 0.03,
    eval_every: int = 5,
) -> dict:
    """Fine-tune a copy of `net` to a new target; how fast does it get there?

    Same optimiser for every network (normalised Adam, constant `lr`). Returns the
    curve (steps, pixel errors), the first recorded step at which the pixel error
    is at most `threshold` (None if never), and the adapted network.
    """
    if not 0 < threshold:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    net = copy.deepcopy(net)
    history = fit(
        net,
        target,
        steps=steps,
        lr=lr,
        decay=False,
        eval_every=eval_every,
        desc="adapt",
    )
    at, err = history.series("pixel_error")
    reached = [int(s) for s, e in zip(at, err, strict=True) if e <= threshold]
    return {
        "steps": at,
        "pixel_error": err,
        "steps_to_threshold": reached[0] if reached else None,
        "net": net,
    }


# ---------------------------------------------------------------- weight sweeps


def flat_index(net: CPPN, layer: int, i: int, j: int) -> int:
    """Position of weight `weights[layer][i, j]` in the flattened weight vector."""
    sizes = [w.numel() for w in net.weights]
    if not 0 <= layer < len(sizes):
        raise ValueError(f"layer must be in [0, {len(sizes)}), got {layer}")
    rows, cols = net.weights[layer].shape
    if not (0 <= i < rows and 0 <= j < cols):
        raise ValueError(
            f"({i}, {j}) is outside weights[{layer}] of shape {(rows, cols)}"
        )
    return sum(sizes[:layer]) + i * cols + j


def weight_vector(net: CPPN) -> torch.Tensor:
    return torch.cat([w.detach().reshape(-1) for w in net.weights])


def _unflatten(net: CPPN, flat: torch.Tensor) -> list[torch.Tensor]:
    out, start = [], 0
    for w in net.weights:
        out.append(flat[start : start + w.numel()].reshape(w.shape))
        start += w.numel()
    return out


def sweep(
    net: CPPN, index: int, values: Sequence[float], *, res: int = 64
) -> torch.Tensor:
    """Images `(len(values), res, res)` with flat weight `index` set to each value."""
    flat, coords = weight_vector(net), grid(res)
    frames = []
    with torch.no_grad():
        for v in values:
            w = flat.clone()
            w[index] = v
            frames.append(cppn_forward(net.arch, _unflatten(net, w), coords))
    return torch.stack(frames).reshape(len(values), res, res)


def sweep_all(
    net: CPPN, fractions: Sequence[float] = (-0.25, 0.25), *, res: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every weight scaled by (1 + f) for each f, one weight at a time.

    Returns (indices of the weights that are not zero, image changes of shape
    `(n_weights, len(fractions), res, res)`). Zero weights are skipped: in a
    network grown by evolution they are connections that do not exist.
    """
    flat = weight_vector(net)
    used = torch.nonzero(flat != 0).squeeze(1)
    base = cppn_forward(net.arch, _unflatten(net, flat), grid(res)).reshape(res, res)
    changes = torch.stack(
        [
            sweep(net, int(k), [flat[k] * (1 + f) for f in fractions], res=res)
            for k in used
        ]
    )
    return used, changes - base


def mirror_asymmetry(delta: torch.Tensor) -> torch.Tensor:
    """Share of an image change's energy that breaks left-right symmetry.

    Split the change into a mirror-symmetric and an antisymmetric part,
    delta = (delta + flip delta) / 2 + (delta - flip delta) / 2; return
    ||antisymmetric||^2 / ||delta||^2 over the last two axes: 0 for a symmetric
    edit, 0.5 for an edit on one side only, 1 for a purely antisymmetric one.
    """
    delta = torch.as_tensor(delta, dtype=torch.float32)
    if delta.ndim < 2:
        raise ValueError(f"need images (..., H, W), got shape {tuple(delta.shape)}")
    anti = (delta - delta.flip(-1)) / 2
    energy = (delta**2).sum((-1, -2))
    return (anti**2).sum((-1, -2)) / energy.clamp_min(1e-12)


SYMMETRIC_BELOW = 0.05  # a sweep with less asymmetry than this counts as symmetric


def symmetry_breaking(changes: torch.Tensor) -> dict:
    """Summary of `mirror_asymmetry` over a sweep of every weight.

    `changes` is `(n_weights, n_values, H, W)`. Returns the per-weight asymmetry
    (mean over values), the energy-weighted share over all sweeps ("of all the
    change the sweeps make, this share breaks the symmetry"), and the fraction
    of weights whose sweep stays symmetric (asymmetry below `SYMMETRIC_BELOW`).
    """
    if changes.ndim != 4:
        raise ValueError(
            f"changes must be (weights, values, H, W), got {changes.ndim}-d"
        )
    energy = (changes**2).sum((-1, -2))  # (weights, values)
    anti = ((changes - changes.flip(-1)) / 2) ** 2
    per_weight = mirror_asymmetry(changes).mean(1)
    moves = energy.mean(1) > 1e-8  # sweeps that change the image at all
    return {
        "per_weight": per_weight[moves],
        "share": float(anti.sum() / energy.sum().clamp_min(1e-12)),
        "symmetric_fraction": float(
            (per_weight[moves] < SYMMETRIC_BELOW).float().mean()
        ),
        "n_weights": int(moves.sum()),
    }
