"""Why the model fails: compounding, the error taxonomy, subgraph matching.

- `classify`: each node of a model's scratchpad is correct, a local error (wrong,
  and not its operation applied to the parents the model wrote), a propagation
  error (wrong, but exactly what follows from its wrong parents), a restoration
  (right although a parent is wrong), or missing (the scratchpad has the wrong
  shape: too few cells, digits or rows).
- `fit_eps`: the maximum-likelihood per-step error eps of P(correct) = (1-eps)^k.
- `pattern` / `pattern_counts`: a node's sub-computation is its operation with
  the values it reads from its parents; we count the training scratchpads that
  contain each one.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .multiplication import build_graph, evaluate

CATEGORIES = ("correct", "local", "propagation", "restoration", "missing")


def classify(truth: dict, predicted: dict) -> dict[tuple, str]:
    """The taxonomy category of every non-input node. `truth`: build_graph's
    nodes; `predicted`: parse_scratchpad's values (None where missing)."""
    out = {}
    for name, node in truth.items():
        if node.kind == "input":
            continue
        value = predicted.get(name)
        if value is None:
            out[name] = "missing"
            continue
        parents = {p: (truth[p].value if truth[p].kind == "input" else predicted[p])
                   for p in node.parents}
        parents_right = all(parents[p] == truth[p].value for p in node.parents)
        if value == node.value:
            out[name] = "correct" if parents_right else "restoration"
        elif None not in parents.values() and value == evaluate(name, parents):
            out[name] = "propagation"
        else:
            out[name] = "local"
    return out


def pattern(g: dict, name: tuple) -> tuple:
    """The sub-computation at node `name` of graph g: its kind and the values
    its operation reads from its parents (digits and carries, no positions)."""
    node, op = g[name], name[0]
    v = {p: g[p].value for p in node.parents}
    if op == "m":  # the two digits
        return ("m", *v.values())
    if op == "s":  # the product and the carry coming in
        carry = v["s", name[1] - 1, name[2]] // 10 if name[1] else 0
        return ("s", v["m", name[1], name[2]], carry)
    if op == "Q":  # the row's cells, and the shift
        return ("Q", name[1], tuple(v.values()))
    if op == "t":  # the column's digits and the carry coming in
        k = name[1]
        column = tuple((x // 10**k) % 10 for p, x in v.items() if p[0] == "Q")
        return ("t", column, v["t", k - 1] // 10 if k else 0)
    if op == "S":  # the residues of the columns
        return ("S", tuple(x % 10 for x in v.values()))
    raise ValueError(f"no pattern for node {name!r}")


def graph_patterns(a: int, b: int) -> dict[tuple, tuple]:
    """Every non-input node of a x b and its sub-computation."""
    g = build_graph(a, b)
    return {k: pattern(g, k) for k, n in g.items() if n.kind != "input"}


def pattern_counts(problems: np.ndarray) -> Counter:
    """For each sub-computation, the number of problems whose graph contains it."""
    counts: Counter = Counter()
    for a, b in np.asarray(problems).tolist():
        counts.update(set(graph_patterns(a, b).values()))
    return counts


def fit_eps(k: np.ndarray, correct: np.ndarray) -> float:
    """Maximum-likelihood eps for P(correct | k steps) = (1 - eps)^k.

    k (n,) steps per problem, correct (n,) 0/1. Found on a fine grid of
    log(1 - eps), which is exact enough for plotting and for the claims.
    """
    k, c = np.asarray(k, float), np.asarray(correct, float)
    if k.shape != c.shape or k.size == 0:
        raise ValueError("k and correct must be non-empty and of the same shape")
    ks, inverse = np.unique(k, return_inverse=True)
    right = np.bincount(inverse, weights=c)  # right answers per distinct k
    wrong = np.bincount(inverse) - right
    grid = np.geomspace(1e-5, 0.5, 4000)
    p = (1 - grid[:, None]) ** ks[None, :]  # (grid, distinct k)
    ll = right * np.log(p) + wrong * np.log1p(-np.minimum(p, 1 - 1e-12))
    return float(grid[np.argmax(ll.sum(1))])


def curve_r2(k: np.ndarray, acc: np.ndarray, eps: float) -> float:
    """R^2 of the curve (1-eps)^k against measured accuracies acc at k."""
    acc = np.asarray(acc, float)
    pred = (1 - eps) ** np.asarray(k, float)
    ss = ((acc - acc.mean()) ** 2).sum()
    return float(1 - ((acc - pred) ** 2).sum() / ss) if ss > 0 else float("nan")
