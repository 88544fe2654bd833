"""Sudoku puzzles with a unique solution: generator, exact solver, augmentations.

A grid is a flat sequence of `size * size` digits, row by row, with 0 for a blank.
Sizes: 4 (2x2 boxes), 6 (2x3 boxes: two rows, three columns) and 9 (3x3 boxes).

    data = make_sudoku(1000, size=6, givens=12, seed=0)    # puzzles + solutions
    count_solutions(data.puzzles[0], size=6)                # -> 1

The solver is a plain depth-first search on bitmasks that always branches on the
cell with the fewest candidates; it is the oracle the tests trust. A puzzle is in
the "search" tier when naked and hidden singles alone cannot finish it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}  # size -> (box rows, box columns)
TIERS = ("any", "search")


@dataclass(frozen=True)
class SudokuData:
    puzzles: torch.Tensor  # (N, size*size) int64, 0 = blank
    solutions: torch.Tensor  # (N, size*size) int64, digits 1..size
    size: int

    def __len__(self) -> int:
        return len(self.puzzles)


def check_size(size: int) -> tuple[int, int]:
    if size not in BOXES:
        raise ValueError(f"size must be one of {sorted(BOXES)}, got {size!r}")
    return BOXES[size]


@cache
def _units(size: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(box index of every cell, the cells of every row, column and box)."""
    br, bc = check_size(size)
    box_of = tuple((r // br) * br + c // bc for r in range(size) for c in range(size))
    rows = [tuple(r * size + c for c in range(size)) for r in range(size)]
    cols = [tuple(r * size + c for r in range(size)) for c in range(size)]
    boxes = [
        tuple(i for i in range(size * size) if box_of[i] == b) for b in range(size)
    ]
    return box_of, tuple(rows + cols + boxes)


def _as_list(grid, size: int) -> list[int]:
    cells = [int(v) for v in (grid.tolist() if hasattr(grid, "tolist") else grid)]
    if len(cells) != size * size or any(not 0 <= v <= size for v in cells):
        raise ValueError(
            f"a {size}x{size} grid needs {size * size} digits in 0..{size}, "
            f"got {len(cells)} values"
        )
    return cells


def _search(
    grid: list[int],
    size: int,
    *,
    limit: int,
    rng: random.Random | None = None,
    forbid: tuple[int, int] | None = None,
) -> tuple[int, list[int] | None]:
    """Depth-first search: (number of solutions found, up to `limit`; the first).

    `rng` shuffles the order digits are tried (to draw random full grids);
    `forbid=(cell, digit)` excludes one digit from one cell.
    """
    box_of, _ = _units(size)
    full = (1 << size) - 1
    rows, cols, boxes = [0] * size, [0] * size, [0] * size
    empties = []
    for i, v in enumerate(grid):
        if v:
            bit, r, c = 1 << (v - 1), i // size, i % size
            if (rows[r] | cols[c] | boxes[box_of[i]]) & bit:
                return 0, None  # the givens clash
            rows[r] |= bit
            cols[c] |= bit
            boxes[box_of[i]] |= bit
        else:
            empties.append(i)
    g, found, first = list(grid), [0], [None]

    def rec(todo: list[int]) -> bool:
        if not todo:
            found[0] += 1
            if first[0] is None:
                first[0] = list(g)
            return found[0] >= limit
        best, best_mask, best_k = -1, 0, size + 1
        for k, i in enumerate(todo):  # the cell with the fewest candidates
            m = full & ~(rows[i // size] | cols[i % size] | boxes[box_of[i]])
            if forbid is not None and i == forbid[0]:
                m &= ~(1 << (forbid[1] - 1))
            n = m.bit_count()
            if n < best_k:
                best, best_mask, best_k = k, m, n
                if n <= 1:
                    break
        if best_k == 0:
            return False
        i = todo[best]
        rest = todo[:best] + todo[best + 1 :]
        digits = [d for d in range(size) if best_mask >> d & 1]
        if rng is not None:
            rng.shuffle(digits)
        r, c, b = i // size, i % size, box_of[i]
        for d in digits:
            bit = 1 << d
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            g[i] = d + 1
            stop = rec(rest)
            rows[r] &= ~bit
            cols[c] &= ~bit
            boxes[b] &= ~bit
            g[i] = 0
            if stop:
                return True
        return False

    rec(empties)
    return found[0], first[0]


def count_solutions(puzzle, *, size: int, limit: int = 2) -> int:
    """How many solutions `puzzle` has, counting no further than `limit`."""
    return _search(_as_list(puzzle, size), size, limit=limit)[0]


def solve(puzzle, *, size: int) -> torch.Tensor:
    """The (first) solution of `puzzle`, as a (size*size,) tensor.

    Raises ValueError when the puzzle has no solution.
    """
    n, sol = _search(_as_list(puzzle, size), size, limit=1)
    if sol is None:
        raise ValueError("this puzzle has no solution")
    return torch.tensor(sol)


def is_solution(grid, *, size: int) -> bool:
    """True when every row, column and box of a full grid holds each digit once."""
    cells = _as_list(grid, size)
    _, units = _units(size)
    return all(sorted(cells[i] for i in u) == list(range(1, size + 1)) for u in units)


def solvable_by_singles(puzzle, *, size: int) -> bool:
    """True when naked and hidden singles alone fill the whole grid (no search)."""
    g = _as_list(puzzle, size)
    box_of, units = _units(size)
    peers = [set() for _ in g]
    for u in units:
        for i in u:
            peers[i].update(u)
    progress = True
    while progress and 0 in g:
        progress = False
        cand = {
            i: set(range(1, size + 1)) - {g[j] for j in peers[i]}
            for i in range(len(g))
            if not g[i]
        }
        for i, c in cand.items():  # naked single: one candidate left in a cell
            if len(c) == 1:
                g[i], progress = c.pop(), True
        if progress:
            continue
        for u in units:  # hidden single: a digit with one place left in a unit
            for d in set(range(1, size + 1)) - {g[i] for i in u}:
                places = [i for i in u if not g[i] and d in cand[i]]
                if len(places) == 1:
                    g[places[0]], progress = d, True
                    break
            if progress:
                break
    return 0 not in g


def _one_puzzle(size: int, givens: int, rng: random.Random) -> tuple[list, list]:
    """Draw a random full grid, then blank cells while the solution stays unique."""
    while True:
        _, solution = _search([0] * size * size, size, limit=1, rng=rng)
        puzzle = list(solution)
        order = list(range(size * size))
        rng.shuffle(order)
        left = size * size
        for i in order:
            if left == givens:
                return puzzle, solution
            v, puzzle[i] = puzzle[i], 0
            # unique iff no solution puts another digit in the blanked cell
            if _search(puzzle, size, limit=1, forbid=(i, v))[0]:
                puzzle[i] = v
            else:
                left -= 1
        if left == givens:
            return puzzle, solution
        # stuck above `givens` (every remaining given is needed): draw again


def _make_range(
    size: int, givens: int, seed: int, tier: str, start: int, stop: int
) -> tuple[list, list]:
    puzzles, solutions = [], []
    for i in range(start, stop):
        rng = random.Random(f"sudoku-{size}-{givens}-{tier}-{seed}-{i}")
        while True:
            p, s = _one_puzzle(size, givens, rng)
            if tier == "any" or not solvable_by_singles(p, size=size):
                break
        puzzles.append(p)
        solutions.append(s)
    return puzzles, solutions


def make_sudoku(
    n: int, *, size: int, givens: int, seed: int, tier: str = "any", workers: int = 1
) -> SudokuData:
    """`n` puzzles with exactly `givens` filled cells and a unique solution.

    Puzzle i depends only on (seed, i), so `workers` processes give the same set.
    tier="search" keeps only puzzles that naked and hidden singles cannot finish.
    """
    check_size(size)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    low = {4: 4, 6: 8, 9: 17}[size]  # fewer givens than this cannot be unique
    if not low <= givens < size * size:
        raise ValueError(f"givens for size {size} must be in [{low}, {size * size})")
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
    if workers <= 1 or n < 64:
        puzzles, solutions = _make_range(size, givens, seed, tier, 0, n)
    else:
        from concurrent.futures import ProcessPoolExecutor

        bounds = [n * k // (4 * workers) for k in range(4 * workers + 1)]
        pairs = zip(bounds[:-1], bounds[1:], strict=True)
        jobs = [(size, givens, seed, tier, a, b) for a, b in pairs]
        puzzles, solutions = [], []
        with ProcessPoolExecutor(workers) as pool:
            for p, s in pool.map(_make_range, *zip(*jobs, strict=True)):
                puzzles += p
                solutions += s
    return SudokuData(torch.tensor(puzzles), torch.tensor(solutions), size)


def cache_dir() -> Path:
    """Where generated puzzle sets are kept: $COMPGEN_CACHE or ~/.cache/compgen."""
    root = os.environ.get("COMPGEN_CACHE") or Path.home() / ".cache" / "compgen"
    return Path(root) / "sudoku"


def load_sudoku(
    n: int, *, size: int, givens: int, seed: int, tier: str = "any"
) -> SudokuData:
    """`make_sudoku`, cached on disk under a name made of its settings."""
    key = dict(n=n, size=size, givens=givens, seed=seed, tier=tier, version=1)
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    path = cache_dir() / f"sudoku{size}-g{givens}-{tier}-n{n}-s{seed}-{digest}.pt"
    if path.is_file():
        try:
            d = torch.load(path, weights_only=True)
            return SudokuData(d["puzzles"], d["solutions"], size)
        except Exception:  # a truncated or foreign file: make it again
            pass
    # big 9x9 sets use every core (puzzle i depends only on seed and i)
    workers = min(os.cpu_count() or 1, 16) if size == 9 and n >= 1000 else 1
    data = make_sudoku(
        n, size=size, givens=givens, seed=seed, tier=tier, workers=workers
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    torch.save({"puzzles": data.puzzles, "solutions": data.solutions, **key}, tmp)
    os.replace(tmp, path)
    return data


# ------------------------------------------------------------ augmentations


@dataclass(frozen=True)
class Symmetry:
    """One validity-preserving shuffle of a batch of grids (one per grid)."""

    digits: torch.Tensor  # (B, size+1): new label of each digit; 0 stays 0
    rows: torch.Tensor  # (B, size): row r of the new grid is row rows[r] of the old
    cols: torch.Tensor  # (B, size)
    transpose: torch.Tensor  # (B,) bool


def _grouped_perm(
    n_groups: int, group: int, batch: int, g: torch.Generator
) -> torch.Tensor:
    """Permutations of range(n_groups*group) that move whole groups and shuffle
    inside each group: band/stack order, then row/column order within it."""
    outer = torch.rand(batch, n_groups, generator=g).argsort(1)  # (B, n_groups)
    inner = torch.rand(batch, n_groups, group, generator=g).argsort(2)  # (B, n, g)
    return (outer[:, :, None] * group + inner).reshape(batch, n_groups * group)


def random_symmetry(size: int, batch: int, g: torch.Generator) -> Symmetry:
    """Draw a relabelling, row/band and column/stack permutation, transposition."""
    br, bc = check_size(size)
    perm = torch.rand(batch, size, generator=g).argsort(1) + 1
    digits = torch.cat([torch.zeros(batch, 1, dtype=torch.long), perm], 1)
    rows = _grouped_perm(size // br, br, batch, g)  # bands are `br` rows tall
    cols = _grouped_perm(size // bc, bc, batch, g)  # stacks are `bc` columns wide
    flip = torch.rand(batch, generator=g) < 0.5
    transpose = flip & (br == bc)  # a 2x3 box would become 3x2: not a symmetry
    return Symmetry(digits, rows, cols, transpose)


def apply_symmetry(grids: torch.Tensor, sym: Symmetry, size: int) -> torch.Tensor:
    """Apply one symmetry per row of `grids` (B, size*size); the same `sym` maps
    a puzzle and its solution consistently."""
    b = grids.shape[0]
    x = sym.digits.to(grids.device).gather(1, grids).view(b, size, size)
    x = x.gather(1, sym.rows.to(grids.device)[:, :, None].expand(b, size, size))
    x = x.gather(2, sym.cols.to(grids.device)[:, None, :].expand(b, size, size))
    x = torch.where(sym.transpose.to(grids.device)[:, None, None], x.mT, x)
    return x.reshape(b, size * size)


def augment(
    puzzles: torch.Tensor, solutions: torch.Tensor, *, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random symmetry of each (puzzle, solution) pair, seeded."""
    g = torch.Generator().manual_seed(int(seed))
    sym = random_symmetry(size, puzzles.shape[0], g)
    return apply_symmetry(puzzles, sym, size), apply_symmetry(solutions, sym, size)


# ------------------------------------------------------------- text in and out


def parse_puzzle(text: str, *, size: int) -> torch.Tensor:
    """Read a puzzle typed as digits, with 0, '.' or '_' for blanks.

    Spaces, newlines and the separators | - + are ignored, so both
    "1.3.\\n..." and a drawn grid work. Raises ValueError with the reason.
    """
    check_size(size)
    if not isinstance(text, str):
        raise ValueError(f"type the puzzle as text, got {type(text).__name__}")
    cells = []
    for ch in text:
        if ch in " \t\r\n|-+":
            continue
        if ch in "._0":
            cells.append(0)
        elif ch.isdigit() and 1 <= int(ch) <= size:
            cells.append(int(ch))
        else:
            raise ValueError(f"unexpected character {ch!r}: use digits 1-{size} or .")
    if len(cells) != size * size:
        raise ValueError(
            f"a {size}x{size} puzzle has {size * size} cells, got {len(cells)}"
        )
    if _search(cells, size, limit=1)[0] == 0:
        raise ValueError("this puzzle has no solution (check for clashing givens)")
    return torch.tensor(cells)


def format_grid(grid, *, size: int) -> str:
    """A grid as text, boxes separated, '.' for blanks."""
    cells = _as_list(grid, size)
    br, bc = BOXES[size]
    lines = []
    for r in range(size):
        if r and r % br == 0:
            lines.append("-" * (2 * size + 2 * (size // bc - 1) - 1))
        row = cells[r * size : (r + 1) * size]
        parts = [
            " ".join(str(v) if v else "." for v in row[c : c + bc])
            for c in range(0, size, bc)
        ]
        lines.append(" | ".join(parts))
    return "\n".join(lines)
