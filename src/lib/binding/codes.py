"""Three ways to write a scene down, and networks that read them.

- **bag**: add up every object's colour one-hot and shape one-hot, (C + S,).
  Factorised, but the objects are superposed: which colour went with which
  shape is lost (the superposition catastrophe).
- **conjunctive**: one unit per (colour, shape) pair, counted, (C * S,). The
  tensor product of the one-hots: it binds, but every pair is its own unit.
- **slots**: one factorised vector per object, (k, C + S). It binds by keeping
  objects apart, and it shares the colour and shape units across objects.

A binding query asks "what colour is the <shape>?"; a reader answers it from
the code and the queried shape.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.seeding import make_rng, seed_everything
from ..core.training import History, TrainConfig, batches_from_tensors, train
from .scenes import World, all_scenes, check_scenes

CODES = ("bag", "conjunctive", "slots")


def encode(scenes: np.ndarray, code: str, *, world: World = World()) -> torch.Tensor:
    """Write scenes (n, k, 3) in `code`: (n, C+S), (n, C*S) or (n, k, C+S)."""
    if code not in CODES:
        raise ValueError(f"code must be one of {CODES}, got {code!r}")
    scenes = torch.from_numpy(check_scenes(scenes, world))
    present = (scenes[:, :, 0] >= 0).unsqueeze(-1).float()  # (n, k, 1)
    color, shape = scenes[:, :, 0].clamp(min=0), scenes[:, :, 1].clamp(min=0)
    one_c = nn.functional.one_hot(color, world.n_colors).float() * present
    one_s = nn.functional.one_hot(shape, world.n_shapes).float() * present
    if code == "bag":
        return torch.cat([one_c.sum(1), one_s.sum(1)], dim=1)
    if code == "conjunctive":  # sum over objects of the outer product c ⊗ s
        return torch.einsum("nkc,nks->ncs", one_c, one_s).flatten(1)
    return torch.cat([one_c, one_s], dim=2)


def _keys(scenes: np.ndarray, code: str, world: World) -> list[bytes]:
    """A hashable key per scene that is equal exactly when two codes are equal."""
    x = encode(scenes, code, world=world).numpy()
    if code == "slots":  # a set of slots: their order carries nothing
        x = np.sort(x.view([("", x.dtype)] * x.shape[2]).squeeze(-1), axis=1)
    return [row.tobytes() for row in x]


def count_collisions(n_objects: int, code: str, *, world: World = World()) -> dict:
    """Count every scene of `n_objects`: how many, how many codes, how many share one.

    Returns {"scenes", "codes", "ambiguous"}; a scene is ambiguous when another
    scene has exactly the same code.
    """
    counts = Counter(_keys(all_scenes(n_objects, world=world), code, world))
    return {
        "scenes": sum(counts.values()),
        "codes": len(counts),
        "ambiguous": sum(v for v in counts.values() if v > 1),
    }


def ambiguous(scenes: np.ndarray, code: str, *, world: World = World()) -> np.ndarray:
    """Boolean (n,): does some other scene of the same size share this scene's code?"""
    scenes = check_scenes(scenes, world)
    sizes = (scenes[:, :, 0] >= 0).sum(1)
    out = np.zeros(len(scenes), dtype=bool)
    for k in np.unique(sizes):
        counts = Counter(_keys(all_scenes(int(k), world=world), code, world))
        rows = np.nonzero(sizes == k)[0]
        keys = _keys(scenes[rows, :k], code, world)
        out[rows] = [counts[key] > 1 for key in keys]
    return out


