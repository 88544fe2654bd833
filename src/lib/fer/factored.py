"""A factored CPPN for a face, composed from parts: our stand-in for a Picbreeder
genome.

Picbreeder images came from networks that grew one mutation at a time while
people picked what they liked. We do not evolve here; we *compose* a network by
hand, part by part, the way such a network reuses what it built first:

* a **mirror coordinate** `q = G(1.5 x)`, a function of |x|: everything built on
  it is left-right symmetric, so the two eyes are one feature drawn twice;
* a **row band** per feature (eyes, mouth) from `y`, and a disc for the head
  from `d`;
* **eyes** = (column band of q) AND (eye row), **mouth** = (central band of q)
  AND (mouth row) AND a cosine in x (the teeth: one motif repeated);
* the output is head minus eyes minus mouth.

Each part is one unit, and each knob in `FaceParts` is one weight, so moving a
knob moves a whole feature. `compose_face` writes these weights into a `CPPN`
of the standard `Architecture`, the same size as the networks SGD trains; every
other weight is zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .cppn import CPPN, INPUTS, Architecture, render

G = lambda z: 2 * math.exp(-(z**2)) - 1  # noqa: E731  (the Gaussian unit, on floats)


@dataclass(frozen=True)
class FaceParts:
    """The knobs of the face; each one ends up as one weight of the network."""

    head_radius: float = 1.05  # in units of d = 1.4 r
    eye_spacing: float = 0.36  # |x| of the eye centres
    eye_height: float = -0.22  # y of the eyes (y = -1 is the top)
    mouth_height: float = 0.36
    mouth_width: float = 0.45  # half width, in x
    teeth: float = 24.0  # angular frequency of the teeth along x
    sharpness: float = 7.0  # slope of the AND units (higher: crisper parts)


# Where each part lives: (layer, activation, index within that activation).
# Layers are 1..3 (hidden); identity units carry what a later layer needs.
UNITS = {
    # layer 1
    "b1": (1, "identity", 0),
    "teeth": (1, "sin", 0),
    "mirror": (1, "gaussian", 0),
    "eye row": (1, "gaussian", 1),
    "mouth row": (1, "gaussian", 2),
    "head": (1, "sigmoid", 0),
    # layer 2
    "b2": (2, "identity", 0),
    "head2": (2, "identity", 1),
    "eye row2": (2, "identity", 2),
    "mouth row2": (2, "identity", 3),
    "teeth2": (2, "identity", 4),
    "eye column": (2, "gaussian", 0),
    "mouth column": (2, "gaussian", 1),
    # layer 3
    "b3": (3, "identity", 0),
    "head3": (3, "identity", 1),
    "eyes": (3, "sigmoid", 0),
    "mouth": (3, "sigmoid", 1),
}
MIRROR_SCALE = 1.5


def unit_index(arch: Architecture, part: str) -> tuple[int, int]:
    """(layer, column) of a named part in the network's hidden layers."""
    layer, act, i = UNITS[part]
    return layer, arch.offset(act) + i


def compose_face(
    parts: FaceParts = FaceParts(), arch: Architecture = Architecture()
) -> CPPN:
    """The factored face network: named parts wired into a standard CPPN."""
    if arch.n_layers != 3:
        raise ValueError(f"the face needs 3 hidden layers, got {arch.n_layers}")
    net = CPPN(arch)
    ws = [torch.zeros_like(w) for w in net.weights]

    def wire(src: str, dst: str, value: float) -> None:
        """Weight from unit `src` (an input name or part) to part `dst`."""
        layer, col = unit_index(arch, dst)
        row = INPUTS.index(src) if layer == 1 else unit_index(arch, src)[1]
        ws[layer - 1][row, col] = value

    p, k = parts, parts.sharpness
    # layer 1: carry the bias; the mirror coordinate, row bands, head disc, teeth
    wire("b", "b1", 1.0)
    wire("x", "mirror", MIRROR_SCALE)  # G(1.5 x): even in x
    wire("y", "eye row", 5.0)  # G(5 (y - eye_height))
    wire("b", "eye row", -5.0 * p.eye_height)
    wire("y", "mouth row", 4.0)
    wire("b", "mouth row", -4.0 * p.mouth_height)
    wire("d", "head", -12.0)  # sigmoid(12 (r - d))
    wire("b", "head", 12.0 * p.head_radius)
    wire("x", "teeth", p.teeth)  # sin(w x + pi/2) = cos(w x): even in x
    wire("b", "teeth", math.pi / 2)
    # layer 2: carry; columns of the mirror coordinate
    for src, dst in (
        ("b1", "b2"),
        ("head", "head2"),
        ("eye row", "eye row2"),
        ("mouth row", "mouth row2"),
        ("teeth", "teeth2"),
    ):
        wire(src, dst, 1.0)
    q_eye = G(MIRROR_SCALE * p.eye_spacing)  # the mirror value at the eye centres
    wire("mirror", "eye column", 4.0)  # G(4 (q - q_eye)): two stripes, |x| = spacing
    wire("b1", "eye column", -4.0 * q_eye)
    q_mouth = G(MIRROR_SCALE * p.mouth_width)
    a = 0.8 / (1.0 - q_mouth)  # G(a (q - 1)) falls to G(0.8) at |x| = mouth_width
    wire("mirror", "mouth column", a)
    wire("b1", "mouth column", -a)
    # layer 3: AND of column and row, by a sigmoid of their sum
    wire("b2", "b3", 1.0)
    wire("head2", "head3", 1.0)
    wire("eye column", "eyes", k)
    wire("eye row2", "eyes", k)
    wire("b2", "eyes", -1.0 * k)
    wire("mouth column", "mouth", k)
    wire("mouth row2", "mouth", k)
    wire("teeth2", "mouth", 0.6 * k)
    wire("b2", "mouth", -1.6 * k)
    # output: head minus eyes minus mouth (each unit is in (-1, 1))
    out = ws[-1]
    out[unit_index(arch, "head3")[1], 0] = 6.0
    out[unit_index(arch, "eyes")[1], 0] = -5.0
    out[unit_index(arch, "mouth")[1], 0] = -5.0
    out[unit_index(arch, "b3")[1], 0] = -10.0
    with torch.no_grad():
        for param, w in zip(net.weights, ws, strict=True):
            param.copy_(w)
    return net


def face_image(parts: FaceParts = FaceParts(), res: int = 64) -> torch.Tensor:
    """The `(res, res)` target image painted by the factored network."""
    return render(compose_face(parts), res)
