"""Train the book's transformer on the mixture; measure decoding per condition.

Greedy exact match needs no generation: greedy decoding writes the true answer
exactly when, fed the true answer so far, the model's top character at every
answer position is the true next one. So one teacher-forced forward pass scores
a whole batch of prompts; only the wrong ones are decoded for real, to see
what the model wrote instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.device import torch_threads
from ..core.training import History, TrainConfig, train
from ..core.transformer import Transformer, TransformerConfig
from .cipher import (
    END,
    STOI,
    VOCAB_SIZE,
    Mixture,
    decode,
    decode_row,
    encode,
    make_mixture,
    to_tensors,
)
from .language import PLAINTEXT_SETS, Language, matched_sets


@dataclass(frozen=True)
class Setup:
    language: Language = Language()
    mixture: Mixture = Mixture()
    model: TransformerConfig = TransformerConfig(
        vocab_size=VOCAB_SIZE, block_size=80, n_layer=2, n_head=4, n_embd=64,
        positions="rope",
    )  # fmt: skip
    steps: int = 3000
    batch_size: int = 32
    lr: float = 3e-3
    warmup_steps: int = 100
    width: int = 34  # ciphertexts filled to this many characters (0: none)
    n_train: int = 60_000  # distinct training rows (the run sees each about once)
    n_test: int = 100  # held-out plaintexts per set
    eval_every: int = 250
    shifts: tuple[int, int] = (13, 12)  # (frequent, rare): both letter permutations
    sets: tuple[str, ...] = PLAINTEXT_SETS
    train_config: dict = field(default_factory=dict)  # more TrainConfig options

    def __post_init__(self):
        if len(self.shifts) != 2:
            raise ValueError(f"shifts is (frequent, rare), got {self.shifts}")
        if self.model.vocab_size != VOCAB_SIZE:
            raise ValueError(f"the model's vocab_size must be {VOCAB_SIZE}")


def batches(x: torch.Tensor, y: torch.Tensor, *, batch_size: int, seed: int):
    """get_batch(step): a random minibatch (a function of seed and step only),
    trimmed to its longest row."""

    def get_batch(step: int):
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
        idx = torch.randint(0, len(x), (batch_size,), generator=g)
        xb, yb = x[idx], y[idx]
        T = int((yb != -100).any(0).nonzero().max()) + 1
        return xb[:, :T], yb[:, :T]

    return get_batch


def loss_fn(model: Transformer, batch) -> torch.Tensor:
    x, y = batch
    return model(x, y)[1]


def test_plaintexts(setup: Setup, *, seed: int) -> dict[str, list[str]]:
    """The held-out plaintexts: matched sets, never in the training rows."""
    return matched_sets(setup.language, setup.n_test, seed=10_000 + seed)


@torch.no_grad()
def exact_match(model: Transformer, rows: list[tuple[str, str]]) -> np.ndarray:
    """(len(rows),) bool: does greedy decoding write each answer exactly?"""
    x, y = to_tensors(rows)
    logits, _ = model(x)
    hit = (logits.argmax(-1) == y) | (y == -100)
    return hit.all(1).numpy()


@torch.no_grad()
def greedy(model: Transformer, prompts: list[str], *, max_new: int = 40) -> list[str]:
    """The model's greedy answers to a batch of prompts, up to the full stop."""
    if not prompts:
        return []
    ids = [encode(p) for p in prompts]
    x = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
    for b, seq in enumerate(ids):
        x[b, : len(seq)] = torch.tensor(seq)
    out = model.generate(
        x, max_new, lengths=torch.tensor([len(s) for s in ids]), end_token=STOI[END]
    )
    return [decode(row).split(END)[0] for row in out]


