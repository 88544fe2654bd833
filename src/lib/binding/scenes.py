"""A tiny world of objects: scenes as feature sets and as small images.

A scene holds a few objects, each with a colour, a shape and a cell of a
`grid x grid` layout. As data it is an int array of shape (n, k, 3) whose rows
are (colour, shape, cell), with -1 rows for absent objects; as an image it is a
(3, 6 * grid, 6 * grid) RGB array with every object a 5x5 sprite on black.
Within a scene shapes and cells never repeat (colours may), so "the colour of
the square" always has one answer and objects never overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
import torch

from ..core.seeding import make_rng

COLORS = {  # name -> RGB in [0, 1]
    "red": (0.90, 0.12, 0.10),
    "green": (0.10, 0.70, 0.20),
    "blue": (0.15, 0.35, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.20, 0.80),
    "cyan": (0.10, 0.80, 0.85),
}
SPRITES = {  # 5x5 masks, "#" = object pixel
    "square": ("#####", "#####", "#####", "#####", "#####"),
    "circle": (".###.", "#####", "#####", "#####", ".###."),
    "triangle": ("..#..", ".###.", ".###.", "#####", "#####"),
    "plus": ("..#..", "..#..", "#####", "..#..", "..#.."),
    "cross": ("#...#", ".#.#.", "..#..", ".#.#.", "#...#"),
    "ring": ("#####", "#...#", "#...#", "#...#", "#####"),
}
COLOR_NAMES, SHAPE_NAMES = tuple(COLORS), tuple(SPRITES)
PITCH, SPRITE = 6, 5  # a cell is 6 pixels wide; a sprite 5, so neighbours never touch
_MASKS = np.array([[[ch == "#" for ch in row] for row in SPRITES[s]] for s in SPRITES])
_RGB = np.array(list(COLORS.values()), dtype=np.float32)


@dataclass(frozen=True)
class World:
    n_colors: int = 6
    n_shapes: int = 6
    grid: int = 3  # objects sit in the cells of a grid x grid layout

    def __post_init__(self):
        if not 1 <= self.n_colors <= len(COLORS):
            raise ValueError(
                f"n_colors must be in [1, {len(COLORS)}], got {self.n_colors}"
            )
        if not 1 <= self.n_shapes <= len(SPRITES):
            raise ValueError(
                f"n_shapes must be in [1, {len(SPRITES)}], got {self.n_shapes}"
            )
        if not 1 <= self.grid <= 5:
            raise ValueError(f"grid must be in [1, 5], got {self.grid}")

    @property
    def size(self) -> int:
        """Image side in pixels."""
        return PITCH * self.grid

    @property
    def max_objects(self) -> int:
        return min(self.n_shapes, self.grid**2)

    def check_count(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= self.max_objects:
            raise ValueError(
                f"a scene holds 1 to {self.max_objects} objects in this world "
                f"(distinct shapes, distinct cells), got {k!r}"
            )
        return int(k)


def make_scenes(
    n: int, *, seed: int, n_objects: int | Sequence[int], world: World = World()
) -> np.ndarray:
    """`n` random scenes, (n, max(n_objects), 3) int64 rows (colour, shape, cell).

    `n_objects` is a count or a list of counts to draw from uniformly; shorter
    scenes are padded with -1 rows. Colours are drawn with replacement, shapes
    and cells without.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    counts = [world.check_count(k) for k in np.atleast_1d(n_objects).tolist()]
    rng = make_rng(seed)
    k_max = max(counts)
    out = np.empty((n, k_max, 3), dtype=np.int64)
    out[:, :, 0] = rng.integers(0, world.n_colors, (n, k_max))
    # a random permutation per scene; its first k entries are distinct
    out[:, :, 1] = rng.random((n, world.n_shapes)).argsort(axis=1)[:, :k_max]
    out[:, :, 2] = rng.random((n, world.grid**2)).argsort(axis=1)[:, :k_max]
    ks = rng.choice(counts, size=n)
    out[np.arange(k_max) >= ks[:, None]] = -1
    return out


def all_scenes(n_objects: int, *, world: World = World()) -> np.ndarray:
    """Every scene of `n_objects` objects up to position, (n, k, 3).

    Objects are listed in shape order and placed in cells 0, 1, ...: positions
    play no part in the feature codes, so this is every distinct scene they see.
    """
    k = world.check_count(n_objects)
    shapes = np.array(list(combinations(range(world.n_shapes), k)))  # (m, k)
    colors = np.array(list(product(range(world.n_colors), repeat=k)))  # (p, k)
    out = np.empty((len(shapes), len(colors), k, 3), dtype=np.int64)
    out[..., 0] = colors[None]
    out[..., 1] = shapes[:, None]
    out[..., 2] = np.arange(k)
    return out.reshape(-1, k, 3)


def render(
    scenes: np.ndarray, *, world: World = World()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw scenes (n, k, 3): images (n, 3, H, W) float and masks (n, H, W) long.

    The mask holds 0 for the background and j + 1 for the pixels of object j.
    """
    scenes = check_scenes(scenes, world)
    n, k, _ = scenes.shape
    size = world.size
    images = np.zeros((n, 3, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    i, j = np.nonzero(scenes[:, :, 0] >= 0)  # every object: scene i, row j
    color, shape, cell = scenes[i, j].T
    top, left = 1 + PITCH * (cell // world.grid), 1 + PITCH * (cell % world.grid)
    obj, rows, cols = np.nonzero(_MASKS[shape])  # every object pixel
    y, x, scene = top[obj] + rows, left[obj] + cols, i[obj]
    images[scene, :, y, x] = _RGB[color[obj]]
    masks[scene, y, x] = j[obj] + 1
    return torch.from_numpy(images), torch.from_numpy(masks)


def check_scenes(scenes: np.ndarray, world: World) -> np.ndarray:
    """Validate a scene array against `world`; return it as int64."""
    scenes = np.asarray(scenes)
    if scenes.ndim != 3 or scenes.shape[2] != 3 or scenes.shape[1] < 1:
        raise ValueError(f"scenes must have shape (n, k, 3), got {scenes.shape}")
    present = scenes[:, :, 0] >= 0
    if (scenes[~present] != -1).any():
        raise ValueError("an absent object must be a row of -1")
    c, s, p = (scenes[:, :, i][present] for i in range(3))
    limits = (world.n_colors, world.n_shapes, world.grid**2)
    for name, v, hi in zip(("colour", "shape", "cell"), (c, s, p), limits, strict=True):
        if len(v) and (v.min() < 0 or v.max() >= hi):
            raise ValueError(
                f"{name} ids must be in [0, {hi}), got {v.min()}..{v.max()}"
            )
    for col, name in ((1, "shapes"), (2, "cells")):
        vals = np.where(present, scenes[:, :, col], -1 - np.arange(scenes.shape[1]))
        if (np.diff(np.sort(vals, axis=1), axis=1) == 0).any():
            raise ValueError(f"{name} must not repeat within a scene")
    return scenes.astype(np.int64)


def describe(scene: np.ndarray) -> str:
    """'red square + blue circle' for one scene (k, 3)."""
    return " + ".join(
        f"{COLOR_NAMES[c]} {SHAPE_NAMES[s]}" for c, s, _ in np.asarray(scene) if c >= 0
    )
