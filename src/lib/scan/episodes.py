"""Token ids for SCAN, and the metalearning episodes.

A baseline example is a command and its actions. A metalearning episode gives
the network four *study examples* (a word alone and its action, `dax ->
I_RUN`) followed by a *query*: a training command whose primitive words were
renamed to study words, its actions computed under the episode's meanings. The
meanings are a fresh random assignment of the four primitive actions in every
episode, so no word has a fixed meaning: the network must read it from the study
examples. At test, the study examples are the four true primitives
(`walk -> I_WALK`, ..., `jump -> I_JUMP`).

What the metalearner is given, and what it never sees:
- queries come from the split's training commands only;
- a word the split holds out (add-jump: `jump`) never appears in a composed
  query; it appears only alone, as in the training set, and as a study word;
- any query that happens to equal a test pair is masked out of the loss.
So no training signal pairs a test command with its true actions
(`tests/test_scan.py` checks this on many episodes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .grammar import ACTIONS, MEANING, PRIMITIVES, Pair
from .model import BOS, EOS, PAD, TARGETS

WORDS = (
    "turn",
    "left",
    "right",
    "opposite",
    "around",
    "twice",
    "thrice",
    "and",
    "after",
)
# Made-up primitive words: in episodes they stand where walk, look or run stood.
NONCE = (
    "dax",
    "wif",
    "lug",
    "zup",
    "fep",
    "kiki",
    "blicket",
    "tufa",
    "gazzer",
    "mek",
    "toma",
    "rix",
    "pilk",
    "vorn",
    "sple",
    "gorp",
    "nib",
    "quell",
    "yeb",
    "wug",
)
VOCAB = ("<pad>", *PRIMITIVES, *WORDS, *NONCE, *ACTIONS)
ID = {w: i for i, w in enumerate(VOCAB)}
TID = {a: i for i, a in enumerate(TARGETS)}
MAX_CMD, MAX_ACT = 9, 48
N_STUDY = 4
BUCKETS = (4, 8, 12, 16, 24, 32, 48)  # batches draw targets of similar length


def bucket_sampler(lengths: np.ndarray, batch_size: int, seed: int):
    """`indices(step)`: a batch from one length bucket (chosen in proportion to
    its size), drawn with replacement. Padding to the batch's longest target
    then costs little, which makes a CPU step about three times cheaper."""
    edges = np.searchsorted(BUCKETS, lengths)  # bucket of each example
    members = [np.flatnonzero(edges == b) for b in range(len(BUCKETS))]
    members = [m for m in members if len(m)]
    weights = np.array([len(m) for m in members], float)
    weights /= weights.sum()

    def indices(step: int) -> np.ndarray:
        rng = np.random.default_rng([seed, step, 1])
        m = members[rng.choice(len(members), p=weights)]
        return m[rng.integers(0, len(m), batch_size)]

    return indices


def trim(src: torch.Tensor, tin: torch.Tensor, tout: torch.Tensor):
    """Drop the padding columns every row of the batch shares."""
    T = int((tout != PAD).sum(1).max().clamp(min=1))
    return src, tin[:, :T], tout[:, :T]


def encode_source(commands: list[str]) -> torch.Tensor:
    """Commands -> (B, 9) token ids, padded."""
    out = torch.full((len(commands), MAX_CMD), ID["<pad>"], dtype=torch.long)
    for i, c in enumerate(commands):
        ids = [ID[w] for w in c.split()]
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def encode_targets(actions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Action strings -> decoder input (<s> a..) and targets (a.. </s>), (B, 49)."""
    B = len(actions)
    tin = torch.full((B, MAX_ACT + 1), PAD, dtype=torch.long)
    tout = torch.full((B, MAX_ACT + 1), PAD, dtype=torch.long)
    for i, a in enumerate(actions):
        ids = [TID[x] for x in a.split()]
        tin[i, : len(ids) + 1] = torch.tensor([BOS, *ids])
        tout[i, : len(ids) + 1] = torch.tensor([*ids, EOS])
    return tin, tout


def decode_targets(ids: torch.Tensor) -> list[str]:
    """(B, L) decoder ids -> action strings (cut at </s>)."""
    out = []
    for row in ids.tolist():
        words = []
        for t in row:
            if t in (EOS, PAD):
                break
            words.append(TARGETS[t])
        out.append(" ".join(words))
    return out


def study_tokens(lexicon: dict[str, str]) -> list[str]:
    """`w1 A1 w2 A2 ...`: the study examples of a lexicon, as (word, action)."""
    return [t for w, a in lexicon.items() for t in (w, a)]


def encode_with_study(commands: list[str], lexicon: dict[str, str] = MEANING):
    """Commands followed by the same study examples: (B, 9 + 2 * 4) ids."""
    study = torch.tensor([ID[t] for t in study_tokens(lexicon)])
    return torch.cat([encode_source(commands), study.expand(len(commands), -1)], 1)


def split_source(src: torch.Tensor) -> tuple[list[str], dict[str, str]]:
    """The first row of an episode batch as (command words, study meanings)."""
    row = src.tolist()
    cmd = [VOCAB[w] for w in row[:MAX_CMD] if w]
    study = row[MAX_CMD:]
    return cmd, {VOCAB[study[i]]: VOCAB[study[i + 1]] for i in range(0, len(study), 2)}


