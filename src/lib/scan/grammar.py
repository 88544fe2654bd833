"""SCAN from its grammar: every command with its action sequence, and the splits.

The phrase-structure grammar of Lake & Baroni (2018), with its interpretation:

    C -> S and S | S after S | S            [[x and y]] = [[x]] [[y]]
                                            [[x after y]] = [[y]] [[x]]
    S -> V twice | V thrice | V             [[x twice]] = [[x]] [[x]]
    V -> D opposite DIR | D around DIR | D | U
    D -> U DIR | turn DIR                   [[u left]] = LTURN [[u]]
    U -> walk | look | run | jump           [[u opposite left]] = LTURN LTURN [[u]]
                                            [[u around left]] = (LTURN [[u]]) x 4

`turn` has no action of its own, so [[turn left]] = LTURN. The grammar
generates 20,910 distinct commands, exactly the public data set's.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from ..core.seeding import make_rng

PRIMITIVES = ("walk", "look", "run", "jump")
DIRECTIONS = ("left", "right")
ACTIONS = ("I_WALK", "I_LOOK", "I_RUN", "I_JUMP", "I_TURN_LEFT", "I_TURN_RIGHT")
MEANING = dict(zip(PRIMITIVES, ACTIONS[:4], strict=True))  # the true lexicon of SCAN
TURN = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
SPLITS = ("simple", "length", "addprim_jump", "addprim_turn_left")
# The public add-primitive training files repeat the bare primitive so that it
# makes up about a tenth of the lines: 1,467 x "jump", 2,189 x "turn left".
REPEATS = {"addprim_jump": ("jump", 1467), "addprim_turn_left": ("turn left", 2189)}
MAX_TRAIN_LENGTH = 22  # the length split trains on at most 22 actions

Pair = tuple[str, str]


def _verbs() -> list[str]:
    """Every V: the 34 one-verb phrases."""
    out = list(PRIMITIVES)
    for u in (*PRIMITIVES, "turn"):
        for d in DIRECTIONS:
            out += [f"{u} {d}", f"{u} opposite {d}", f"{u} around {d}"]
    return out


def _phrases() -> list[str]:
    """Every S: a verb phrase, twice or thrice (102 of them)."""
    return [f"{v}{r}" for v in _verbs() for r in ("", " twice", " thrice")]


def interpret(command: str, lexicon: Mapping[str, str] = MEANING) -> str:
    """The action sequence of a command, space-separated (`I_TURN_LEFT I_JUMP`).

    `lexicon` maps each primitive word to its action; metalearning episodes pass
    another one (any word may be a primitive there). Raises ValueError on a
    string the grammar does not generate.
    """
    words = command.split()
    if not words:
        raise ValueError("empty command")
    for conj in ("and", "after"):
        if conj in words:
            i = words.index(conj)
            x, y = " ".join(words[:i]), " ".join(words[i + 1 :])
            first, second = _phrase(x, lexicon), _phrase(y, lexicon)
            seq = first + second if conj == "and" else second + first
            return " ".join(seq)
    return " ".join(_phrase(command, lexicon))


def _phrase(text: str, lexicon: Mapping[str, str]) -> list[str]:
    words = text.split()
    repeat = {"twice": 2, "thrice": 3}.get(words[-1] if words else "", 1)
    if repeat > 1:
        words = words[:-1]
    return _verb(words, lexicon, text) * repeat


def _verb(words: list[str], lexicon: Mapping[str, str], text: str) -> list[str]:
    def bad() -> ValueError:
        return ValueError(f"not a SCAN command: {text!r}")

    if len(words) == 1 and words[0] in lexicon:
        return [lexicon[words[0]]]
    if len(words) not in (2, 3) or words[-1] not in DIRECTIONS:
        raise bad()
    u, d = words[0], words[-1]
    if u != "turn" and u not in lexicon:
        raise bad()
    step = [TURN[d]] + ([] if u == "turn" else [lexicon[u]])
    if len(words) == 2:
        return step
    if words[1] == "opposite":
        return [TURN[d]] + step
    if words[1] == "around":
        return step * 4
    raise bad()


def commands() -> list[Pair]:
    """All 20,910 SCAN commands with their action sequences, in a fixed order
    (a new list each call; the interpretation is computed once)."""
    return list(_commands())


@cache
def _commands() -> tuple[Pair, ...]:
    phrases = _phrases()
    cmds = list(phrases)
    for conj in ("and", "after"):
        cmds += [f"{a} {conj} {b}" for a in phrases for b in phrases]
    return tuple((c, interpret(c)) for c in cmds)


def has_primitive(command: str, primitive: str) -> bool:
    """Whether `primitive` ("jump", "turn left") occurs in the command."""
    return f" {primitive} " in f" {command} "


def split(name: str, *, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, test) lists of (command, actions) pairs for a SCAN split.

    simple: a random 80/20 split (by `seed`); length: train on action sequences
    of at most 22 actions, test on the longer ones; addprim_jump and
    addprim_turn_left: train on every command without the primitive plus the
    bare primitive repeated as in the public split, test on every other command
    with it. Sizes equal the public files'.
    """
    if name not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
    pairs = commands()
    if name == "simple":
        order = make_rng(seed).permutation(len(pairs))
        n_train = round(0.8 * len(pairs))
        return [pairs[i] for i in order[:n_train]], [pairs[i] for i in order[n_train:]]
    if name == "length":
        short = [p for p in pairs if len(p[1].split()) <= MAX_TRAIN_LENGTH]
        long = [p for p in pairs if len(p[1].split()) > MAX_TRAIN_LENGTH]
        return short, long
    prim, repeats = REPEATS[name]
    train = [p for p in pairs if not has_primitive(p[0], prim)]
    test = [p for p in pairs if has_primitive(p[0], prim) and p[0] != prim]
    train += [(prim, interpret(prim))] * repeats
    return train, test
