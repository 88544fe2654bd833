"""A task made of two parts, and two ways to feed it to a network.

The opening chapter's experiment. Every example is a pair of symbols (a, b) and
its target depends on both: y(a, b) = tanh(u_a + v_b), with random vectors u and
v. Some pairs are held out of training, though each symbol on its own is seen
(the training support is *compositional*). Whether a network predicts a held-out
pair depends on how the pair is written down:

- a **factorised** code concatenates a one-hot for a and a one-hot for b, so the
  weights learned for "a" on other pairs are reused;
- a **conjunctive** code gives every pair its own unit, so a held-out pair lights
  a unit that training never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .claims import Claim, Headline
from .core.checkpoint import checkpoint_path
from .core.plotting import ROLE_COLORS
from .core.seeding import make_rng, seed_everything
from .core.training import History, TrainConfig, batches_from_tensors, train
from .exercises import CodeExercise, MultipleChoice, Numeric, PredictThenRun

CODES = ("factorised", "conjunctive")


@dataclass(frozen=True)
class PairTask:
    n_a: int = 12  # symbols in the first slot
    n_b: int = 12  # symbols in the second slot
    dim: int = 8  # size of the target vector
    holdout: float = 0.25  # fraction of pairs never trained on

    def __post_init__(self):
        if self.n_a < 2 or self.n_b < 2:
            raise ValueError(
                f"need at least 2 symbols per slot, got {self.n_a}, {self.n_b}"
            )
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout}")
        if self.dim < 1:
            raise ValueError(f"dim must be >= 1, got {self.dim}")


def make_targets(task: PairTask, *, seed: int) -> torch.Tensor:
    """The target for every pair: y[a, b] = tanh(u_a + v_b). Shape (n_a, n_b, dim)."""
    rng = make_rng(seed)
    u = rng.normal(size=(task.n_a, 1, task.dim))
    v = rng.normal(size=(1, task.n_b, task.dim))
    return torch.tensor(np.tanh(u + v), dtype=torch.float32)


def split_pairs(
    task: PairTask, *, seed: int, max_tries: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Split all (a, b) pairs into train and held-out, shapes (n, 2) each.

    Resamples until every symbol of both slots occurs in some training pair, so a
    held-out pair is a new *combination* of known parts, never an unseen part.
    """
    rng = make_rng(seed)
    pairs = np.array([(a, b) for a in range(task.n_a) for b in range(task.n_b)])
    n_out = max(1, round(task.holdout * len(pairs)))
    for _ in range(max_tries):
        perm = rng.permutation(len(pairs))
        train, held = pairs[perm[n_out:]], pairs[perm[:n_out]]
        seen_a, seen_b = set(train[:, 0]), set(train[:, 1])
        if len(seen_a) == task.n_a and len(seen_b) == task.n_b:
            return train[np.lexsort(train.T[::-1])], held[np.lexsort(held.T[::-1])]
    raise ValueError(
        f"no split with every symbol in training at holdout={task.holdout}"
    )


def encode(pairs: np.ndarray, task: PairTask, code: str) -> torch.Tensor:
    """Write pairs (n, 2) as network inputs: (n, n_a + n_b) or (n, n_a * n_b)."""
    if code not in CODES:
        raise ValueError(f"code must be one of {CODES}, got {code!r}")
    pairs = torch.as_tensor(np.asarray(pairs), dtype=torch.long)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must have shape (n, 2), got {tuple(pairs.shape)}")
    a, b = pairs[:, 0], pairs[:, 1]
    if code == "factorised":
        one_a = nn.functional.one_hot(a, task.n_a)
        return torch.cat([one_a, nn.functional.one_hot(b, task.n_b)], dim=1).float()
    return nn.functional.one_hot(a * task.n_b + b, task.n_a * task.n_b).float()


def make_mlp(n_in: int, n_out: int, *, width: int = 64) -> nn.Sequential:
    """A two-layer ReLU MLP, the same for both codes."""
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, n_out))


