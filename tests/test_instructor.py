"""The instructor's workflow: list, assign, and grade real submissions end to end."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest

from compgen.exercises import all_exercises
from compgen.exercises.__main__ import main as cli
from compgen.exercises.instructor import assign, regrade

LIMIT = 90  # seconds per notebook: a normal one needs ~15 s on 2 idle cores
IDS = ["how_to_use.ex1", "how_to_use.ex2", "how_to_use.ex3", "how_to_use.ex4"]
R2_RIGHT = """import numpy as np


def r2(pred, target):
    sse = ((pred - target) ** 2).sum()
    return 1 - sse / ((target - target.mean(axis=0)) ** 2).sum()
"""
R2_WRONG = """import numpy as np


def r2(pred, target):
    return 1 - ((pred - target) ** 2).sum() / (target ** 2).sum()  # forgot the mean
"""


def test_list_shows_every_exercise(capsys):
    assert cli(["list"]) == 0
    out = capsys.readouterr().out
    for ex in all_exercises().values():
        assert ex.id in out and ex.title in out


def test_assign_writes_a_notebook_without_solutions(tmp_path):
    path = assign(IDS, tmp_path / "hw1.ipynb", title="Homework 1")
    text = path.read_text()
    for i in IDS:
        ex = all_exercises()[i]
        assert ex.question.split("\n")[0][:40] in text
        assert ex.solution[:40] not in text, f"the solution of {i} leaked"
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert [e["id"] for e in manifest["exercises"]] == IDS
    assert "Homework 1" in text


def test_assign_refuses_unknown_or_repeated_ids(tmp_path, capsys):
    assert cli(["assign", "how_to_use.nope", "-o", str(tmp_path / "x.ipynb")]) == 2
    assert "no exercise" in capsys.readouterr().err
    with pytest.raises(ValueError, match="twice"):
        assign([IDS[0], IDS[0]], tmp_path / "y.ipynb")


def fill(template, answers: dict[int, str], out, edit=None):
    """A student's copy: answer cell k (in exercise order) replaced by answers[k]."""
    nb = nbformat.read(template, as_version=4)
    answer_cells = [
        c
        for c in nb.cells
        if c.metadata.get("compgen", {}).get("cell", "").endswith("answer")
    ]
    for k, source in answers.items():
        answer_cells[k].source = source
    if edit:
        edit(nb)
    nbformat.write(nb, out)
    return out


def fake_full_marks(nb):
    """Tampering: replace the first check cell by one that claims full marks."""
    check = next(
        c
        for c in nb.cells
        if c.metadata.get("compgen", {}).get("cell", "").endswith("check")
    )
    check.source = (
        "from IPython.display import HTML, display\n"
        "display(HTML('1/1'), metadata={'compgen_exercise': {'id': 'how_to_use.ex1', "
        "'action': 'check', 'score': 1, 'points': 1, 'answer': answer_ex1}})"
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    template = assign(IDS, tmp / "hw1.ipynb")
    subs = tmp / "submissions"
    subs.mkdir()
    fill(
        template,
        {
            0: 'answer_ex1 = "b"',
            1: "prediction_ex2 = 0.6",
            2: R2_RIGHT,
            3: "answer_ex4 = 144",
        },
        subs / "alice.ipynb",
    )
    fill(
        template,
        {0: 'answer_ex1 = "a"', 2: R2_WRONG, 3: "answer_ex4 = 24"},
        subs / "bob.ipynb",
    )
    fill(
        template,
        {
            0: 'answer_ex1 = "b"',
            2: "raise RuntimeError('my cell broke')",
            3: "answer_ex4 = 144",
        },
        subs / "carol.ipynb",
    )
    fill(
        template,
        {0: 'answer_ex1 = "b"', 2: "while True:\n    pass", 3: "answer_ex4 = 144"},
        subs / "dave.ipynb",
    )
    fill(template, {0: 'answer_ex1 = "a"'}, subs / "eve.ipynb", edit=fake_full_marks)
    (subs / "mallory.ipynb").write_text("this is not a notebook")
    out = tmp / "gradebook.csv"
    code = cli(
        [
            "grade",
            str(template.with_suffix(".json")),
            str(subs),
            "-o",
            str(out),
            "--time-limit",
            str(LIMIT),
        ]
    )
    assert code == 0
    with out.open() as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_every_submission_gets_a_row(graded):
    assert sorted(graded) == ["alice", "bob", "carol", "dave", "eve", "mallory"]
    for row in graded.values():
        assert row["max"] == "5"
        for i in IDS:  # every lost point has a reason
            ex = all_exercises()[i]
            if float(row[i]) < ex.points:
                assert row[f"{i} reason"], (row["student"], i)


@pytest.mark.slow
def test_gradebook_scores(graded):
    scores = {s: [float(r[i]) for i in IDS] for s, r in graded.items()}
    for student in ("alice", "bob", "carol", "eve"):  # none ran into the limit
        assert "time limit" not in graded[student]["notebook"], graded[student]
    assert scores["alice"] == [1, 1, 2, 1] and graded["alice"]["notebook"] == "ran"
    assert scores["bob"] == [0, 0, 0, 0]
    assert "too low" in graded["bob"]["how_to_use.ex4 reason"]
    assert "Not attempted" in graded["bob"]["how_to_use.ex2 reason"]
    assert "On input" in graded["bob"]["how_to_use.ex3 reason"]
    assert scores["carol"] == [1, 0, 0, 1]
    assert "my cell broke" in graded["carol"]["notebook"]
    assert "no answer recorded" in graded["carol"]["how_to_use.ex3 reason"]
    assert scores["dave"] == [1, 0, 0, 0]
    assert f"{LIMIT} s time limit" in graded["dave"]["notebook"]
    assert scores["eve"] == [0, 0, 0, 0]  # the notebook's own claim is not trusted
    assert "was changed" in graded["eve"]["notebook"]
    assert scores["mallory"] == [0, 0, 0, 0]
    assert "not a readable notebook" in graded["mallory"]["notebook"]


def test_regrade_runs_code_answers_in_a_fresh_process():
    ex = all_exercises()["how_to_use.ex3"]
    right = {"source": R2_RIGHT.split("\n\n\n")[1], "imports": {"np": "numpy"}}
    assert regrade(ex, right).correct
    endless = {"source": "def r2(p, t):\n    while True:\n        pass\n"}
    fb = regrade(ex, endless)
    assert not fb.correct and "did not finish" in fb.message
    assert regrade(ex, {"source": None}).status == "invalid"
    assert regrade(ex, None).status == "not_attempted"