@dataclass
class Templates:
    """The training commands with their primitive words as numbered slots."""

    src: np.ndarray  # (N, 9) word ids
    src_slot: np.ndarray  # (N, 9) slot of a primitive word, -1 elsewhere
    tgt: np.ndarray  # (N, 48) action target ids (PAD after the end)
    tgt_slot: np.ndarray  # (N, 48) slot whose meaning the action is, -1 elsewhere
    n_slots: np.ndarray  # (N,) distinct primitive words: 0, 1 or 2
    composed: np.ndarray  # (N,) more than one word


def templates(pairs: list[Pair]) -> Templates:
    N = len(pairs)
    src = np.zeros((N, MAX_CMD), np.int64)
    src_slot = -np.ones((N, MAX_CMD), np.int64)
    tgt = np.zeros((N, MAX_ACT), np.int64)
    tgt_slot = -np.ones((N, MAX_ACT), np.int64)
    n_slots, composed = np.zeros(N, np.int64), np.zeros(N, bool)
    for i, (c, a) in enumerate(pairs):
        words = c.split()
        slots = list(dict.fromkeys(w for w in words if w in MEANING))
        action_slot = {MEANING[w]: k for k, w in enumerate(slots)}
        for j, w in enumerate(words):
            src[i, j] = ID[w]
            src_slot[i, j] = slots.index(w) if w in MEANING else -1
        for j, x in enumerate(a.split()):
            tgt[i, j] = TID[x]
            tgt_slot[i, j] = action_slot.get(x, -1)
        n_slots[i], composed[i] = len(slots), len(words) > 1
    return Templates(src, src_slot, tgt, tgt_slot, n_slots, composed)


class EpisodeSampler:
    """`get_batch(step)` for metalearning: a batch of random episodes.

    `held_out` words never fill a slot of a composed query; `test` pairs are
    masked out of the loss if an episode reproduces one.
    """

    def __init__(
        self,
        train: list[Pair],
        test: list[Pair],
        *,
        held_out=(),
        batch_size: int = 128,
        seed: int = 0,
        nonce: int = len(NONCE),
    ):
        if not 0 <= nonce <= len(NONCE):
            raise ValueError(f"nonce must be in [0, {len(NONCE)}], got {nonce}")
        self.t = templates(train)
        self.pool = np.array([ID[w] for w in (*PRIMITIVES, *NONCE[:nonce])])
        self.held = np.array([ID[w] for w in held_out], dtype=np.int64)
        self.test = set(test)
        self.true = {ID[w]: TID[a] for w, a in MEANING.items()}
        self.batch_size, self.seed = batch_size, seed
        self.indices = bucket_sampler((self.t.tgt != PAD).sum(1), batch_size, seed)
        self.prim_actions = np.array([TID[a] for a in ACTIONS[:4]])

    def __call__(self, step: int) -> tuple[torch.Tensor, ...]:
        rng = np.random.default_rng([self.seed, step])
        t, B = self.t, self.batch_size
        idx = self.indices(step)
        # four distinct study words per episode, a random permutation of actions
        words = self.pool[np.argsort(rng.random((B, len(self.pool))), 1)[:, :N_STUDY]]
        acts = self.prim_actions[np.argsort(rng.random((B, N_STUDY)), 1)]
        if len(self.held):  # a held-out word fills no slot of a composed query
            for k in range(2):
                bad = np.isin(words[:, k], self.held) & t.composed[idx]
                bad &= k < t.n_slots[idx]
                words[bad, k], words[bad, 3] = words[bad, 3], words[bad, k]
        src_slot, tgt_slot = t.src_slot[idx], t.tgt_slot[idx]
        rows = np.arange(B)[:, None]
        src = np.where(src_slot >= 0, words[rows, np.maximum(src_slot, 0)], t.src[idx])
        tgt = np.where(tgt_slot >= 0, acts[rows, np.maximum(tgt_slot, 0)], t.tgt[idx])
        order = np.argsort(rng.random((B, N_STUDY)), 1)  # study examples shuffled
        study = np.stack(
            [
                col
                for k in range(N_STUDY)
                for col in (
                    words[np.arange(B), order[:, k]],
                    acts[np.arange(B), order[:, k]] - TID[ACTIONS[0]] + ID[ACTIONS[0]],
                )
            ],
            1,
        )
        keep = self._not_test(src, tgt)
        return self._tensors(np.concatenate([src, study], 1), tgt, keep)

    def _not_test(self, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
        """False for a query that equals a test pair (its loss is masked)."""
        keep = np.ones(len(src), bool)
        for i in range(len(src)):
            cmd = " ".join(VOCAB[w] for w in src[i] if w != ID["<pad>"])
            act = " ".join(TARGETS[a] for a in tgt[i] if a != PAD)
            keep[i] = (cmd, act) not in self.test
        return keep

    @staticmethod
    def _tensors(src, tgt, keep):
        B = len(tgt)
        lengths = (tgt != PAD).sum(1)
        tin = np.zeros((B, MAX_ACT + 1), np.int64)
        tout = np.zeros((B, MAX_ACT + 1), np.int64)
        tin[:, 0], tin[:, 1:] = BOS, tgt
        tout[:, :MAX_ACT] = tgt
        tout[np.arange(B), lengths] = EOS
        tout[~keep] = PAD
        return trim(
            torch.from_numpy(src), torch.from_numpy(tin), torch.from_numpy(tout)
        )