def r2_score(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination over all entries: 1 - SSE / SST."""
    sse = ((pred - target) ** 2).sum()
    sst = ((target - target.mean(dim=0)) ** 2).sum()
    return float(1 - sse / sst)


def fit(
    task: PairTask,
    code: str,
    *,
    seed: int,
    width: int = 64,
    config: TrainConfig = TrainConfig(steps=1500, lr=3e-3, eval_every=100),
    batch_size: int = 32,
    checkpoint: bool = True,
    device: torch.device | str | None = "cpu",
) -> tuple[nn.Module, History]:
    """Train one MLP on the training pairs, written in `code`; track both R².

    The data (targets, split, batches) depends only on `seed`; so does the
    initialisation. Returns the model and its history, whose eval records carry
    "train_r2" and "held_out_r2".
    """
    targets = make_targets(task, seed=seed)
    train_pairs, held_pairs = split_pairs(task, seed=seed)
    x_train, x_held = encode(train_pairs, task, code), encode(held_pairs, task, code)
    y_train = targets[train_pairs[:, 0], train_pairs[:, 1]]
    y_held = targets[held_pairs[:, 0], held_pairs[:, 1]]
    seed_everything(seed)
    model = make_mlp(x_train.shape[1], task.dim, width=width)

    def evaluate(m: nn.Module) -> dict[str, float]:
        dev = next(m.parameters()).device
        return {
            "train_r2": r2_score(m(x_train.to(dev)).cpu(), y_train),
            "held_out_r2": r2_score(m(x_held.to(dev)).cpu(), y_held),
        }

    run = {
        "task": task,
        "code": code,
        "seed": seed,
        "width": width,
        "config": config,
        "batch_size": batch_size,
    }
    history = train(
        model,
        batches_from_tensors(x_train, y_train, batch_size=batch_size, seed=seed),
        loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        config=config,
        evaluate=evaluate,
        device=device,
        desc=code,
        checkpoint=checkpoint_path(f"pairs-{code}", run) if checkpoint else None,
    )
    return model, history


class MLPGrid(nn.Module):
    """MLPs of several widths side by side: one forward runs them all.

    No weight is shared and the loss is the sum of the members' losses, so
    each member learns exactly as it would alone on the same batches.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, d_in) -> (M, n, d_out), one row per member."""
        return torch.stack([m(x) for m in self.members])


def fit_widths(
    task: PairTask,
    code: str,
    widths,
    *,
    seed: int,
    config: TrainConfig = TrainConfig(steps=1500, lr=3e-3, eval_every=100),
    batch_size: int = 32,
    device: torch.device | str | None = "cpu",
) -> tuple[list[nn.Module], History]:
    """Train one MLP per hidden width on the same data and batches, side by side.

    Each member starts where `fit` would start it at that width, so the member
    of `fit`'s width is `fit`'s network. The eval records carry
    "train_r2_<width>" and "held_out_r2_<width>" for every width.
    """
    widths = tuple(widths)
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be positive ints, got {widths!r}")
    targets = make_targets(task, seed=seed)
    train_pairs, held_pairs = split_pairs(task, seed=seed)
    x_train, x_held = encode(train_pairs, task, code), encode(held_pairs, task, code)
    y_train = targets[train_pairs[:, 0], train_pairs[:, 1]]
    y_held = targets[held_pairs[:, 0], held_pairs[:, 1]]
    members = []
    for w in widths:
        seed_everything(seed)
        members.append(make_mlp(x_train.shape[1], task.dim, width=w))

    def evaluate(grid: MLPGrid) -> dict[str, float]:
        dev = next(grid.parameters()).device
        fit_pred, held_pred = grid(x_train.to(dev)).cpu(), grid(x_held.to(dev)).cpu()
        out = {}
        for i, w in enumerate(widths):
            out[f"train_r2_{w}"] = r2_score(fit_pred[i], y_train)
            out[f"held_out_r2_{w}"] = r2_score(held_pred[i], y_held)
        return out

    def loss_fn(grid: MLPGrid, batch) -> torch.Tensor:
        pred = grid(batch[0])  # (M, n, dim)
        return nn.functional.mse_loss(pred, batch[1].expand_as(pred)) * len(widths)

    history = train(
        MLPGrid(members),
        batches_from_tensors(x_train, y_train, batch_size=batch_size, seed=seed),
        loss_fn=loss_fn,
        config=config,
        evaluate=evaluate,
        device=device,
        desc=f"{code} widths",
    )
    return members, history


def held_out_r2(task: PairTask, code: str, *, seed: int, **fit_kwargs) -> float:
    """Train as `fit` does and return the final held-out R²."""
    return float(fit(task, code, seed=seed, **fit_kwargs)[1].last("held_out_r2"))


def plot_split(
    task: PairTask, train_pairs: np.ndarray, held_pairs: np.ndarray, ax=None
):
    """The grid of all pairs, with the held-out ones marked."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    ax = ax or plt.gca()
    grid = np.zeros((task.n_a, task.n_b))
    grid[held_pairs[:, 0], held_pairs[:, 1]] = 1
    cmap = ListedColormap([ROLE_COLORS["train"], ROLE_COLORS["held_out"]])
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1)
    ax.set(
        xlabel="symbol b",
        ylabel="symbol a",
        xticks=[],
        yticks=[],
        title="training pairs (blue), held-out pairs (orange)",
    )
    ax.grid(False)
    return ax


