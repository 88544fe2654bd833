"""A synthetic language whose probability of every sentence is known exactly.

A sentence is 3 to 5 words, drawn independently; the number of words is
uniform. Each word is, with probability 1 - `noise`, a vocabulary word drawn
from a Zipfian distribution (the word of rank r has weight 1 / (r + 1) ** s),
and with probability `noise` a random string of letters (a name, a typo: the
long tail of real text). So every string of words has a probability:

    log P(sentence) = log P(n words) + sum_i log P(word_i),
    P(word) = (1 - noise) * zipf(word) + noise * P(len) * 26 ** -len(word).

The vocabulary gives every word length the same spread of ranks, so a sentence
of common words and one of rare words can have exactly the same word lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Language:
    n_words: int = 300  # vocabulary size
    zipf: float = 1.0  # exponent s of the rank-frequency law
    word_lengths: tuple[int, ...] = (2, 3, 4, 5, 6)
    sentence_words: tuple[int, ...] = (3, 4, 5)  # words per sentence, uniform
    noise: float = 0.02  # share of words that are random letter strings
    seed: int = 0  # which random words make up the vocabulary

    def __post_init__(self):
        if not isinstance(self.n_words, int) or self.n_words < len(self.word_lengths):
            raise ValueError(
                f"n_words must be an int >= {len(self.word_lengths)}, "
                f"got {self.n_words!r}"
            )
        if not (0 <= self.noise < 1):
            raise ValueError(f"noise must be in [0, 1), got {self.noise}")
        if self.zipf < 0:
            raise ValueError(f"zipf must be >= 0, got {self.zipf}")
        if not self.word_lengths or min(self.word_lengths) < 1:
            raise ValueError(f"word_lengths must be >= 1, got {self.word_lengths}")
        if not self.sentence_words or min(self.sentence_words) < 1:
            raise ValueError(f"sentence_words must be >= 1, got {self.sentence_words}")
        # enough distinct strings of the shortest length for its share of words
        per_length = -(-self.n_words // len(self.word_lengths))
        if 26 ** min(self.word_lengths) < 2 * per_length:
            raise ValueError("too many words for the shortest word length")

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The vocabulary, most frequent first; rank r has length
        word_lengths[r % len(word_lengths)]."""
        rng = np.random.default_rng(self.seed)
        out, seen = [], set()
        for r in range(self.n_words):
            length = self.word_lengths[r % len(self.word_lengths)]
            while True:
                w = "".join(rng.choice(list(LETTERS), length))
                if w not in seen:
                    break
            seen.add(w)
            out.append(w)
        return tuple(out)

    @cached_property
    def probs(self) -> np.ndarray:
        """(n_words,) Zipfian probabilities of the vocabulary, summing to 1."""
        w = 1.0 / np.arange(1, self.n_words + 1) ** self.zipf
        return w / w.sum()

    @cached_property
    def rank(self) -> dict[str, int]:
        return {w: r for r, w in enumerate(self.words)}

    def word_logprob(self, word: str) -> float:
        """Exact log P(word) for one word position (natural log; -inf if the
        word cannot occur: a wrong length or a character outside a-z)."""
        if not word or any(c not in LETTERS for c in word):
            return -math.inf
        p = 0.0
        if word in self.rank:
            p += (1 - self.noise) * float(self.probs[self.rank[word]])
        if len(word) in self.word_lengths:
            p += self.noise / len(self.word_lengths) * 26.0 ** -len(word)
        return math.log(p) if p > 0 else -math.inf

    def logprob(self, sentence: str) -> float:
        """Exact log P(sentence): words separated by single spaces; -inf for a
        string the language never produces."""
        if not isinstance(sentence, str):
            raise ValueError(f"a sentence is a str, got {type(sentence).__name__}")
        words = sentence.split(" ")
        if len(words) not in self.sentence_words:
            return -math.inf
        return -math.log(len(self.sentence_words)) + sum(
            self.word_logprob(w) for w in words
        )

    def band(self, name: str) -> list[int]:
        """Ranks of the "common" words (the top sixth) or the "rare" words (the
        bottom third), each band covering every word length."""
        n = self.n_words
        if name == "common":
            return list(range(max(len(self.word_lengths), n // 6)))
        if name == "rare":
            return list(range(n - n // 3, n))
        raise ValueError(f"band must be 'common' or 'rare', got {name!r}")


def sample_sentences(lang: Language, n: int, *, seed: int) -> list[str]:
    """`n` sentences drawn from the language (with its noise words)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    rng = np.random.default_rng(seed)
    counts = rng.choice(lang.sentence_words, n)
    total = int(counts.sum())
    ranks = rng.choice(lang.n_words, total, p=lang.probs)
    noisy = rng.random(total) < lang.noise
    lengths = rng.choice(lang.word_lengths, total)
    letters = rng.integers(0, 26, (total, max(lang.word_lengths)))
    words = [
        "".join(LETTERS[c] for c in letters[i, : lengths[i]])
        if noisy[i]
        else lang.words[ranks[i]]
        for i in range(total)
    ]
    out, k = [], 0
    for c in counts:
        out.append(" ".join(words[k : k + c]))
        k += c
    return out


PLAINTEXT_SETS = ("common", "rare", "non-words")


def matched_sets(lang: Language, n: int, *, seed: int) -> dict[str, list[str]]:
    """Three lists of `n` sentences with identical word lengths, sentence by
    sentence: common words, rare words (same vocabulary, bottom of the ranks)
    and non-words (random letters). Words are drawn uniformly within a band, so
    the sets differ in probability and nothing else."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    rng = np.random.default_rng(seed)
    by_length = {
        name: {
            L: [r for r in lang.band(name) if len(lang.words[r]) == L]
            for L in lang.word_lengths
        }
        for name in ("common", "rare")
    }
    out: dict[str, list[str]] = {name: [] for name in PLAINTEXT_SETS}
    for _ in range(n):
        lengths = rng.choice(lang.word_lengths, rng.choice(lang.sentence_words))
        for name in ("common", "rare"):
            ranks = [int(rng.choice(by_length[name][L])) for L in lengths]
            out[name].append(" ".join(lang.words[r] for r in ranks))
        junk = []
        for L in lengths:
            while True:  # a string that is no vocabulary word
                w = "".join(LETTERS[c] for c in rng.integers(0, 26, L))
                if w not in lang.rank:
                    break
            junk.append(w)
        out["non-words"].append(" ".join(junk))
    return out