def make_queries(
    scenes: np.ndarray, *, first_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries (scene index, shape asked about, colour answer), each (m,).

    One per object, or with `first_only` one per scene, about its first object.
    """
    scenes = np.asarray(scenes)
    asked = scenes[:, :, 0] >= 0
    if first_only:
        asked[:, 1:] = False
    idx, j = np.nonzero(asked)
    return idx, scenes[idx, j, 1], scenes[idx, j, 0]


def best_accuracy(scenes: np.ndarray, code: str, *, world: World = World()) -> float:
    """The highest accuracy any reader of `code` can reach on these scenes' queries.

    Queries with equal (code, shape) are the same input to a reader; it can at
    best give each such group its most common answer.
    """
    keys = _keys(scenes, code, world)
    idx, shape, color = make_queries(scenes)
    groups: dict[tuple, Counter] = defaultdict(Counter)
    for i, s, c in zip(idx, shape, color, strict=True):
        groups[keys[i], s][c] += 1
    return sum(max(g.values()) for g in groups.values()) / len(idx)


class MLPReader(nn.Module):
    """Answer a query from a flat code: MLP([code, one-hot query]) -> colour logits."""

    def __init__(self, n_in: int, world: World, width: int = 64):
        super().__init__()
        self.n_shapes = world.n_shapes
        self.net = nn.Sequential(
            nn.Linear(n_in + world.n_shapes, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, world.n_colors),
        )

    def forward(self, code: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        q = nn.functional.one_hot(query, self.n_shapes).float()
        return self.net(torch.cat([code, q], dim=1))  # (n, C)


class SlotReader(nn.Module):
    """Answer a query from slots (n, k, d): attend to the slot that matches it.

    The same small network turns every slot into a key and a value, so what is
    learned about one object applies to all. Empty (all-zero) slots are skipped.
    """

    def __init__(self, d: int, world: World, width: int = 64):
        super().__init__()
        self.query = nn.Embedding(world.n_shapes, width)
        self.key = nn.Sequential(
            nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width)
        )
        self.value = nn.Sequential(
            nn.Linear(d, width), nn.ReLU(), nn.Linear(width, world.n_colors)
        )

    def forward(self, slots: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        score = torch.einsum("nkw,nw->nk", self.key(slots), self.query(query))
        empty = slots.abs().sum(-1) == 0
        weights = score.masked_fill(empty, float("-inf")).softmax(dim=1)  # (n, k)
        return torch.einsum("nk,nkc->nc", weights, self.value(slots))  # (n, C)


def make_reader(code: str, world: World = World(), *, width: int = 64) -> nn.Module:
    """The reader for a code: a SlotReader for slots, an MLPReader otherwise."""
    if code == "slots":
        return SlotReader(world.n_colors + world.n_shapes, world, width)
    n_in = (
        world.n_colors + world.n_shapes
        if code == "bag"
        else world.n_colors * world.n_shapes
    )
    return MLPReader(n_in, world, width)


def _query_tensors(scenes, code, world, first_only=False):
    idx, shape, color = make_queries(scenes, first_only=first_only)
    x = encode(scenes, code, world=world)[torch.from_numpy(idx)]
    return x, torch.from_numpy(shape), torch.from_numpy(color)


def accuracy(
    model: nn.Module,
    code: str,
    scenes: np.ndarray,
    *,
    world: World = World(),
    first_only: bool = False,
) -> float:
    """Fraction of the scenes' queries the reader answers right (see make_queries)."""
    x, q, y = _query_tensors(scenes, code, world, first_only)
    dev = next(model.parameters()).device
    with torch.no_grad():
        return float((model(x.to(dev), q.to(dev)).argmax(1).cpu() == y).float().mean())


@dataclass(frozen=True)
class ReaderConfig:
    width: int = 64
    batch_size: int = 64
    train: TrainConfig = TrainConfig(steps=1500, lr=3e-3, eval_every=250)

    def __post_init__(self):
        for name in ("width", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


def adamw(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The AdamW that `train` makes, with foreach kernels.

    The arithmetic is the same (on a CPU the weights come out bitwise equal to
    the default's, checked over whole runs of this chapter's readers and pixel
    models), and with many small tensors it takes about a third less time.
    """
    return torch.optim.AdamW(
        model.parameters(),
        lr=config.lr,
        weight_decay=config.weight_decay,
        foreach=True,
    )


def fit_reader(
    code: str,
    scenes: np.ndarray,
    *,
    seed: int,
    world: World = World(),
    config: ReaderConfig = ReaderConfig(),
    eval_sets: dict[str, np.ndarray] | None = None,
    first_only: tuple[str, ...] = (),
    device: torch.device | str | None = "cpu",
) -> tuple[nn.Module, History]:
    """Train the reader of `code` on every query of `scenes` (on the CPU by default).

    Records "acc_<name>" for "train" and each scene set in `eval_sets`; the sets
    named in `first_only` are asked only about their first object.
    """
    x, q, y = _query_tensors(scenes, code, world)
    seed_everything(seed)
    model = make_reader(code, world, width=config.width)
    sets = {"train": scenes, **(eval_sets or {})}

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {
            f"acc_{k}": accuracy(m, code, v, world=world, first_only=k in first_only)
            for k, v in sets.items()
        }

    history = train(
        model,
        batches_from_tensors(x, q, y, batch_size=config.batch_size, seed=seed),
        loss_fn=lambda m, b: nn.functional.cross_entropy(m(b[0], b[1]), b[2]),
        config=config.train,
        optimizer=adamw(model, config.train),
        evaluate=evaluate,
        device=device,
        desc=code,
    )
    return model, history


class ReaderGrid(nn.Module):
    """Readers of one code at several widths side by side: one forward runs all.

    No weight is shared and the loss sums the members' losses, so each member
    gets the gradients it would get trained alone on the same batches.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, code: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """code (n, d), query (n,) -> logits (M, n, C), one row per member."""
        return torch.stack([m(code, query) for m in self.members])


def fit_reader_grid(
    code: str,
    scenes: np.ndarray,
    widths,
    *,
    seed: int,
    world: World = World(),
    config: ReaderConfig = ReaderConfig(),
    eval_sets: dict[str, np.ndarray] | None = None,
) -> tuple[list[nn.Module], History]:
    """Train one reader of `code` per width, side by side, on every query of `scenes`.

    Each member starts where `fit_reader` would start it at that width and
    sees the same batches, so the member of width `config.width` is the reader
    `fit_reader` trains. Records "acc_<set>_<width>" for each set in
    `eval_sets` (default: "train", the scenes trained on) every
    `config.train.eval_every` steps; `grid_accuracy` reads them back.
    """
    widths = tuple(widths)
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be positive ints, got {widths!r}")
    x, q, y = _query_tensors(scenes, code, world)
    members = []
    for w in widths:
        seed_everything(seed)
        members.append(make_reader(code, world, width=w))
    grid = ReaderGrid(members)
    sets = dict(eval_sets) if eval_sets else {"train": scenes}

    def evaluate(g: ReaderGrid) -> dict[str, float]:
        return {
            f"acc_{k}_{w}": accuracy(m, code, v, world=world)
            for w, m in zip(widths, g.members, strict=True)
            for k, v in sets.items()
        }

    def loss_fn(g: ReaderGrid, batch) -> torch.Tensor:
        logits = g(batch[0], batch[1])  # (M, n, C)
        target = batch[2].repeat(len(widths))
        return nn.functional.cross_entropy(logits.flatten(0, 1), target) * len(widths)

    history = train(
        grid,
        batches_from_tensors(x, q, y, batch_size=config.batch_size, seed=seed),
        loss_fn=loss_fn,
        config=config.train,
        optimizer=adamw(grid, config.train),
        evaluate=evaluate,
        device="cpu",
        desc=f"{code} readers",
    )
    return members, history


def grid_accuracy(
    history: History, widths, *, step: int | None = None
) -> dict[int, dict[str, float]]:
    """Accuracies of a `fit_reader_grid` run: result[width][set], at `step` or last."""
    widths = tuple(widths)
    tag = f"_{widths[0]}"
    records = [
        r for r in history if any(k.endswith(tag) for k in r if k.startswith("acc_"))
    ]
    if step is not None:
        records = [r for r in records if r["step"] == step]
    if not records:
        raise ValueError(f"no evaluation at step {step} in this history")
    record = records[-1]
    out: dict[int, dict[str, float]] = {w: {} for w in widths}
    for key, value in record.items():
        if key.startswith("acc_"):
            name, _, width = key[4:].rpartition("_")
            if int(width) in out:
                out[int(width)][name] = value
    return out


def hold_out_pairs(world: World = World(), *, seed: int) -> np.ndarray:
    """(colour, shape) pairs never shown in training, (m, 2): one per colour.

    A random one-to-one matching of colours to shapes, so every colour and every
    shape still appears in training with the other partners.
    """
    if world.n_colors > world.n_shapes:
        raise ValueError("hold_out_pairs needs at least as many shapes as colours")
    shapes = make_rng(seed).permutation(world.n_shapes)[: world.n_colors]
    return np.stack([np.arange(world.n_colors), shapes], axis=1)


def composition_split(world: World = World(), *, seed: int) -> dict[str, np.ndarray]:
    """Scenes of 1 and 2 objects split around held-out colour-shape pairs.

    "train": every scene with no held-out pair. "alone": each held-out pair on its
    own. "with_other": a held-out pair next to a trained one. The two test sets
    are queried only about the held-out object (it comes first).
    """
    held = {tuple(p) for p in hold_out_pairs(world, seed=seed)}
    is_held = lambda obj: (obj[0], obj[1]) in held  # noqa: E731
    one, two = all_scenes(1, world=world), all_scenes(2, world=world)
    pad = np.full((len(one), 1, 3), -1)
    one = np.concatenate([one, pad], axis=1)
    train = [s for s in (*one, *two) if not any(is_held(o) for o in s if o[0] >= 0)]
    alone = [s for s in one if is_held(s[0])]
    with_other = [
        np.stack([new, old])
        for a, b in two
        for new, old in ((a, b), (b, a))
        if is_held(new) and not is_held(old)
    ]
    return {
        "train": np.array(train),
        "alone": np.array(alone),
        "with_other": np.array(with_other),
    }


def compare_codes(
    scenes: np.ndarray,
    tests: dict[str, np.ndarray],
    *,
    seed: int,
    world: World = World(),
    config: ReaderConfig = ReaderConfig(),
    first_only: tuple[str, ...] = (),
) -> tuple[dict[str, nn.Module], dict[str, dict[str, float]]]:
    """Train one reader per code on `scenes`; return readers and accuracies.

    `results[code]` maps "train" and each test set name to the final accuracy.
    """
    readers, results = {}, {}
    for code in CODES:
        readers[code], history = fit_reader(
            code,
            scenes,
            seed=seed,
            world=world,
            config=config,
            eval_sets=tests,
            first_only=first_only,
        )
        results[code] = {k: history.last(f"acc_{k}") for k in ("train", *tests)}
    return readers, results


def composition_experiment(
    seeds, *, world: World = World(), config: ReaderConfig = ReaderConfig()
) -> dict[str, dict[str, float]]:
    """Held-out pair accuracy per code, averaged over one split per seed.

    Returns results[code] = {"train", "alone", "other"} mean accuracies.
    """
    runs = []
    for seed in seeds:
        split = composition_split(world, seed=seed)
        tests = {"alone": split["alone"], "other": split["with_other"]}
        _, result = compare_codes(
            split["train"],
            tests,
            seed=seed,
            world=world,
            config=config,
            first_only=("alone", "other"),
        )
        runs.append(result)
    return {
        code: {k: float(np.mean([r[code][k] for r in runs])) for k in runs[0][code]}
        for code in CODES
    }