def plot_histories(histories: dict[str, History], ax=None):
    """Held-out R² (solid) and training R² (dashed) over training, one colour a code."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    colors = dict(
        zip(CODES, (ROLE_COLORS["ours"], ROLE_COLORS["held_out"]), strict=True)
    )
    for code, history in histories.items():
        steps, held = history.series("held_out_r2")
        ax.plot(steps, held, color=colors.get(code), label=f"{code}: held-out pairs")
        steps, fit_r2 = history.series("train_r2")
        ax.plot(
            steps,
            fit_r2,
            color=colors.get(code),
            ls="--",
            alpha=0.6,
            label=f"{code}: training pairs",
        )
    ax.axhline(
        0, color=ROLE_COLORS["chance"], lw=1, ls=":", label="predicting the mean"
    )
    ax.set(
        xlabel="training step",
        ylabel="R²",
        ylim=(-0.5, 1.05),
        title="Same network, two input codes",
    )
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_scaling(scale: dict, fix: tuple[int, float], ax=None):
    """The conjunctive MLP's held-out R² against its weights, the factorised beside.

    `scale`: "weights", "held_out" (after all steps) and "held_out_early" (after a
    tenth of them), one per width, and "steps"; `fix`: (weights, held-out R²) of
    the factorised network at the chapter's width.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    ax = ax or plt.gca()
    color = ROLE_COLORS["held_out"]
    ax.plot(
        scale["weights"],
        scale["held_out"],
        "o-",
        color=color,
        label=f"conjunctive, {scale['steps']} steps",
    )
    ax.plot(
        scale["weights"],
        scale["held_out_early"],
        "x:",
        color=color,
        label=f"conjunctive, {scale['steps'] // 10} steps",
    )
    ax.plot(
        *fix,
        "*",
        ms=14,
        color=ROLE_COLORS["ours"],
        label="factorised, the chapter's width",
    )
    ax.axhline(
        0, color=ROLE_COLORS["chance"], lw=1, ls=":", label="predicting the mean"
    )
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels
    ax.set(
        xlabel="trained weights (log scale)",
        ylabel="R² on held-out pairs",
        ylim=(-0.5, 1.05),
        title="A wider conjunctive network, trained longer",
    )
    ax.legend(loc="center right", fontsize=8)
    return ax