def error_kinds(lang: Language, truths: list[str], outputs: list[str]) -> dict:
    """Where wrong answers go, at sentence level and at word level.

    sentence: the share of wrong outputs more probable under the language than
    the true plaintext. word: over wrong words at the same position (outputs
    with the right number of words), the share more probable than the true word,
    and the share that are vocabulary words."""
    pairs = [(t, o) for t, o in zip(truths, outputs, strict=True) if t != o]
    more = [lang.logprob(o) > lang.logprob(t) for t, o in pairs]
    words = [
        (tw, ow)
        for t, o in pairs
        if len(t.split(" ")) == len(o.split(" "))
        for tw, ow in zip(t.split(" "), o.split(" "), strict=True)
        if tw != ow
    ]
    w_more = [lang.word_logprob(o) > lang.word_logprob(t) for t, o in words]
    w_real = [o in lang.rank for _, o in words]
    nan = float("nan")
    return {
        "n_wrong": len(pairs),
        "sentence_more_probable": float(np.mean(more)) if more else nan,
        "n_wrong_words": len(words),
        "word_more_probable": float(np.mean(w_more)) if w_more else nan,
        "word_real": float(np.mean(w_real)) if w_real else nan,
    }


def evaluate(model: Transformer, setup: Setup, tests: dict[str, list[str]]) -> dict:
    """Exact match per (shift, set), each plaintext's log-probability, and what
    the wrong answers were."""
    lang = setup.language
    out: dict = {"acc": {}, "correct": {}, "outputs": {}, "errors": {}}
    truths_all, outputs_all = [], []
    for k in setup.shifts:
        for s in setup.sets:
            rows = [decode_row(t, k, width=setup.width) for t in tests[s]]
            ok = exact_match(model, rows)
            wrong = [i for i in range(len(rows)) if not ok[i]]
            written = greedy(model, [rows[i][0] for i in wrong])
            outputs = list(tests[s])
            for i, w in zip(wrong, written, strict=True):
                outputs[i] = w
            out["acc"][(k, s)] = float(ok.mean())
            out["correct"][(k, s)] = ok
            out["outputs"][(k, s)] = outputs
            out["errors"][(k, s)] = error_kinds(lang, tests[s], outputs)
            truths_all += tests[s]
            outputs_all += outputs
    out["errors"]["all"] = error_kinds(lang, truths_all, outputs_all)
    return out


def flat_record(ev: dict) -> dict[str, float]:
    """An evaluation as the float record the training history stores."""
    rec = {f"acc_{k}_{s}": v for (k, s), v in ev["acc"].items()}
    for key, e in ev["errors"].items():
        tag = "all" if key == "all" else f"{key[0]}_{key[1]}"
        for name in ("sentence_more_probable", "word_more_probable", "word_real"):
            if not math.isnan(e[name]):
                rec[f"{name}_{tag}"] = e[name]
        rec[f"n_wrong_{tag}"] = e["n_wrong"]
    return rec


def train_model(
    setup: Setup, *, seed: int, checkpoint=None, score: bool = True
) -> dict:
    """Train on the mixture, evaluating every `eval_every` steps (`score=False`:
    never; the losses alone, to retrace a recorded run cheaply).

    Returns the model, its history (losses and flat evaluation records) and the
    full evaluations by step."""
    tests = test_plaintexts(setup, seed=seed)
    held_out = frozenset(t for s in tests.values() for t in s)
    rows, ks = make_mixture(
        setup.language, setup.n_train, seed=seed, mixture=setup.mixture,
        exclude=held_out, width=setup.width,
    )  # fmt: skip
    x, y = to_tensors(rows)
    with torch_threads(1):
        torch.manual_seed(seed)
        model = Transformer(setup.model)
        evals: dict[int, dict] = {}

        def evaluate_now(m):
            ev = evaluate(m, setup, tests)
            evals[len(evals) * setup.eval_every] = ev
            return flat_record(ev)

        config = TrainConfig(
            steps=setup.steps,
            lr=setup.lr,
            warmup_steps=setup.warmup_steps,
            eval_every=setup.eval_every,
            log_every=50,
            grad_clip=1.0,
            **setup.train_config,
        )
        history = train(
            model,
            batches(x, y, batch_size=setup.batch_size, seed=seed),
            loss_fn=loss_fn,
            config=config,
            evaluate=evaluate_now if score else None,
            checkpoint=checkpoint,
            device="cpu",
            desc="embers",
        )
    evals = {
        int(r["step"]): ev
        for r, ev in zip(_eval_rows(history), evals.values(), strict=True)
    }
    return {
        "model": model.eval(),
        "history": history,
        "evals": evals,
        "tests": tests,
        "row_shifts": ks,
        "setup": setup,
        "seed": seed,
    }


def _eval_rows(history: History) -> list[dict]:
    return [r for r in history if any(k.startswith("acc_") for k in r)]
