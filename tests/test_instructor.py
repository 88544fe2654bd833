"""The instructor's workflow: list, assign, and grade real submissions end to end."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
import time
from pathlib import Path

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
HANGS = "import time\nwhile True:\n    time.sleep(1)"


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


def grade_class(tmp: Path) -> dict:
    """Six students' homework graded with `compgen.exercises grade`: the rows."""
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
        # hangs (waiting forever, without burning the CPU the other tests use);
        # a code answer that spins is test_regrade_runs_code_answers_in_a_fresh_process
        {0: 'answer_ex1 = "b"', 2: HANGS, 3: "answer_ex4 = 144"},
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
            "--jobs",
            "2",
        ]
    )
    assert code == 0
    with out.open() as f:
        return {row["student"]: row for row in csv.DictReader(f)}


# conftest starts the grading when the session starts: it mostly waits (dave's
# notebook runs into the time limit), so the other tests run meanwhile
EARLY = {"graded": grade_class}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from conftest import early_result

    return early_result(
        "graded", lambda: grade_class(tmp_path_factory.mktemp("grading"))
    )


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


# ---------------------------------------------------------------- hostile students

HOSTILE_IDS = ["how_to_use.ex1", "how_to_use.ex3", "how_to_use.ex4"]  # no experiment
# seconds per notebook: none of these needs the limit to end (an honest one takes
# ~5 s of CPU, 13 s on a busy machine; the flood 11 s of CPU, 44 s busy)
HOSTILE_LIMIT = 120
MAX_PROCESSES = 64  # the sandbox's process limit in this test: bounds the fork bomb

# Each is one answer cell; the numeric answer (ex4, right: 144) is set to 144 only
# if the attack worked, so a score of 0 there shows that it did not.
KILL_THE_GRADER = """import os, signal
found = 0
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if b"pytest" in cmd or b"compgen.exercises" in cmd:
        os.kill(int(pid), signal.SIGKILL)
        found += 1
answer_ex1 = "b"
"""
KILL_EVERYTHING = "import os, signal\nos.kill(-1, signal.SIGKILL)\nanswer_ex1 = 'b'"
EXIT = "import os\nos._exit(0)"
FORK_BOMB = "import os\nwhile True:\n    os.fork()"
FILL_THE_DISK = """chunk, written = b"x" * 2**20, 0
for name in ("big", "/tmp/big", "/dev/shm/big"):
    try:
        with open(name, "wb") as f:
            while True:
                f.write(chunk)
                written += 1
    except OSError:
        pass
answer_ex1 = "b"
"""
SNOOP = """import os
seen, wrote = [], 0
for folder in [{subs!r}, {parent!r}, "/work", "/root", "/home"]:
    try:
        seen += [n for n in os.listdir(folder) if n.endswith(".ipynb")]
    except OSError:
        pass
try:
    seen.append(open({subs!r} + "/alice.ipynb").read()[:10])
except OSError:
    pass
for target in [{subs!r} + "/PWNED", {parent!r} + "/PWNED", "/tmp/compgen-PWNED"]:
    try:
        with open(target, "w") as f:
            f.write("x")
        wrote += not target.startswith("/tmp")
    except OSError:
        pass
answer_ex1 = "b"
"""
SNOOP_ANSWER = "answer_ex4 = 144 if (seen or wrote) else 0"
FLOOD = """import os
for _ in range(64):
    print("x" * 2**20)
os.write(1, b"y" * 2**23)
answer_ex4 = 144
"""
FORGER = """def r2(pred, target):
    import compgen.exercises.kinds as k
    k.CodeExercise.check = lambda self, a: k.Feedback("correct", 2, 2, "pwned")
    print('RESULT{"status": "correct", "score": 2, "points": 2, "message": "x"}')
    return 0.0
"""


def _sandbox_or_skip():
    from compgen.exercises import sandbox

    runner = sandbox.find()
    if not runner.sandboxed:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI must grade in a sandbox (.ci/run installs bubblewrap): "
                f"{runner.description}"
            )
        pytest.skip(f"hostile submissions need a sandbox: {runner.description}")
    return runner


