"""Shift ciphers, the training mixture, and characters to token ids.

Every training row is one string that ends in an answer:

    plain text:        ">" + sentence + "."
    decode rot-k:      f"{k:02d}" + rot_k(sentence) + ">" + sentence + "."

The model is trained to predict the answer (the sentence and its full stop),
so plain text and decoding share one context: whatever follows ">" is a
sentence of the language. Shifts in the decoding rows are as skewed as on the
web: 13, 3 and 1 are common, the rest (12 among them) rare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .language import LETTERS, Language, sample_sentences

# Token ids: 0 is padding; then letters, space, digits and the three marks.
CHARS = LETTERS + " 0123456789>._"
PAD = 0
STOI = {c: i + 1 for i, c in enumerate(CHARS)}
ITOS = {i: c for c, i in STOI.items()}
VOCAB_SIZE = len(CHARS) + 1
SEP, END, FILL = ">", ".", "_"


def shift(text: str, k: int) -> str:
    """rot-k: every letter moves k places along the alphabet (wrapping round);
    spaces and anything else stay. Decoding rot-k is rot-(26 - k)."""
    if not isinstance(k, (int, np.integer)):
        raise ValueError(f"the shift must be an int, got {k!r}")
    k = int(k) % 26
    return "".join(
        LETTERS[(LETTERS.index(c) + k) % 26] if c in LETTERS else c for c in text
    )


def prompt(cipher: str, k: int, *, width: int = 0) -> str:
    """The prompt that asks for the decoding of `cipher`, a rot-k text,
    filled with "_" to `width` characters (0: no filling)."""
    if not 0 <= int(k) < 26:
        raise ValueError(f"the shift must be in 0..25, got {k}")
    if width and len(cipher) > width:
        raise ValueError(f"the text has {len(cipher)} characters, width is {width}")
    return f"{int(k):02d}{cipher.ljust(width, FILL)}{SEP}"


def decode_row(sentence: str, k: int, *, width: int = 0) -> tuple[str, str]:
    """(prompt, answer) of the row that decodes rot-k of `sentence`."""
    return prompt(shift(sentence, k), k, width=width), sentence + END


def plain_row(sentence: str) -> tuple[str, str]:
    return SEP, sentence + END


@dataclass(frozen=True)
class Mixture:
    plain: float = 0.5  # share of rows that are plain text
    # weight of each shift among the decoding rows; shifts not named share `rest`
    shifts: tuple[tuple[int, float], ...] = ((13, 0.45), (3, 0.2), (1, 0.2), (12, 0.04))
    rest: float = 0.11

    def __post_init__(self):
        if not 0 <= self.plain <= 1:
            raise ValueError(f"plain must be in [0, 1], got {self.plain}")
        ks = [k for k, _ in self.shifts]
        if len(set(ks)) != len(ks) or not all(1 <= k <= 25 for k in ks):
            raise ValueError(f"shifts must be distinct and in 1..25, got {ks}")
        if min([w for _, w in self.shifts] + [self.rest]) < 0:
            raise ValueError("shift weights must be >= 0")
        if abs(sum(w for _, w in self.shifts) + self.rest - 1) > 1e-9:
            raise ValueError("the shift weights and `rest` must sum to 1")

    def shift_probs(self) -> np.ndarray:
        """(26,) probability of each shift among decoding rows (0 never)."""
        p = np.zeros(26)
        named = dict(self.shifts)
        others = [k for k in range(1, 26) if k not in named]
        for k in range(1, 26):
            p[k] = named.get(k, self.rest / len(others) if others else 0.0)
        return p


def make_mixture(
    lang: Language,
    n: int,
    *,
    seed: int,
    mixture: Mixture = Mixture(),
    exclude: frozenset[str] | set[str] = frozenset(),
    width: int = 0,
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """`n` training rows (prompt, answer) and each row's shift (0: plain text).

    Sentences in `exclude` (the held-out test sentences) never appear."""
    rng = np.random.default_rng(seed)
    pool = [
        s for s in sample_sentences(lang, 2 * n + 16, seed=seed) if s not in exclude
    ]
    while len(pool) < n:  # only if `exclude` covers most of the language
        extra = sample_sentences(lang, n, seed=int(rng.integers(2**31)))
        pool += [s for s in extra if s not in exclude]
    plain = rng.random(n) < mixture.plain
    ks = rng.choice(26, n, p=mixture.shift_probs())
    ks[plain] = 0
    rows = [
        plain_row(s) if k == 0 else decode_row(s, int(k), width=width)
        for s, k in zip(pool[:n], ks, strict=True)
    ]
    return rows, ks


def encode(text: str) -> list[int]:
    try:
        return [STOI[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the alphabet") from None


def decode(ids) -> str:
    return "".join(ITOS.get(int(i), "") for i in ids)


def to_tensors(rows: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for next-character training, right-padded with 0: y[b, t] is
    the character after x[b, t] where it belongs to the answer, else -100
    (ignored by the loss). Shapes (B, T) with T the longest row minus one."""
    seqs = [(encode(p), encode(a)) for p, a in rows]
    T = max(len(p) + len(a) for p, a in seqs) - 1
    x = torch.zeros(len(rows), T, dtype=torch.long)
    y = torch.full((len(rows), T), -100, dtype=torch.long)
    for b, (p, a) in enumerate(seqs):
        ids = torch.tensor(p + a)
        x[b, : len(ids) - 1] = ids[:-1]
        y[b, len(p) - 1 : len(ids) - 1] = ids[len(p) :]
    return x, y