def prediction_explorer(
    task: PairTask, models: dict[str, nn.Module], *, seed: int, n_pairs: int = 8
):
    """Flip through held-out pairs: the target beside each network's prediction.

    Works in the rendered book (precomputed pictures, switched in the browser).
    `models` maps a code name ("factorised", "conjunctive") to its trained MLP.
    """
    import matplotlib.pyplot as plt

    from .core.explorer import frame_explorer

    unknown = set(models) - set(CODES)
    if unknown:
        raise ValueError(f"unknown codes {sorted(unknown)}; expected some of {CODES}")
    targets = make_targets(task, seed=seed)
    _, held = split_pairs(task, seed=seed)
    if len(held) < 2:
        raise ValueError("the explorer needs at least two held-out pairs")
    held = held[: max(2, n_pairs)]
    colors = {"factorised": ROLE_COLORS["ours"], "conjunctive": ROLE_COLORS["held_out"]}
    frames, labels = [], []
    dims = np.arange(task.dim)
    offsets = np.linspace(-0.25, 0.25, len(models) + 1)
    for a, b in held:
        fig, ax = plt.subplots(figsize=(6, 2.6))
        ax.bar(
            dims + offsets[0],
            targets[a, b].numpy(),
            width=0.22,
            color=ROLE_COLORS["chance"],
            label="target",
        )
        for off, (code, model) in zip(offsets[1:], models.items(), strict=True):
            with torch.no_grad():
                x = encode(np.array([[a, b]]), task, code)
                pred = model.cpu()(x)[0].numpy()
            ax.bar(dims + off, pred, width=0.22, color=colors[code], label=code)
        ax.axhline(0, color="black", lw=0.6)
        ax.set(
            xlabel="output unit",
            ylabel="value",
            xticks=dims,
            title=f"held-out pair (a={a}, b={b})",
        )
        ax.legend(loc="upper right", fontsize=8, ncol=3)
        frames.append(fig)
        labels.append(f"({a}, {b})")
    return frame_explorer(frames, labels, description="held-out pair")


CLAIMS = [
    Claim(
        "both_fit_training",
        "Both codes fit the training pairs (R² ≥ 0.95).",
        ("train_r2_factorised", "train_r2_conjunctive"),
        lambda g: min(g["train_r2_factorised"], g["train_r2_conjunctive"]) >= 0.95,
    ),
    Claim(
        "factorised_composes",
        "The factorised code predicts held-out pairs well (R² ≥ 0.8).",
        ("held_out_r2_factorised",),
        lambda g: g["held_out_r2_factorised"] >= 0.8,
    ),
    Claim(
        "width_and_steps_leave_the_gap",
        "Neither width nor training steps rescue the conjunctive code: at every "
        "width, from the smallest to the largest (≥ 10x the weights), after a "
        "tenth of the steps and after all of them, its held-out R² stays ≤ 0.1, "
        "while every width fits its training pairs (R² ≥ 0.95).",
        ("scale_ratio", "scale_held_out_max", "scale_train_min"),
        lambda g: (
            g["scale_ratio"] >= 10
            and g["scale_held_out_max"] <= 0.1
            and g["scale_train_min"] >= 0.95
        ),
    ),
    Claim(
        "conjunctive_fails",
        "The conjunctive code does no better than predicting the mean (R² ≤ 0.1) "
        "on held-out pairs.",
        ("held_out_r2_conjunctive",),
        lambda g: g["held_out_r2_conjunctive"] <= 0.1,
    ),
]


def _r2_reference(pred, target) -> float:
    pred, target = np.asarray(pred, dtype=float), np.asarray(target, dtype=float)
    sse = ((pred - target) ** 2).sum()
    return float(1 - sse / ((target - target.mean(axis=0)) ** 2).sum())


def _r2_cases() -> list[tuple]:
    rng = make_rng(2024)
    cases = []
    for n, d in [(5, 2), (20, 3), (8, 1)]:
        target = rng.normal(size=(n, d))
        cases.append((target + 0.3 * rng.normal(size=(n, d)), target))
    target = rng.normal(size=(6, 2))
    cases.append((target.copy(), target))  # perfect: R² = 1
    cases.append((np.tile(target.mean(axis=0), (6, 1)), target))  # the mean: R² = 0
    return cases


