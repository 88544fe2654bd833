"""Sudoku: the solver oracle, unique puzzles, the search tier, augmentations."""

from __future__ import annotations

import itertools

import pytest
import torch

from compgen.trm import sudoku as sd

# a known 4x4 puzzle with one solution, and one with two
UNIQUE_4 = [1, 0, 0, 0,
            0, 0, 3, 0,
            0, 4, 0, 0,
            0, 0, 0, 2]  # fmt: skip
TWO_4 = [1, 2, 0, 0,
         3, 4, 0, 0,
         0, 0, 0, 0,
         0, 0, 0, 0]  # fmt: skip


def brute_force_count(puzzle: list[int], size: int) -> int:
    """Every way to fill the blanks, checked one by one: the slow, sure oracle."""
    blanks = [i for i, v in enumerate(puzzle) if v == 0]
    count = 0
    for digits in itertools.product(range(1, size + 1), repeat=len(blanks)):
        grid = list(puzzle)
        for i, d in zip(blanks, digits, strict=True):
            grid[i] = d
        count += sd.is_solution(grid, size=size)
    return count


def test_solver_agrees_with_brute_force_on_4x4():
    data = sd.make_sudoku(6, size=4, givens=10, seed=3)
    rng = torch.Generator().manual_seed(0)
    for p in data.puzzles.tolist():
        assert brute_force_count(p, 4) == sd.count_solutions(p, size=4, limit=10) == 1
        # blank two more cells: the oracle and the solver must still agree
        q = list(p)
        for i in torch.randperm(16, generator=rng)[:3].tolist():
            q[i] = 0
        assert sd.count_solutions(q, size=4, limit=100) == brute_force_count(q, 4)
    assert sd.count_solutions(UNIQUE_4, size=4) == 1
    assert sd.count_solutions(TWO_4, size=4) == 2
    clash = [1, 1] + [0] * 14
    assert sd.count_solutions(clash, size=4) == 0
    with pytest.raises(ValueError, match="no solution"):
        sd.solve(clash, size=4)


@pytest.mark.parametrize("size, givens", [(4, 5), (6, 12), (9, 30)])
def test_generated_puzzles_are_unique_and_consistent(size, givens):
    data = sd.make_sudoku(8, size=size, givens=givens, seed=0)
    assert data.puzzles.shape == (8, size * size) == data.solutions.shape
    for p, s in zip(data.puzzles, data.solutions, strict=True):
        assert int((p > 0).sum()) == givens
        assert sd.is_solution(s, size=size)
        assert torch.equal(p[p > 0], s[p > 0])  # the givens agree with the answer
        assert sd.count_solutions(p, size=size) == 1
        assert torch.equal(sd.solve(p, size=size), s)


def test_generation_is_pure_and_seeded():
    a = sd.make_sudoku(5, size=6, givens=12, seed=1)
    b = sd.make_sudoku(5, size=6, givens=12, seed=1)
    c = sd.make_sudoku(5, size=6, givens=12, seed=2)
    assert torch.equal(a.puzzles, b.puzzles)
    assert not torch.equal(a.puzzles, c.puzzles)
    # puzzle i depends only on (seed, i): a longer set starts with the shorter one
    longer = sd.make_sudoku(7, size=6, givens=12, seed=1)
    assert torch.equal(longer.puzzles[:5], a.puzzles)


def test_search_tier_needs_more_than_singles():
    easy = sd.make_sudoku(20, size=9, givens=34, seed=0)
    assert any(sd.solvable_by_singles(p, size=9) for p in easy.puzzles)
    hard = sd.make_sudoku(3, size=9, givens=26, seed=0, tier="search")
    for p, s in zip(hard.puzzles, hard.solutions, strict=True):
        assert not sd.solvable_by_singles(p, size=9)
        assert sd.count_solutions(p, size=9) == 1 and sd.is_solution(s, size=9)
    assert sd.solvable_by_singles(hard.solutions[0], size=9)  # a full grid is done


