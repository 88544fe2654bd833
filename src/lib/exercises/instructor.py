"""The instructor's side: list exercises, build an assignment, grade submissions.

    python -m compgen.exercises list
    python -m compgen.exercises assign how_to_use.ex1 how_to_use.ex3 -o hw1.ipynb
    python -m compgen.exercises grade hw1.json submissions/ -o gradebook.csv

The grader executes every returned notebook with papermill in its own process
group under a time limit, then regrades every recorded answer itself with the
library's checkers (code answers in a separate, time-limited process): what a
notebook prints about its own score is never trusted.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .display import RECORD_KEY, question_markdown
from .kinds import CodeExercise, Exercise, Feedback, MultipleChoice, PredictThenRun
from .registry import all_exercises, get

# ---------------------------------------------------------------- list


def table() -> str:
    """A plain-text table of every exercise."""
    rows = [("id", "chapter", "kind", "points", "title")]
    rows += [
        (e.id, e.chapter, e.kind, str(e.points), e.title)
        for e in all_exercises().values()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    )


# ---------------------------------------------------------------- assign


def _answer_name(ex: Exercise) -> str:
    name = ex.id.split(".", 1)[1]
    return f"prediction_{name}" if isinstance(ex, PredictThenRun) else f"answer_{name}"


def _cells_for(ex: Exercise, *, with_context: bool) -> list[tuple[str, str, str]]:
    """(cell type, role, source) for one exercise in an assignment."""
    context = ex.context + "\n\n" if (ex.context and with_context) else ""
    intro = context + question_markdown(ex, with_solution=False)
    name = _answer_name(ex)
    if isinstance(ex, CodeExercise):
        answer = ex.stub
        checking = f'check("{ex.id}", {ex.function_name})'
    elif isinstance(ex, MultipleChoice):
        keys = ", ".join(f'"{k}"' for k in ex.options)
        answer = f"{name} = None  # your answer: one of {keys}"
        checking = f'check("{ex.id}", {name})'
    elif isinstance(ex, PredictThenRun):
        answer = f"{name} = None  # your prediction: a number"
        checking = f'commit("{ex.id}", {name})'
    else:
        answer = f"{name} = None  # your answer: a number"
        checking = f'check("{ex.id}", {name})'
    cells = [
        ("markdown", "question", intro),
        ("code", "answer", answer),
        ("code", "check", checking),
    ]
    if isinstance(ex, PredictThenRun):
        cells.append(("markdown", "run-intro", "Now run the experiment:"))
        cells.append(("code", "run", f'reveal("{ex.id}")'))
    return cells


def assign(
    ids: list[str], output: str | os.PathLike, *, title: str = "Assignment"
) -> Path:
    """Write a student notebook for the exercises `ids`, and its manifest (.json).

    The notebook has the setup cell, each exercise's context and question, an
    answer cell and a cell that checks (and records) the answer. No solutions.
    """
    import nbformat
    import nbformat.v4 as nbf

    from ..book import notebook_metadata, setup_cell_source

    if not ids:
        raise ValueError("name at least one exercise id (see `list`)")
    exercises = [get(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError("an exercise id is named twice")
    output = Path(output).with_suffix(".ipynb")
    total = sum(e.points for e in exercises)
    header = (
        f"# {title}\n\n{len(exercises)} exercises, {total} points. Write your "
        "answers in the cells that say so, run the whole notebook (Run all), "
        "save it and hand it in. Do not change the other cells: the grader runs "
        "your notebook from top to bottom and checks every answer again."
    )
    plan = [
        ("markdown", "header", header),
        ("code", "setup", setup_cell_source()),
        ("code", "imports", "from compgen.exercises import check, commit, reveal"),
    ]
    contexts: set[str] = set()  # each context once, before its first exercise
    for ex in exercises:
        plan += _cells_for(ex, with_context=ex.context not in contexts)
        contexts.add(ex.context)
    cells, fixed = [], {}
    for i, (kind, role, source) in enumerate(plan):
        key = f"{i:02d}-{role}"
        maker = nbf.new_markdown_cell if kind == "markdown" else nbf.new_code_cell
        cells.append(maker(source, metadata={"compgen": {"cell": key}}))
        if role != "answer":
            fixed[key] = _digest(source)
    nb = nbf.new_notebook(
        cells=cells,
        metadata=notebook_metadata(),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, output)
    manifest = {
        "title": title,
        "notebook": output.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "exercises": [
            {"id": e.id, "kind": e.kind, "points": e.points} for e in exercises
        ],
        "fixed_cells": fixed,
    }
    output.with_suffix(".json").write_text(json.dumps(manifest, indent=1))
    return output


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:16]


# ---------------------------------------------------------------- grade


@dataclass
class Row:
    student: str
    scores: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    notebook: str = "ran"


def grade(
    manifest: str | os.PathLike,
    submissions: list[str | os.PathLike],
    output: str | os.PathLike,
    *,
    time_limit: float = 300,
) -> list[Row]:
    """Grade every submission into a gradebook CSV; return the rows.

    One row per submission, whatever happens to it: a notebook that crashes,
    runs past `time_limit` seconds, was tampered with or is not a notebook at all
    gets its row and a reason. The CSV is rewritten after every student.
    """
    spec = json.loads(Path(manifest).read_text())
    exercises = [get(e["id"]) for e in spec["exercises"]]
    paths = _expand(submissions)
    if not paths:
        raise ValueError(f"no .ipynb submissions in {[str(s) for s in submissions]}")
    rows: list[Row] = []
    for path in paths:
        try:
            row = _grade_one(path, spec, exercises, time_limit)
        except Exception as exc:  # the grader never stops early
            row = Row(path.stem, notebook=f"grader error: {type(exc).__name__}: {exc}")
            for ex in exercises:
                row.scores[ex.id], row.reasons[ex.id] = 0.0, "not graded (grader error)"
        rows.append(row)
        write_gradebook(rows, exercises, output)
    return rows


def _expand(submissions: list) -> list[Path]:
    paths: list[Path] = []
    for s in submissions:
        s = Path(s)
        paths += sorted(s.glob("*.ipynb")) if s.is_dir() else [s]
    return paths


def _grade_one(path: Path, spec: dict, exercises: list[Exercise], limit: float) -> Row:
    import nbformat

    row = Row(path.stem)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        row.notebook = f"not a readable notebook ({type(exc).__name__})"
        for ex in exercises:
            row.scores[ex.id], row.reasons[ex.id] = 0.0, "no notebook to grade"
        return row
    notes = _tampering(nb, spec)
    with tempfile.TemporaryDirectory(prefix="compgen-grade-") as tmp:
        status, executed = _execute(path, Path(tmp), limit)
        records = _records(executed)
    row.notebook = "; ".join([status, *notes])
    for ex in exercises:
        record = records.get(ex.id)
        if record is None:
            row.scores[ex.id] = 0.0
            row.reasons[ex.id] = (
                f"no answer recorded (its check cell did not run: {status})"
                if status != "ran"
                else "no answer recorded (its check cell was removed or changed)"
            )
            continue
        fb = regrade(ex, record.get("answer"))
        row.scores[ex.id] = fb.score
        if fb.score < fb.points:
            row.reasons[ex.id] = fb.message
    return row


def _tampering(nb, spec: dict) -> list[str]:
    found = {
        c.get("metadata", {}).get("compgen", {}).get("cell"): c.source for c in nb.cells
    }
    notes = []
    for key, digest in spec.get("fixed_cells", {}).items():
        if key not in found:
            notes.append(f"cell {key} was removed")
        elif _digest(found[key]) != digest:
            notes.append(f"cell {key} was changed")
    return notes


def _execute(path: Path, tmp: Path, limit: float) -> tuple[str, Path]:
    """Run papermill in its own process group; kill the group at the time limit."""
    out = tmp / "executed.ipynb"
    code = (
        "import papermill, sys\n"
        "papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name='python3',"
        " progress_bar=False, allow_errors=True, cwd=sys.argv[3])"
    )
    env = dict(os.environ, COMPGEN_PROGRESS="0", COMPGEN_CHECKPOINTS=str(tmp / "ckpt"))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(out), str(tmp)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # papermill and its kernel
        proc.communicate()
        return f"stopped at the {limit:g} s time limit{_last_cell(out)}", out
    if proc.returncode == 0:
        return "ran", out
    first = _first_error(out)
    if first:
        return f"ran with errors ({first})", out
    tail = (err or "").strip().splitlines()[-1:] or ["unknown error"]
    return f"could not run ({tail[0][:200]})", out


def _load(out: Path) -> dict | None:
    try:
        return json.loads(out.read_text())
    except Exception:
        return None


def _first_error(out: Path) -> str | None:
    nb = _load(out) or {}
    for i, cell in enumerate(nb.get("cells", [])):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                return f"cell {i} raised {o.get('ename')}: {str(o.get('evalue'))[:120]}"
    return None


def _last_cell(out: Path) -> str:
    nb = _load(out) or {}
    ran = [
        i
        for i, c in enumerate(nb.get("cells", []))
        if c.get("metadata", {}).get("papermill", {}).get("status") == "running"
    ]
    return f", in cell {ran[-1]}" if ran else ""


def _records(out: Path) -> dict[str, dict]:
    """The last answer each exercise recorded (check or commit), by id."""
    found: dict[str, dict] = {}
    nb = _load(out) or {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            record = o.get("metadata", {}).get(RECORD_KEY)
            if isinstance(record, dict) and record.get("action") in ("check", "commit"):
                found[str(record.get("id"))] = record
    return found


# Runs in a fresh interpreter: the student's source, with the modules it used
# imported under the same names, checked by the library's own checker.
_REGRADE = """
import importlib, json, sys
from compgen.exercises import get
ns = {n: importlib.import_module(m) for n, m in json.loads(sys.argv[3]).items()}
exec(compile(sys.stdin.read(), "answer", "exec"), ns)
fb = get(sys.argv[1]).check(ns.get(sys.argv[2]))
print("RESULT" + json.dumps(fb.as_dict()))
"""


def regrade(ex: Exercise, answer: Any) -> Feedback:
    """Check a recorded answer again, here: code runs in a time-limited subprocess."""
    if not isinstance(ex, CodeExercise):
        if isinstance(answer, dict):  # a value that could only be recorded as text
            return ex.feedback("invalid", f"Answer not gradable: {answer.get('repr')}")
        return ex.check(answer)
    if answer is None:
        return ex.not_attempted()
    source = answer.get("source") if isinstance(answer, dict) else None
    if not source:
        return ex.feedback(
            "invalid", "No function source was recorded for this answer."
        )
    limit = ex.time_limit * (len(ex.cases) + 2) + 30
    imports = json.dumps(answer.get("imports") or {})
    try:
        done = subprocess.run(
            [sys.executable, "-c", _REGRADE, ex.id, ex.function_name, imports],
            input=source,
            text=True,
            capture_output=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return ex.feedback(
            "incorrect", f"Your function did not finish within {limit:g} s."
        )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT"):
            data = json.loads(line[len("RESULT") :])
            return Feedback(
                data["status"], data["score"], data["points"], data["message"]
            )
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return ex.feedback(
        "incorrect", f"Your code could not be run on its own: {tail[:200]}"
    )


def write_gradebook(rows: list[Row], exercises: list[Exercise], output) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    header = ["student", "total", "max", "notebook"]
    for ex in exercises:
        header += [ex.id, f"{ex.id} reason"]
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in rows:
            line = [
                r.student,
                f"{sum(r.scores.values()):g}",
                str(sum(e.points for e in exercises)),
                r.notebook,
            ]
            for ex in exercises:
                line += [f"{r.scores.get(ex.id, 0):g}", r.reasons.get(ex.id, "")]
            writer.writerow(line)
    os.replace(tmp, output)
    return output