_CONTEXT = (
    "These exercises are about the first experiment of the book (chapter "
    "*A first experiment: new combinations of known parts*). Each example is a pair "
    "of symbols (a, b), 12 symbols per slot, with target y(a, b) = tanh(u_a + v_b) "
    "for fixed random vectors u and v. A quarter of the 144 pairs are held out of "
    "training, though every symbol appears in some training pair. The same "
    "two-layer MLP is trained twice: once on a **factorised** input code (a one-hot "
    "for a next to a one-hot for b) and once on a **conjunctive** code (one input "
    "unit per pair). On the held-out pairs the factorised network predicts well; "
    "the conjunctive one does no better than predicting the mean target."
)

EXERCISES = [
    MultipleChoice(
        id="how_to_use.ex1",
        title="Why the conjunctive code fails",
        context=_CONTEXT,
        question="Both networks fit their training pairs. Why does the network "
        "with the conjunctive code fail on the held-out pairs?",
        options={
            "a": "It has fewer parameters than the factorised network.",
            "b": "The input unit of a held-out pair was never active in training, "
            "so nothing was learned about it.",
            "c": "It has not trained long enough.",
            "d": "The targets of held-out pairs are noisier.",
        },
        answer="b",
        feedback_for={
            "a": "It has more: one input unit per pair (144) against 24.",
            "b": "Its weights out of that unit are still their random initial values.",
            "c": "Its training R² is as high as the factorised network's.",
            "d": "There is no noise: every target is tanh(u_a + v_b).",
        },
        solution="**b.** With a conjunctive code, a pair never seen in training "
        "activates an input unit whose outgoing weights were never updated, so the "
        "prediction is whatever the random initialisation gives. The factorised code "
        "reuses the weights of symbol a and of symbol b, both trained on other pairs.",
    ),
    PredictThenRun(
        id="how_to_use.ex2",
        title="Less coverage",
        context=_CONTEXT,
        question="Predict the held-out R² of the **factorised** network when 75% of "
        "the pairs are held out (HOLDOUT = 0.75) instead of 25%. Commit a number "
        "between -1 and 1 before you run the experiment.",
        low=-1.0,
        high=1.0,
        tolerance=0.1,
        experiment=lambda: held_out_r2(PairTask(holdout=0.75), "factorised", seed=0),
        solution="With 75% held out, only 36 of the 144 pairs are trained on. Every "
        "symbol is still seen, so the factorised network still composes, but each "
        "symbol is seen with few partners, and the held-out R² drops. Compare it with "
        "the 25% run above.",
    ),
    CodeExercise(
        id="how_to_use.ex3",
        title="Write the R² score",
        question="Complete `r2(pred, target)`: the coefficient of determination over "
        "all entries of two arrays of shape (n, d), "
        "$R^2 = 1 - \\sum (p - y)^2 / \\sum (y - \\bar y)^2$, where $\\bar y$ is "
        "the mean of each column of the target. Return a float.",
        function_name="r2",
        stub="import numpy as np\n\n\ndef r2(pred, target):\n"
        '    """R² of `pred` against `target`, arrays of shape (n, d)."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_r2_reference,
        cases=_r2_cases(),
        points=2,
        solution="`1 - ((pred - target) ** 2).sum() / ((target - target.mean(axis=0)) "
        "** 2).sum()`: the squared error of the predictions, relative to the squared "
        "error of always predicting each column's mean.",
    ),
    Numeric(
        id="how_to_use.ex4",
        title="Counting input units",
        context=_CONTEXT,
        question="With 12 symbols in each slot, how many input units does the "
        "**conjunctive** code use?",
        answer=144,
        solution="One unit per pair: 12 × 12 = 144 (the factorised code uses 12 + 12 "
        "= 24).",
    ),
]

HEADLINES = [
    Headline(
        "Held-out pairs, factorised vs conjunctive input code (R²)",
        "the book's warm-up; no paper",
        "{held_out_r2_factorised:.2f} vs {held_out_r2_conjunctive:.2f}",
        scaling="conjunctive {scale_held_out_small:.2f} → {scale_held_out_large:.2f} "
        "({scale_ratio:.0f}x the weights)",
    ),
]