def test_singles_solver_by_hand():
    # one blank: a naked single
    s = sd.make_sudoku(1, size=4, givens=8, seed=0).solutions[0].clone()
    s[5] = 0
    assert sd.solvable_by_singles(s, size=4)


@pytest.mark.parametrize("size", [4, 6, 9])
def test_augmentations_preserve_validity_and_uniqueness(size):
    givens = {4: 6, 6: 12, 9: 30}[size]
    data = sd.make_sudoku(6, size=size, givens=givens, seed=5)
    p, s = sd.augment(data.puzzles, data.solutions, size=size, seed=0)
    assert not torch.equal(p, data.puzzles)
    for before, q, t in zip(data.puzzles, p, s, strict=True):
        assert sd.is_solution(t, size=size)
        assert torch.equal(q[q > 0], t[q > 0])
        assert int((q > 0).sum()) == givens
        assert sd.count_solutions(q, size=size) == 1
        assert torch.equal(sd.solve(q, size=size), t)
        # relabelling keeps how often each digit is given, as a multiset
        counts = sorted(torch.bincount(before[before > 0], minlength=size + 1)[1:])
        assert counts == sorted(torch.bincount(q[q > 0], minlength=size + 1)[1:])


def test_symmetries_cover_bands_stacks_and_transpose():
    g = torch.Generator().manual_seed(0)
    sym = sd.random_symmetry(9, 200, g)
    bands = sym.rows // 3  # rows stay within their band as a block
    assert all(len(set(b[i : i + 3].tolist())) == 1 for b in bands for i in (0, 3, 6))
    assert len({tuple(b[::3].tolist()) for b in bands}) > 1  # bands are permuted
    assert 0 < int(sym.transpose.sum()) < 200
    assert torch.equal(sym.digits[:, 0], torch.zeros(200, dtype=torch.long))
    six = sd.random_symmetry(6, 50, g)
    assert not bool(six.transpose.any())  # 2x3 boxes would become 3x2


def test_parse_and_format():
    p = sd.make_sudoku(1, size=6, givens=12, seed=0).puzzles[0]
    text = sd.format_grid(p, size=6)
    assert torch.equal(sd.parse_puzzle(text, size=6), p)
    for bad, match in [
        ("12", "36 cells"),
        ("x" * 36, "unexpected character"),
        ("7" + "." * 35, "unexpected character"),
        ("11" + "." * 34, "no solution"),
        (None, "as text"),
    ]:
        with pytest.raises(ValueError, match=match):
            sd.parse_puzzle(bad, size=6)
    with pytest.raises(ValueError, match="size"):
        sd.make_sudoku(1, size=5, givens=10, seed=0)
    with pytest.raises(ValueError, match="givens"):
        sd.make_sudoku(1, size=9, givens=10, seed=0)
    with pytest.raises(ValueError, match="tier"):
        sd.make_sudoku(1, size=4, givens=6, seed=0, tier="fiendish")


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPGEN_CACHE", str(tmp_path))
    a = sd.load_sudoku(4, size=6, givens=12, seed=0)
    files = list((tmp_path / "sudoku").glob("*.pt"))
    assert len(files) == 1
    b = sd.load_sudoku(4, size=6, givens=12, seed=0)
    assert torch.equal(a.puzzles, b.puzzles)
    sd.load_sudoku(4, size=6, givens=13, seed=0)  # other settings, other file
    assert len(list((tmp_path / "sudoku").glob("*.pt"))) == 2


def test_parallel_generation_gives_the_same_set():
    one = sd.make_sudoku(70, size=4, givens=6, seed=9)
    two = sd.make_sudoku(70, size=4, givens=6, seed=9, workers=2)
    assert torch.equal(one.puzzles, two.puzzles)
    assert torch.equal(one.solutions, two.solutions)