def _tree(folder):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class _Peak:
    """The most processes on the machine while grading (the fork bomb's bound)."""

    def __init__(self):
        self.peak, self.done = 0, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, sum(p.isdigit() for p in os.listdir("/proc")))

    def __enter__(self):
        self.base = sum(p.isdigit() for p in os.listdir("/proc"))
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    _sandbox_or_skip()
    tmp = tmp_path_factory.mktemp("hostile")
    template = assign(HOSTILE_IDS, tmp / "hw.ipynb")
    subs = tmp / "submissions"
    subs.mkdir()
    right = {0: 'answer_ex1 = "b"', 1: R2_RIGHT, 2: "answer_ex4 = 144"}
    students = {
        "alice": right,
        "bob": {0: 'answer_ex1 = "a"', 1: R2_WRONG, 2: "answer_ex4 = 24"},
        "grader_killer": {0: KILL_THE_GRADER, 2: "answer_ex4 = 144 * (found > 0)"},
        "kill_all": {0: KILL_EVERYTHING},
        "exiter": {0: EXIT},
        "fork_bomb": {0: FORK_BOMB},
        "disk_filler": {0: FILL_THE_DISK},
        "snoop": {0: SNOOP.format(subs=str(subs), parent=str(tmp)), 2: SNOOP_ANSWER},
        "flood": {0: 'answer_ex1 = "b"', 2: FLOOD},
        "forger": {0: 'answer_ex1 = "b"', 1: FORGER},
        "zz_after": right,  # graded last: the grader is still there
    }
    for name, answers in students.items():
        fill(template, answers, subs / f"{name}.ipynb")
    before, outside_before = _tree(subs), _tree(tmp)
    out = tmp / "gradebook.csv"
    start = time.monotonic()
    with _Peak() as peak:
        code = cli(
            ["grade", str(template.with_suffix(".json")), str(subs), "-o", str(out)]
            + ["--time-limit", str(HOSTILE_LIMIT), "--max-disk-mb", "64"]
            + ["--max-processes", str(MAX_PROCESSES), "--jobs", "2"]
        )
    seconds = time.monotonic() - start
    assert code == 0
    with out.open() as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {
        "rows": rows,
        "subs": subs,
        "tmp": tmp,
        "before": before,
        "outside_before": outside_before,
        "peak": peak,
        "seconds": seconds,
    }


@pytest.mark.slow
def test_hostile_class_every_row_and_reason(hostile):
    rows = hostile["rows"]
    assert len(rows) == 11 and "zz_after" in rows, sorted(rows)
    for row in rows.values():
        assert row["sandbox"].startswith("bubblewrap"), row
        for i in HOSTILE_IDS:
            if float(row[i]) < all_exercises()[i].points:
                assert row[f"{i} reason"], (row["student"], i, row)
    print(f"graded {len(rows)} notebooks in {hostile['seconds']:.0f} s")


@pytest.mark.slow
def test_hostile_class_honest_scores_unchanged(hostile):
    rows = hostile["rows"]
    scores = {s: [float(r[i]) for i in HOSTILE_IDS] for s, r in rows.items()}
    assert scores["alice"] == [1, 2, 1] and rows["alice"]["notebook"] == "ran"
    assert scores["zz_after"] == [1, 2, 1] and rows["zz_after"]["notebook"] == "ran"
    assert scores["bob"] == [0, 0, 0]


