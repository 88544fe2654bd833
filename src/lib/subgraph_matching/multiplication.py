"""Multi-digit multiplication as a computation graph, and its scratchpad.

a x b is computed the schoolbook way, and every intermediate value is a node:

    inputs       a_i, b_j                 the digits, i = 0 the least significant
    product      m_ij = a_i * b_j         one-digit products (0..81)
    carry-add    s_ij = m_ij + carry(s_{i-1,j})   a two-digit value whose digits
                 are the carry (s // 10) and the residue (s % 10)
    partial      Q_j = a * b_j * 10^j     read off the residues of row j and its
                 last carry, shifted by j
    column       t_k = sum_j digit_k(Q_j) + carry(t_{k-1})   the final addition,
                 one column at a time, again carry and residue
    answer       S = a * b                the residues of the columns

Depth is the longest path from an input digit; width the number of nodes at a
depth. The scratchpad writes every non-input node in this order, numbers least
significant digit first (the order the carries flow), the question too:

    321*54=1515 1011 0506|5160;1212 0809 0404|02940;05 03 15 05 00|53550$

row j: one "m s" cell per digit of a (two digits each), then "|" Q_j (da+1+j
digits, reversed); then the columns t_k (two digits each), "|" and the answer
(da+db digits, reversed), "$" to end. Without the scratchpad the target is
only "53550$". (For the reader, `pretty` writes it the usual way round.)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..core.seeding import make_rng

END = "$"
VOCAB = "0123456789*=| ;$"  # "_" never occurs: padding
PAD = "_"
KINDS = ("input", "product", "carry-add", "partial", "column", "answer")


@dataclass(frozen=True)
class Node:
    name: tuple  # ("m", i, j), ("s", i, j), ("Q", j), ("t", k), ("S",), ("a", i)
    kind: str  # one of KINDS
    parents: tuple  # names of the parent nodes
    value: int
    depth: int


def digits(x: int, width: int) -> list[int]:
    """The `width` digits of x, least significant first."""
    return [(x // 10**k) % 10 for k in range(width)]


def check_problem(a: int, b: int) -> tuple[int, int]:
    for name, x in (("a", a), ("b", b)):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
            raise ValueError(f"{name} must be a positive int, got {x!r}")
    return len(str(int(a))), len(str(int(b)))


def evaluate(name: tuple, parents: dict[tuple, int]) -> int:
    """A node's operation applied to its parents' values (carries taken from them).

    `parents` maps each parent's name to a value (the true ones, or those a
    model wrote). The graph's own values are built with this function.
    """
    op = name[0]
    if op == "m":  # one-digit product
        return parents["a", name[1]] * parents["b", name[2]]
    if op == "s":  # the product plus the carry of the previous cell
        i, j = name[1:]
        carry = parents["s", i - 1, j] // 10 if i else 0
        return parents["m", i, j] + carry
    if op == "Q":  # residues of row j, then its last carry, shifted by j
        j = name[1]
        cells = sorted(p for p in parents if p[0] == "s")
        value = sum((parents[c] % 10) * 10**i for i, c in enumerate(cells))
        value += (parents[cells[-1]] // 10) * 10 ** len(cells)
        return value * 10**j
    if op == "t":  # digit k of every partial, plus the previous column's carry
        k = name[1]
        total = sum((v // 10**k) % 10 for p, v in parents.items() if p[0] == "Q")
        return total + (parents["t", k - 1] // 10 if k else 0)
    if op == "S":  # the residues of the columns
        return sum((v % 10) * 10 ** p[1] for p, v in parents.items())
    raise ValueError(f"no operation for node {name!r}")


def build_graph(a: int, b: int) -> dict[tuple, Node]:
    """Every node of a x b, by name, in the order the scratchpad writes them."""
    da, db = check_problem(a, b)
    nodes: dict[tuple, Node] = {}

    def add(name, kind, parents, value=None):
        if value is None:
            value = evaluate(name, {p: nodes[p].value for p in parents})
        depth = 1 + max((nodes[p].depth for p in parents), default=-1)
        nodes[name] = Node(name, kind, tuple(parents), int(value), depth)

    for i, d in enumerate(digits(a, da)):
        add(("a", i), "input", (), d)
    for j, d in enumerate(digits(b, db)):
        add(("b", j), "input", (), d)
    for j in range(db):
        for i in range(da):
            add(("m", i, j), "product", [("a", i), ("b", j)])
            add(("s", i, j), "carry-add", [("m", i, j)] + ([("s", i - 1, j)] * (i > 0)))
        add(("Q", j), "partial", [("s", i, j) for i in range(da)])
    for k in range(da + db):
        column = [("Q", j) for j in range(db) if k < da + 1 + j]
        add(("t", k), "column", column + [("t", k - 1)] * (k > 0))
    add(("S",), "answer", [("t", k) for k in range(da + db)])
    return nodes


def graph_stats(nodes: dict[tuple, Node]) -> dict[str, float]:
    """Depth, width (most nodes at one depth), |V| and average parallelism."""
    depths = [n.depth for n in nodes.values()]
    width = max(np.bincount(depths))
    depth = max(depths)
    return {"depth": depth, "width": int(width), "nodes": len(nodes),
            "parallelism": len(nodes) / depth}


def steps(a: int, b: int) -> int:
    """The number of computation steps: the non-input nodes of the graph."""
    return sum(n.kind != "input" for n in build_graph(a, b).values())


def _rev(x: int, width: int) -> str:
    return "".join(str(d) for d in digits(x, width))


def prompt(a: int, b: int) -> str:
    """The question, both factors least significant digit first: 123 x 45 is
    "321*54=" (so digit i of a sits at the same place whatever a's length)."""
    check_problem(a, b)
    return f"{str(a)[::-1]}*{str(b)[::-1]}="


def scratchpad(a: int, b: int) -> str:
    """The text after the prompt: every intermediate node, then the answer."""
    return "".join(text for text, _ in _fields(a, b))


def node_spans(a: int, b: int) -> dict[tuple, tuple[int, int]]:
    """Where each node is written in the scratchpad: {name: (start, end)}."""
    spans, at = {}, 0
    for text, name in _fields(a, b):
        if name is not None:
            spans[name] = (at, at + len(text))
        at += len(text)
    return spans


def _fields(a: int, b: int) -> list[tuple[str, tuple | None]]:
    """The scratchpad as (text, node name or None for separators)."""
    da, db = check_problem(a, b)
    g = build_graph(a, b)
    out: list[tuple[str, tuple | None]] = []
    for j in range(db):
        for i in range(da):
            if i:
                out.append((" ", None))
            out.append((f"{g['m', i, j].value:02d}", ("m", i, j)))
            out.append((f"{g['s', i, j].value:02d}", ("s", i, j)))
        out += [("|", None), (_rev(g["Q", j].value, da + 1 + j), ("Q", j)),
                (";", None)]
    for k in range(da + db):
        if k:
            out.append((" ", None))
        out.append((f"{g['t', k].value:02d}", ("t", k)))
    out += [("|", None), (_rev(a * b, da + db), ("S",)), (END, None)]
    return out


def answer(a: int, b: int) -> str:
    """The answer alone: da+db digits, least significant first, then END."""
    da, db = check_problem(a, b)
    return _rev(a * b, da + db) + END


def target(a: int, b: int, *, pad: bool) -> str:
    return scratchpad(a, b) if pad else answer(a, b)


def _number(text: str) -> int | None:
    """A reversed digit string as an int (None unless it is all digits)."""
    if not text or not text.isdigit():
        return None
    return int(text[::-1])


def parse_answer(text: str) -> int | None:
    """The answer the model wrote (after the last "|" if any), or None."""
    text = text.split(END)[0]
    return _number(text.rsplit("|", 1)[-1])


def parse_scratchpad(text: str, a: int, b: int) -> dict[tuple, int | None]:
    """Read a model's scratchpad back into node values (None: absent or garbled).

    Parsing follows the structure the graph of a x b expects, field by field:
    a row with too few cells leaves the missing nodes None, extra text is
    ignored, so a scratchpad of the wrong shape is visible as missing nodes.
    """
    da, db = check_problem(a, b)
    out: dict[tuple, int | None] = {
        name: None for name, n in build_graph(a, b).items() if n.kind != "input"
    }
    parts = text.split(END)[0].split(";")
    for j in range(db):
        if j >= len(parts):
            break
        cells, _, partial = parts[j].partition("|")
        for i, cell in enumerate(cells.split(" ")[:da]):
            if len(cell) == 4 and cell.isdigit():
                out["m", i, j], out["s", i, j] = int(cell[:2]), int(cell[2:])
        if len(partial) == da + 1 + j:
            out["Q", j] = _number(partial)
    if len(parts) > db:
        columns, _, final = parts[db].partition("|")
        for k, col in enumerate(columns.split(" ")[: da + db]):
            if len(col) == 2 and col.isdigit():
                out["t", k] = int(col)
        if len(final) == da + db:
            out["S",] = _number(final)
    return out


def sizes_up_to(max_a: int, max_b: int) -> list[tuple[int, int]]:
    """Every (digits of a, digits of b) with da >= db, up to the bounds."""
    return [(da, db) for da in range(1, max_a + 1) for db in range(1, min(da, max_b)
            + 1)]


def all_problems(da: int, db: int) -> np.ndarray:
    """Every (a, b) with exactly da and db digits, shape (n, 2)."""
    a = np.arange(10 ** (da - 1), 10**da)
    b = np.arange(10 ** (db - 1), 10**db)
    return np.array(list(itertools.product(a, b)), dtype=np.int64)


def sample_problems(da: int, db: int, n: int, *, seed: int) -> np.ndarray:
    """n distinct problems of one size (all of them if there are fewer), (n, 2)."""
    if da < 1 or db < 1 or n < 1:
        raise ValueError(f"need da, db, n >= 1, got {da}, {db}, {n}")
    total = 9 * 10 ** (da - 1) * 9 * 10 ** (db - 1)
    rng = make_rng(seed)
    flat = rng.choice(total, size=min(n, total), replace=False)
    a = 10 ** (da - 1) + flat // (9 * 10 ** (db - 1))
    b = 10 ** (db - 1) + flat % (9 * 10 ** (db - 1))
    return np.stack([a, b], axis=1).astype(np.int64)


def make_split(
    train_sizes: list[tuple[int, int]],
    test_sizes: list[tuple[int, int]],
    *,
    n_train: int,
    n_test: int,
    seed: int,
) -> tuple[dict, dict]:
    """Training and test problems per size: ({size: (n, 2)}, {size: (m, 2)}).

    For a trained size, the test problems are held out of its training
    problems (at most a fifth of the size's problems are held out); the other
    test sizes are never trained.
    """
    train, test = {}, {}
    for k, (da, db) in enumerate(sorted(set(train_sizes) | set(test_sizes))):
        pool = sample_problems(da, db, n_train + n_test, seed=seed * 1000 + k)
        if (da, db) in train_sizes:
            held = min(n_test, len(pool) // 5)
            test[da, db], train[da, db] = pool[:held], pool[held:]
        else:
            test[da, db] = pool[:n_test]
    return train, test
