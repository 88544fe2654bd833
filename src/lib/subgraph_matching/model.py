"""The tiny character transformer that learns multiplication, and its decoding.

The network is the book's shared decoder (`compgen.core.transformer`). A
training example is "prompt + target" (with or without the scratchpad); only
the target's characters count in the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.training import TrainConfig, train
from ..core.transformer import Transformer, TransformerConfig
from .multiplication import END, PAD, VOCAB, node_spans, prompt, target

CHARS = PAD + VOCAB
STOI = {c: i for i, c in enumerate(CHARS)}


def encode(text: str) -> list[int]:
    try:
        return [STOI[c] for c in text]
    except KeyError as err:
        raise ValueError(f"character {err.args[0]!r} is not in the vocabulary") \
            from None


def decode(ids) -> str:
    return "".join(CHARS[int(i)] for i in ids)


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 128  # longest sequence, including the sizes only tested
    positions: str = "learned"

    def transformer(self) -> TransformerConfig:
        return TransformerConfig(
            vocab_size=len(CHARS), block_size=self.block_size, n_layer=self.n_layer,
            n_head=self.n_head, n_embd=self.n_embd, positions=self.positions,
        )


def build_model(config: ModelConfig = ModelConfig(), *, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(config.transformer())


def make_batch(
    problems: np.ndarray, *, scratch: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs, targets and loss mask (B, T) for problems (B, 2), right-padded."""
    rows, starts = [], []
    for a, b in problems.tolist():
        p = prompt(a, b)
        rows.append(encode(p + target(a, b, pad=scratch)))
        starts.append(len(p))
    T = max(map(len, rows))
    seq = torch.full((len(rows), T), STOI[PAD], dtype=torch.long)
    mask = torch.zeros(len(rows), T - 1, dtype=torch.bool)
    for r, (ids, start) in enumerate(zip(rows, starts, strict=True)):
        seq[r, : len(ids)] = torch.tensor(ids)
        mask[r, start - 1 : len(ids) - 1] = True  # predict every target character
    return seq[:, :-1], seq[:, 1:], mask


@dataclass(frozen=True)
class Training:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    # step decay of the learning rate: (share of the steps, lr factor) phases
    phases: tuple = ((0.6, 1.0), (0.25, 0.3), (0.15, 0.1))


def fit(
    model: Transformer,
    problems: dict,
    *,
    scratch: bool,
    training: Training = Training(),
    seed: int = 0,
    evaluate=None,
    eval_every: int = 0,
    callbacks=(),
) -> list[dict]:
    """Train on `problems` ({size: (n, 2)}); the history of records.

    Each step draws one size in turn and a minibatch of its problems, so every
    size is trained equally often and a batch pads little. The learning rate
    drops in `phases`, each a call of the book's training loop (the optimizer,
    and its state, carry over).
    """
    sizes = sorted(problems)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr,
                                  weight_decay=training.weight_decay)

    def loss_fn(net, batch):
        x, y, mask = batch
        return net(x, y, loss_mask=mask)[1]

    history, done = [], 0
    for k, (share, factor) in enumerate(training.phases):
        last = k == len(training.phases) - 1
        n = training.steps - done if last else round(share * training.steps)
        if n < 1:
            continue

        def get_batch(step: int, offset=done):
            step += offset
            rng = np.random.default_rng([seed, step])
            pool = problems[sizes[step % len(sizes)]]
            idx = rng.integers(0, len(pool), size=training.batch_size)
            return make_batch(pool[idx], scratch=scratch)

        config = TrainConfig(
            steps=n, lr=training.lr * factor, weight_decay=training.weight_decay,
            warmup_steps=training.warmup_steps if k == 0 else 0, grad_clip=1.0,
            log_every=min(50, n), eval_every=eval_every if eval_every < n else 0,
        )
        part = train(model, get_batch, loss_fn=loss_fn, config=config,
                     optimizer=optimizer, evaluate=evaluate, device="cpu",
                     desc=f"multiplication (lr x{factor:g})", callbacks=callbacks)
        base = history[-1]["time"] if history else 0.0
        history += [{**r, "step": r["step"] + done, "time": r["time"] + base}
                    for r in part if k == 0 or r["step"] > 0]  # no repeated evals
        done += n
    return history


def complete(
    model: Transformer, problems: np.ndarray, *, scratch: bool, batch_size: int = 500
) -> list[str]:
    """The model's greedy completions (text after the prompt, up to END)."""
    out: list[str] = []
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size].tolist()
        prompts = [encode(prompt(a, b)) for a, b in chunk]
        longest = max(len(prompt(a, b) + target(a, b, pad=scratch)) for a, b in chunk)
        T = max(map(len, prompts))
        idx = torch.full((len(chunk), T), STOI[PAD], dtype=torch.long)
        for r, ids in enumerate(prompts):
            idx[r, : len(ids)] = torch.tensor(ids)
        lengths = torch.tensor([len(p) for p in prompts])
        room = model.config.block_size - int(lengths.max()) + 1
        new = min(longest - int(lengths.min()) + 4, room)
        gen = model.generate(idx, new, lengths=lengths, end_token=STOI[END])
        for row in gen:
            text = decode(row)
            out.append(text.split(END)[0] + (END if END in text else ""))
    return out


@torch.no_grad()
def teacher_forced(
    model: Transformer, problems: np.ndarray, *, batch_size: int = 250
) -> list[dict[tuple, bool]]:
    """Each node right or not when the model reads the TRUE scratchpad before it.

    One forward pass per batch: the model's next-character guesses along the
    correct text; a node counts as right if every one of its characters is.
    This is the node's local accuracy with its parents (and everything before
    it) right, free of compounding.
    """
    out = []
    model.eval()
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size]
        x, y, _ = make_batch(chunk, scratch=True)
        hit = (model(x)[0].argmax(-1) == y).tolist()  # (B, T)
        for row, (a, b) in zip(hit, chunk.tolist(), strict=True):
            at = len(prompt(a, b)) - 1  # the guess for scratchpad character 0
            out.append({name: all(row[at + c] for c in range(s, e))
                        for name, (s, e) in node_spans(a, b).items()})
    return out