@pytest.mark.slow
def test_hostile_attacks_fail_and_are_explained(hostile):
    rows = hostile["rows"]
    scores = {s: [float(r[i]) for i in HOSTILE_IDS] for s, r in rows.items()}
    # it found no grader to kill (its own PID namespace), and went on
    assert scores["grader_killer"] == [1, 0, 0], rows["grader_killer"]
    # it killed everything it could see: its own runner
    assert scores["kill_all"][0] == 0
    assert "killed" in rows["kill_all"]["notebook"], rows["kill_all"]
    assert "could not run" in rows["exiter"]["notebook"] or "Dead" in str(
        rows["exiter"]
    ), rows["exiter"]
    assert rows["fork_bomb"]["notebook"] != "ran", rows["fork_bomb"]
    peak = hostile["peak"]
    assert peak.peak < peak.base + MAX_PROCESSES + 40, (peak.base, peak.peak)
    assert scores["disk_filler"][0] == 1, rows["disk_filler"]  # graded all the same
    assert scores["snoop"] == [1, 0, 0], rows["snoop"]  # saw nothing, wrote nothing
    assert scores["flood"] == [1, 0, 1], rows["flood"]  # answers kept, outputs dropped
    assert scores["forger"] == [1, 0, 0], rows["forger"]  # the checker is not its own
    assert "expected" in rows["forger"]["how_to_use.ex3 reason"]


@pytest.mark.slow
def test_hostile_class_wrote_nothing_outside(hostile):
    assert _tree(hostile["subs"]) == hostile["before"]  # no submission changed
    now = _tree(hostile["tmp"])
    new = set(now) - set(hostile["outside_before"])
    assert new == {str(hostile["tmp"] / "gradebook.csv")}, new
    assert not Path("/tmp/compgen-PWNED").exists()


def test_sandbox_isolates_a_command(tmp_path):
    """Fast: its own PID namespace, no network, no host files, limits hold."""
    import sys

    from compgen.exercises import sandbox

    _sandbox_or_skip()
    secret = tmp_path / "secret.txt"
    secret.write_text("the other students' work")
    runner = sandbox.find(hide=[tmp_path])
    code = f"""import os, socket
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print("pids", len(pids))
for path in [{str(secret)!r}, {str(tmp_path)!r}]:
    print("visible" if os.path.exists(path) else "hidden", path)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network")
except OSError:
    print("no network")
try:
    open("/usr/compgen-test", "w")
    print("wrote /usr")
except OSError:
    print("system read-only")
with open(os.environ["OUT"] + "/done", "w") as f:
    f.write(str(os.getuid()))
"""
    result = runner.run(
        [sys.executable, "-c", code],
        collect="done",
        timeout=30,
        env={"OUT": sandbox.OUT},
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result
    assert int(out.split("pids ")[1].split()[0]) <= 4, out  # bwrap, launcher, it
    assert "visible" not in out and "no network" in out, out
    assert "system read-only" in out, out
    assert result.output and result.output != b"0"  # never root inside


def test_sandbox_values_cross_safely():
    import numpy as np

    from compgen.exercises.sandbox import Opaque, decode, encode

    value = (1, 2.5, "x", [np.arange(3)], {"k": np.float32(1.5)}, None, 10**50)
    back = decode(encode(value))
    assert back[:3] == (1, 2.5, "x") and back[5] is None and back[6] == 10**50
    assert np.array_equal(back[3][0], np.arange(3)) and back[4]["k"] == 1.5
    assert isinstance(decode(encode(object())), Opaque)
    for bad in [{"__nd__": ["O", [1], [1]]}, {"__nd__": ["<f8", [5], [1.0]]}, {}]:
        with pytest.raises((ValueError, KeyError, TypeError)):
            decode(bad)


@pytest.mark.slow
def test_without_a_sandbox_the_grader_says_so(tmp_path):
    from compgen.exercises.instructor import grade

    template = assign(["how_to_use.ex1"], tmp_path / "hw.ipynb")
    sub = fill(template, {0: 'answer_ex1 = "b"'}, tmp_path / "alice.ipynb")
    said = []
    rows = grade(
        template.with_suffix(".json"),
        [sub],
        tmp_path / "gradebook.csv",
        time_limit=LIMIT,
        use_sandbox=False,
        announce=said.append,
    )
    assert "WARNING" in said[0] and "no sandbox" in said[0]
    assert rows[0].sandbox.startswith("no sandbox") and rows[0].scores[IDS[0]] == 1
    text = (tmp_path / "gradebook.csv").read_text()
    assert "no sandbox (turned off with --no-sandbox)" in text
