"""Segregation: finding the objects in raw pixels, with and without slots.

Both models see an image and a shape, and name the colour of the object with
that shape. The **baseline** is a plain CNN + MLP: nothing in it is about
objects. The **slot model** is a small Slot Attention (Locatello et al. 2020):
K slots compete for the image's pixels, every slot is refined a few times by
the same GRU, and the answer is read from the slot that matches the query (the
`SlotReader` of `codes`). It also paints the image back from its slots, one
mask and one colour per slot, which is what pushes each slot onto one object;
those masks are the grouping we score with the adjusted Rand index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.seeding import seed_everything
from ..core.training import History, TrainConfig, train
from .codes import SlotReader, adamw
from .scenes import World, make_scenes, render

MODELS = ("baseline", "slots")


@dataclass(frozen=True)
class PixelConfig:
    width: int = 32  # conv channels, token and slot size
    iters: int = 3  # slot attention refinements
    temperature: float = 0.5  # of the softmax over slots
    recon_weight: float = 100.0  # weight of the repainting loss (slots only)
    counts: tuple[int, ...] = (1, 2)  # objects per training scene
    batch_size: int = 32
    train: TrainConfig = TrainConfig(steps=3000, lr=1e-3, warmup_steps=200)

    def __post_init__(self):
        for name in ("width", "iters", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not self.temperature > 0 or self.recon_weight < 0:
            raise ValueError(
                "temperature must be > 0 and recon_weight >= 0, got "
                f"{self.temperature!r} and {self.recon_weight!r}"
            )
        if not self.counts or any(not isinstance(k, int) or k < 1 for k in self.counts):
            raise ValueError(f"counts must be positive ints, got {self.counts!r}")


def positions(size: int) -> torch.Tensor:
    """(size*size, 4): x, y, 1-x, 1-y of every cell of a size x size grid."""
    r = torch.linspace(0, 1, size)
    y, x = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([x, y, 1 - x, 1 - y], dim=-1).reshape(-1, 4)


class Baseline(nn.Module):
    """CNN -> flatten -> MLP, with the query added to the hidden layer."""

    def __init__(self, world: World, width: int = 32, hidden: int = 128):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, width, 5, padding=2), nn.ReLU())
        self.fc = nn.Linear(width * (world.size // 2) ** 2, hidden)
        self.query = nn.Embedding(world.n_shapes, hidden)
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, world.n_colors),
        )

    def forward(self, images: torch.Tensor, queries: torch.Tensor, n_slots: int = 0):
        """images (B, 3, H, W), queries (B, Q) -> colour logits (B, Q, C)."""
        h = self.fc(F.max_pool2d(self.conv(images), 2).flatten(1))  # (B, hidden)
        return self.head(h[:, None] + self.query(queries))


class SlotAttention(nn.Module):
    """K slots compete for N inputs: softmax over slots, then a weighted mean."""

    def __init__(self, d: int, iters: int = 3, temperature: float = 1.0):
        super().__init__()
        self.iters, self.scale = iters, d**-0.5 / temperature
        self.mu = nn.Parameter(0.5 * torch.randn(1, 1, d))
        self.log_sigma = nn.Parameter(torch.full((1, 1, d), -1.0))
        self.norm_in, self.norm_slot, self.norm_mlp = (
            nn.LayerNorm(d) for _ in range(3)
        )
        self.q, self.k, self.v = (nn.Linear(d, d, bias=False) for _ in range(3))
        self.gru = nn.GRUCell(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

    def step(self, slots, k, v):
        attn = torch.einsum("bkd,bnd->bkn", self.q(self.norm_slot(slots)), k)
        attn = (attn * self.scale).softmax(dim=1) + 1e-8  # slots compete for inputs
        weights = attn / attn.sum(dim=2, keepdim=True)  # mean over each slot's inputs
        updates = torch.einsum("bkn,bnd->bkd", weights, v)
        b, n_slots, d = slots.shape
        slots = self.gru(updates.reshape(-1, d), slots.reshape(-1, d)).view(
            b, n_slots, d
        )
        return slots + self.mlp(self.norm_mlp(slots)), attn

    def forward(self, inputs: torch.Tensor, n_slots: int):
        """inputs (B, N, d) -> slots (B, K, d), attention (B, K, N)."""
        inputs = self.norm_in(inputs)
        k, v = self.k(inputs), self.v(inputs)
        noise = torch.randn(len(inputs), n_slots, inputs.shape[2], device=inputs.device)
        slots = self.mu + self.log_sigma.exp() * noise
        with torch.no_grad():  # refine without gradients, then one step with them
            for _ in range(self.iters - 1):
                slots, _ = self.step(slots, k, v)
        return self.step(slots.detach(), k, v)


class SlotModel(nn.Module):
    """Encoder -> slot attention -> (SlotReader answers, per-slot masks and colours)."""

    def __init__(self, world: World, config: PixelConfig = PixelConfig()):
        super().__init__()
        d, self.size = config.width, world.size
        self.conv = nn.Sequential(nn.Conv2d(3, d, 5, padding=2), nn.ReLU())
        self.register_buffer("grid", positions(world.size // 2))
        self.pos = nn.Linear(4, d)
        self.embed = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d)
        )
        self.slots = SlotAttention(d, config.iters, config.temperature)
        self.reader = SlotReader(d, world, width=d)
        self.mask = nn.Sequential(
            nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, world.size**2)
        )
        self.color = nn.Linear(d, 3)

    def forward(self, images: torch.Tensor, queries: torch.Tensor, n_slots: int):
        """images (B, 3, H, W), queries (B, Q) -> logits (B, Q, C).

        Keeps .masks (B, K, H*W) and .recon (B, 3, H*W) for the loss and plots.
        """
        h = F.avg_pool2d(self.conv(images), 2).flatten(2).transpose(1, 2)  # (B, N, d)
        slots, self.attn = self.slots(self.embed(h + self.pos(self.grid)), n_slots)
        self.masks = self.mask(slots).softmax(dim=1)  # (B, K, H*W), sums to 1 per pixel
        self.recon = torch.einsum("bkn,bkc->bcn", self.masks, self.color(slots))
        q = queries.shape[1]
        logits = self.reader(slots.repeat_interleave(q, 0), queries.flatten())
        return logits.view(len(images), q, -1)


def make_model(kind: str, world: World = World(), config: PixelConfig = PixelConfig()):
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {MODELS}, got {kind!r}")
    return (
        Baseline(world, config.width)
        if kind == "baseline"
        else SlotModel(world, config)
    )


def scene_batch(n: int, *, seed: int, n_objects: int, world: World = World()) -> dict:
    """Scenes with their images, masks, queries (every object's shape) and answers."""
    s = make_scenes(n, seed=seed, n_objects=n_objects, world=world)
    images, masks = render(s, world=world)
    s = torch.from_numpy(s)
    return {
        "images": images,
        "masks": masks,
        "queries": s[:, :, 1].clamp(min=0),
        "answers": s[:, :, 0],  # -1 where no object: not asked
        "n_slots": n_objects + 1,  # one slot per object, one for the background
    }


def loss_fn(model: nn.Module, batch: dict, recon_weight: float = 0.0):
    logits = model(batch["images"], batch["queries"], batch["n_slots"])
    asked = batch["answers"] >= 0
    loss = F.cross_entropy(logits[asked], batch["answers"][asked])
    if recon_weight and hasattr(model, "recon"):
        recon = F.mse_loss(model.recon, batch["images"].flatten(2))
        return loss + recon_weight * recon, {"recon": recon.item()}
    return loss, {}


def adjusted_rand_index(true: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """ARI of two labellings (B, N) of the same pixels, ignoring true label 0.

    Both labellings are small ints. 1 means the same grouping up to renaming,
    about 0 a chance one. A one-group labelling scored against one group is 1.
    """
    fg = (true > 0).float()
    t = F.one_hot(true, int(true.max()) + 1).float() * fg[..., None]
    p = F.one_hot(pred, int(pred.max()) + 1).float() * fg[..., None]
    table = torch.einsum("bnt,bnp->btp", t, p)  # contingency table
    pairs = lambda x: (x * (x - 1) / 2).sum(dim=tuple(range(1, x.ndim)))  # noqa: E731
    both, a, b = pairs(table), pairs(table.sum(2)), pairs(table.sum(1))
    expected = a * b / pairs(fg.sum(1)).clamp(min=1)
    top = (a + b) / 2
    same = (top - expected).abs() < 1e-9
    return torch.where(same, torch.ones_like(top), (both - expected) / (top - expected))


def _fresh_batches(config: PixelConfig, seed: int, world: World):
    """batch(step): fresh scenes of config.counts objects, one count per step."""
    counts = np.array(config.counts)

    def fresh(step: int) -> dict:
        k = int(counts[step % len(counts)])
        return scene_batch(
            config.batch_size, seed=seed * 100_003 + step, n_objects=k, world=world
        )

    return fresh


def fit(
    kind: str,
    *,
    seed: int,
    world: World = World(),
    config: PixelConfig = PixelConfig(),
    batches=None,
    device: torch.device | str | None = "cpu",
) -> tuple[nn.Module, History]:
    """Train a model on fresh scenes of `config.counts` objects (a count per step).

    `batches(step)` replaces the fresh scenes (the tests overfit a fixed batch).
    The networks are small enough for a CPU; pass device=None for the best one.
    """
    seed_everything(seed)
    model = make_model(kind, world, config)
    weight = config.recon_weight if kind == "slots" else 0.0
    history = train(
        model,
        batches or _fresh_batches(config, seed, world),
        loss_fn=lambda m, b: loss_fn(m, b, weight),
        config=config.train,
        optimizer=adamw(model, config.train),
        device=device,
        desc=kind,
    )
    return model, history


class BaselineGrid(nn.Module):
    """CNN baselines of several widths side by side: one forward runs them all.

    No weight is shared and the loss is the sum of the members' losses, so
    each member gets exactly the gradients it would get trained alone on the
    same batches; the grid only saves drawing the scenes once per step.
    """

    def __init__(self, members: list[Baseline]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor, queries: torch.Tensor, n_slots: int = 0):
        """images (B, 3, H, W), queries (B, Q) -> logits (M, B, Q, C), M members."""
        return torch.stack([m(images, queries) for m in self.members])


def fit_baselines(
    widths,
    *,
    seed: int,
    world: World = World(),
    config: PixelConfig = PixelConfig(),
    device: torch.device | str | None = "cpu",
) -> tuple[list[Baseline], History]:
    """Train one CNN baseline per width (hidden = 4 x width) on the same scenes.

    Each member starts from the weights `fit("baseline", ...)` would give it at
    that width (the seed is reset before each), and sees the same batches, so
    the member of width `config.width` is the chapter's baseline.
    """
    widths = tuple(widths)
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be positive ints, got {widths!r}")
    members = []
    for w in widths:
        seed_everything(seed)
        members.append(Baseline(world, w, hidden=4 * w))
    grid = BaselineGrid(members)

    def grid_loss(model: nn.Module, batch: dict):
        logits = model(batch["images"], batch["queries"])  # (M, B, Q, C)
        asked = batch["answers"] >= 0
        answers = batch["answers"][asked].repeat(len(widths))
        loss = F.cross_entropy(logits[:, asked].flatten(0, 1), answers)
        return loss * len(widths)  # the sum of the members' mean losses

    history = train(
        grid,
        _fresh_batches(config, seed, world),
        loss_fn=grid_loss,
        config=config.train,
        optimizer=adamw(grid, config.train),
        device=device,
        desc="baselines",
    )
    return members, history


@torch.no_grad()
def evaluate(
    model: nn.Module, counts, *, seed: int, n: int = 300, world: World = World()
) -> dict[int, dict[str, float]]:
    """Per object count: query accuracy and (slot model) foreground ARI of its masks."""
    model.eval()
    dev = next(model.parameters()).device
    out = {}
    for k in counts:
        batch = scene_batch(n, seed=seed + 7919 * k, n_objects=k, world=world)
        batch = {
            key: v.to(dev) if torch.is_tensor(v) else v for key, v in batch.items()
        }
        logits = model(batch["images"], batch["queries"], batch["n_slots"])
        asked = batch["answers"] >= 0
        row = {
            "acc": float((logits.argmax(-1) == batch["answers"])[asked].float().mean())
        }
        if hasattr(model, "masks"):
            pred = model.masks.argmax(dim=1)
            row["ari"] = float(
                adjusted_rand_index(batch["masks"].flatten(1), pred).mean()
            )
        out[k] = row
    return out
