"""A compositional pattern-producing network (CPPN) that paints a grey image.

A CPPN maps the coordinates of a pixel to its brightness. The inputs are
`x`, `y` (in [-1, 1]), the distance `d = 1.4 sqrt(x^2 + y^2)` and a constant
bias `b = 1`. Every layer is a dense map without bias (the constant input plays
that role) followed by a fixed activation per unit: identity, sine, Gaussian,
sigmoid. The output unit is a logistic sigmoid, so brightness is in (0, 1).

    net = CPPN()                          # random (LeCun) weights
    image = render(net, res=64)           # (64, 64) tensor in (0, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

INPUTS = ("x", "y", "d", "b")
# The activations of the paper's code: Gaussian and sigmoid rescaled to (-1, 1].
ACTIVATIONS = {
    "identity": lambda z: z,
    "sin": torch.sin,
    "gaussian": lambda z: 2 * torch.exp(-(z**2)) - 1,
    "sigmoid": lambda z: torch.tanh(z / 2),  # = 2 sigmoid(z) - 1
}


@dataclass(frozen=True)
class Architecture:
    """How many hidden layers, and the units of each, grouped by activation.

    Every hidden layer has the same units, in this order: `identity` units first
    (they also carry inputs forward, as the paper's "cache" units do), then
    `sin`, `gaussian`, `sigmoid`.
    """

    n_layers: int = 3
    units: tuple[tuple[str, int], ...] = (
        ("identity", 6),
        ("sin", 2),
        ("gaussian", 4),
        ("sigmoid", 4),
    )

    def __post_init__(self):
        if not isinstance(self.n_layers, int) or self.n_layers < 1:
            raise ValueError(f"n_layers must be a positive int, got {self.n_layers!r}")
        for name, count in self.units:
            if name not in ACTIVATIONS:
                raise ValueError(
                    f"unknown activation {name!r}; use {list(ACTIVATIONS)}"
                )
            if not isinstance(count, int) or count < 1:
                raise ValueError(f"unit count for {name} must be >= 1, got {count!r}")

    @property
    def width(self) -> int:
        return sum(c for _, c in self.units)

    def unit_names(self) -> list[str]:
        """Activation of every unit of one hidden layer, e.g. ["identity", ...]."""
        return [name for name, count in self.units for _ in range(count)]

    def offset(self, activation: str) -> int:
        """Index of the first unit with this activation in a hidden layer."""
        start = 0
        for name, count in self.units:
            if name == activation:
                return start
            start += count
        raise ValueError(f"no {activation!r} units in {self.units}")


class CPPN(nn.Module):
    """A layered CPPN: `(N, 4)` coordinates -> `(N,)` brightness in (0, 1)."""

    def __init__(self, arch: Architecture = Architecture(), *, seed: int = 0):
        super().__init__()
        self.arch = arch
        g = torch.Generator().manual_seed(int(seed))
        sizes = [len(INPUTS)] + [arch.width] * arch.n_layers + [1]
        # weights[l] has shape (fan_in, fan_out); LeCun normal init, std 1/sqrt(fan_in)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(a, b, generator=g) / math.sqrt(a))
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )

    def hidden(self, coords: torch.Tensor) -> list[torch.Tensor]:
        """Activations of every hidden layer, each `(N, width)`."""
        return hidden_layers(self.arch, list(self.weights), coords)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return cppn_forward(self.arch, list(self.weights), coords)

    def n_weights(self) -> int:
        return sum(w.numel() for w in self.weights)


def hidden_layers(
    arch: Architecture, weights: Sequence[torch.Tensor], coords: torch.Tensor
) -> list[torch.Tensor]:
    """The hidden activations `(N, width)` of a CPPN given its weight matrices."""
    h, out = coords, []
    for w in weights[:-1]:
        z = h @ w  # (N, width): a dense layer, no bias (the input b is the bias)
        parts, start = [], 0
        for name, count in arch.units:
            parts.append(ACTIVATIONS[name](z[:, start : start + count]))
            start += count
        h = torch.cat(parts, dim=1)
        out.append(h)
    return out


def cppn_forward(
    arch: Architecture, weights: Sequence[torch.Tensor], coords: torch.Tensor
) -> torch.Tensor:
    """Brightness `(N,)` in (0, 1) of the pixels at `coords` `(N, 4)`."""
    h = hidden_layers(arch, weights, coords)[-1]
    return torch.sigmoid(h @ weights[-1]).squeeze(1)


def grid(res: int) -> torch.Tensor:
    """The `(res * res, 4)` inputs (x, y, d, b), row-major, y from top (-1) down."""
    if not isinstance(res, int) or res < 2:
        raise ValueError(f"res must be an int >= 2, got {res!r}")
    t = torch.linspace(-1.0, 1.0, res)
    y, x = torch.meshgrid(t, t, indexing="ij")  # (res, res) each
    d = 1.4 * torch.sqrt(x**2 + y**2)
    return torch.stack([x, y, d, torch.ones_like(x)], dim=-1).reshape(-1, 4)


def render(net: CPPN, res: int = 64) -> torch.Tensor:
    """The network's `(res, res)` image, without gradients."""
    with torch.no_grad():
        return net(grid(res)).reshape(res, res)


def feature_maps(net: CPPN, res: int = 64) -> list[torch.Tensor]:
    """Every hidden unit's activation as an image: one `(width, res, res)` per layer."""
    with torch.no_grad():
        return [h.T.reshape(-1, res, res) for h in net.hidden(grid(res))]


def check_image(image: torch.Tensor, res: int | None = None) -> torch.Tensor:
    """A square grey image in [0, 1] as a float tensor, or a clear ValueError."""
    image = torch.as_tensor(image, dtype=torch.float32)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"image must be square (res, res), got {tuple(image.shape)}")
    if res is not None and image.shape[0] != res:
        raise ValueError(f"image must be {res}x{res}, got {tuple(image.shape)}")
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("image values must be finite and in [0, 1]")
    return image


def set_weights(net: CPPN, weights: Sequence[torch.Tensor]) -> CPPN:
    """Copy `weights` (one matrix per layer, matching shapes) into `net`."""
    if len(weights) != len(net.weights):
        raise ValueError(f"need {len(net.weights)} matrices, got {len(weights)}")
    with torch.no_grad():
        for p, w in zip(net.weights, weights, strict=True):
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(f"shape {tuple(w.shape)} != {tuple(p.shape)}")
            p.copy_(torch.as_tensor(w, dtype=p.dtype))
    return net
