"""The instructor's side: list exercises, build an assignment, grade submissions.

    python -m compgen.exercises list
    python -m compgen.exercises assign how_to_use.ex1 how_to_use.ex3 -o hw1.ipynb
    python -m compgen.exercises grade hw1.json submissions/ -o gradebook.csv

The grader executes every returned notebook with papermill in a sandbox
(`sandbox.py`: bubblewrap where the machine has it) under a time limit, then
regrades every recorded answer itself with the library's checkers. A code answer
runs in a fresh sandbox of its own, and the checker calls it case by case from
the grader's process, so the student's code never runs beside the checker: what
a notebook prints or records about its own score is never trusted.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sandbox
from .display import RECORD_KEY, question_markdown
from .kinds import CodeExercise, Exercise, Feedback, MultipleChoice, PredictThenRun
from .registry import all_exercises, get
from .sandbox import Limits

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
    sandbox: str = ""
    seconds: float = 0.0  # how long grading it took
    cpu_s: float = 0.0  # CPU seconds its notebook used (papermill and kernel)


MAX_NOTEBOOK = 32 * 2**20  # bytes: a larger submission is not run


def grade(
    manifest: str | os.PathLike,
    submissions: list[str | os.PathLike],
    output: str | os.PathLike,
    *,
    time_limit: float = 300,
    limits: Limits | None = None,
    use_sandbox: bool = True,
    announce: Callable[[str], Any] | None = None,
    jobs: int = 1,
) -> list[Row]:
    """Grade every submission into a gradebook CSV; return the rows.

    One row per submission, whatever happens to it: a notebook that crashes,
    kills its kernel or its runner, forks without end, fills its disk, floods
    its output, runs past `time_limit` seconds, was tampered with or is not a
    notebook at all gets its row and a reason. Each runs in a sandbox where the
    machine allows one (`announce` is told which, or that there is none); the
    `sandbox` column says so for every row. `jobs` notebooks are graded at once,
    each in its own sandbox. The CSV is rewritten after every student.
    """
    spec = json.loads(Path(manifest).read_text())
    exercises = [get(e["id"]) for e in spec["exercises"]]
    paths = _expand(submissions)
    if not paths:
        raise ValueError(f"no .ipynb submissions in {[str(s) for s in submissions]}")
    limits = limits or Limits(cpu_s=time_limit + 60)
    hide = {p.resolve().parent for p in paths}
    hide |= {Path(output).resolve().parent, Path(manifest).resolve().parent}
    runner = sandbox.find(hide=sorted(hide), allow=use_sandbox)
    if announce is not None:
        if runner.sandboxed:
            announce(f"each notebook runs in a sandbox: {runner.description}")
        else:
            announce(
                f"WARNING: {runner.description}. Each notebook runs with your own "
                "rights: it can read and change your files and stop the grader. "
                "Grade only notebooks you trust, or grade on Linux with bubblewrap."
            )

    def one(path: Path) -> Row:
        start = time.monotonic()
        try:
            row = _grade_one(path, spec, exercises, time_limit, runner, limits)
        except Exception as exc:  # the grader never stops early
            row = Row(path.stem, notebook=f"grader error: {type(exc).__name__}: {exc}")
            for ex in exercises:
                row.scores[ex.id], row.reasons[ex.id] = 0.0, "not graded (grader error)"
        row.sandbox = runner.description
        row.seconds = time.monotonic() - start
        return row

    done: dict[Path, Row] = {}
    if jobs <= 1:
        for path in paths:
            done[path] = one(path)
            write_gradebook(list(done.values()), exercises, output)
    else:  # each in its own sandbox; the gradebook keeps the submissions' order
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(one, path): path for path in paths}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                rows = [done[p] for p in paths if p in done]
                write_gradebook(rows, exercises, output)
    return [done[p] for p in paths]


def _expand(submissions: list) -> list[Path]:
    paths: list[Path] = []
    for s in submissions:
        s = Path(s)
        paths += sorted(s.glob("*.ipynb")) if s.is_dir() else [s]
    return paths


def _grade_one(
    path: Path,
    spec: dict,
    exercises: list[Exercise],
    limit: float,
    runner: sandbox.Runner,
    limits: Limits,
) -> Row:
    import nbformat

    row = Row(path.stem)
    try:
        if path.stat().st_size > MAX_NOTEBOOK:
            raise ValueError(f"larger than {MAX_NOTEBOOK // 2**20} MiB")
        nb = nbformat.read(path, as_version=4)
        notes = _tampering(nb, spec)
    except Exception as exc:
        row.notebook = f"not a readable notebook ({type(exc).__name__})"
        for ex in exercises:
            row.scores[ex.id], row.reasons[ex.id] = 0.0, "no notebook to grade"
        return row
    status, executed, row.cpu_s = _execute(path, limit, runner, limits)
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
        fb = regrade(ex, record.get("answer"), runner=runner, limits=limits)
        row.scores[ex.id] = fb.score
        if fb.score < fb.points:
            row.reasons[ex.id] = fb.message
    return row


def _tampering(nb, spec: dict) -> list[str]:
    found = {}
    for c in nb.cells:
        meta = c.get("metadata", {}).get("compgen", {})
        key = meta.get("cell") if isinstance(meta, dict) else None
        if isinstance(key, str) and isinstance(c.get("source"), str):
            found[key] = c.source
    notes = []
    for key, digest in spec.get("fixed_cells", {}).items():
        if key not in found:
            notes.append(f"cell {key} was removed")
        elif _digest(found[key]) != digest:
            notes.append(f"cell {key} was changed")
    return notes


# Runs inside the sandbox, in the student's private folder.
_PAPERMILL = """
import sys
import papermill
papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3",
    progress_bar=False, allow_errors=True, cwd=".")
"""


def _execute(
    path: Path, limit: float, runner: sandbox.Runner, limits: Limits
) -> tuple[str, dict, float]:
    """Run papermill in the sandbox; at the time limit everything in it is killed."""
    result = runner.run(
        [sys.executable, "-c", _PAPERMILL, "submission.ipynb", "{out}/executed.ipynb"],
        inputs={"submission.ipynb": path},
        collect="executed.ipynb",
        keep=RECORD_KEY,
        timeout=limit,
        limits=limits,
    )
    status, executed = _status(result, limit, limits)
    return status, executed, result.cpu_s


def _status(result: sandbox.Result, limit: float, limits: Limits) -> tuple[str, dict]:
    executed = _load(result.output)
    note = f"; {result.note}" if result.note else ""
    if result.timed_out:
        return (
            f"stopped at the {limit:g} s time limit{_last_cell(executed)}{note}",
            executed,
        )
    if result.returncode == 0:
        return ("ran" + note), executed
    first = _first_error(executed)
    if result.returncode is None:
        why = "its processes were killed before it reported (did a cell kill them?)"
    elif result.returncode < 0:
        name = _signal_name(-result.returncode)
        why = f"the notebook's runner was killed by {name}"
        if name == "SIGXCPU":
            why += f" (past the CPU limit, {limits.cpu_s:g} s)"
        elif name == "SIGKILL":
            why += " (by a cell, or out of memory)"
    else:
        tail = result.stderr.strip().splitlines()[-1:] or ["unknown error"]
        why = tail[0][:200]
    if first:
        return f"ran with errors ({first}){note}", executed
    return f"could not run ({why}){note}", executed


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _load(data: bytes) -> dict:
    try:
        nb = json.loads(data)
    except Exception:  # nothing came back, or not JSON
        return {}
    return nb if isinstance(nb, dict) else {}


def _cells(nb: dict) -> list[dict]:
    cells = nb.get("cells")
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def _outputs(cell: dict) -> list[dict]:
    outs = cell.get("outputs")
    return [o for o in outs if isinstance(o, dict)] if isinstance(outs, list) else []


def _first_error(nb: dict) -> str | None:
    for i, cell in enumerate(_cells(nb)):
        for o in _outputs(cell):
            if o.get("output_type") == "error":
                ename, evalue = str(o.get("ename"))[:60], str(o.get("evalue"))[:120]
                return f"cell {i} raised {ename}: {evalue}"
    return None


def _last_cell(nb: dict) -> str:
    ran = []
    for i, c in enumerate(_cells(nb)):
        meta = c.get("metadata")
        pm = meta.get("papermill") if isinstance(meta, dict) else None
        if isinstance(pm, dict) and pm.get("status") == "running":
            ran.append(i)
    return f", in cell {ran[-1]}" if ran else ""


def _records(nb: dict) -> dict[str, dict]:
    """The last answer each exercise recorded (check or commit), by id."""
    found: dict[str, dict] = {}
    for cell in _cells(nb):
        for o in _outputs(cell):
            meta = o.get("metadata")
            record = meta.get(RECORD_KEY) if isinstance(meta, dict) else None
            if isinstance(record, dict) and record.get("action") in ("check", "commit"):
                found[str(record.get("id"))] = record
    return found


# Runs in a fresh sandbox: the student's source, with the modules it used imported
# under the same names. It only calls the student's function on the arguments the
# grader sends and sends back what it returned; the grader compares.
_WORKER = """
import importlib.util, json, os, struct, sys, traceback
spec = importlib.util.spec_from_file_location("compgen_sandbox", sys.argv[2])
box = sys.modules["compgen_sandbox"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(box)  # numpy only: the library itself is not imported
decode, encode = box.decode, box.encode
def describe(exc):
    try:
        tb = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" (line {tb[0].lineno})" if tb else ""
        text = " ".join(str(exc).split())[:200]
    except BaseException:
        where, text = "", ""
    name = type(exc).__name__
    if name == "SystemExit":
        text = f"{text} (your code called sys.exit() or exit())".strip()
    return f"{name}: {text}{where}" if text else f"{name}{where}"
fd, stdin = int(sys.argv[1]), sys.stdin.buffer
def receive():
    head = stdin.read(8)
    if len(head) < 8:
        os._exit(0)
    return json.loads(stdin.read(struct.unpack("<Q", head)[0]))
def send(message):
    blob = json.dumps(message).encode()
    view = memoryview(struct.pack("<Q", len(blob)) + blob)
    while view:
        view = view[os.write(fd, view):]
job = receive()
try:
    for module in job["preload"]:  # imported in the notebook already: not timed there
        try:
            importlib.import_module(module)
        except BaseException:
            pass
    ns = {n: importlib.import_module(m) for n, m in job["imports"].items()}
    exec(compile(job["source"], "answer", "exec"), ns)
    fn = ns.get(job["name"])
    send({"error": None if callable(fn) else f"it defines no function {job['name']}"})
except BaseException as exc:
    send({"error": describe(exc)})
    os._exit(0)
while True:
    args = decode(receive()["args"])
    try:
        send({"value": encode(fn(*args))})
    except BaseException as exc:
        send({"error": describe(exc)})
"""


_ENDED = (
    "ProcessEnded: your code ended its own process (os._exit, a crash, a kill or "
    "a resource limit)"
)


class RemoteError(Exception):
    """What the student's function did in its sandbox, described in words."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class _Remote:
    """The student's function, called in its sandbox one case at a time."""

    def __init__(self, session: sandbox.Session, time_limit: float):
        self.session, self.time_limit = session, time_limit

    def __call__(self, *args):
        try:
            self.session.send({"args": sandbox.encode(args)})
            reply = self.session.receive(timeout=self.time_limit + 5)
        except TimeoutError:
            raise RemoteError("TimeoutError: it did not answer in time") from None
        except (EOFError, ValueError, OSError):
            raise RemoteError(_ENDED) from None
        if "value" not in reply and "error" not in reply:  # the launcher's last word
            raise RemoteError(_ENDED)
        if reply.get("error") is not None:
            raise RemoteError(str(reply["error"])[:300])
        try:
            return sandbox.decode(reply.get("value"))
        except Exception:
            raise RemoteError("it returned something the grader cannot read") from None


def _imported(source: str) -> list[str]:
    """The modules a function's source imports: its kernel had them loaded already,
    so the worker imports them before the clock starts."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return sorted(n for n in names if all(p.isidentifier() for p in n.split(".")))


def regrade(
    ex: Exercise,
    answer: Any,
    *,
    runner: sandbox.Runner | None = None,
    limits: Limits | None = None,
) -> Feedback:
    """Check a recorded answer again, here.

    A code answer runs in a fresh sandbox that only calls the function; the
    checker stays in this process and calls it case by case, with its time limit.
    """
    if not isinstance(ex, CodeExercise):
        if isinstance(answer, dict):  # a value that could only be recorded as text
            return ex.feedback("invalid", f"Answer not gradable: {answer.get('repr')}")
        return ex.check(answer)
    if answer is None:
        return ex.not_attempted()
    source = answer.get("source") if isinstance(answer, dict) else None
    if not isinstance(source, str) or not source:
        return ex.feedback(
            "invalid", "No function source was recorded for this answer."
        )
    imports = answer.get("imports") if isinstance(answer.get("imports"), dict) else {}
    imports = {str(k): str(v) for k, v in imports.items()}
    name = answer.get("name")
    name = name if isinstance(name, str) and name.isidentifier() else ex.function_name
    load_limit = 60 + ex.time_limit
    total = ex.time_limit * (len(ex.cases) + 2) + load_limit
    runner = runner or sandbox.find()
    limits = limits or Limits(cpu_s=total)
    session = runner.start(
        [sys.executable, "-c", _WORKER, "{fd}", sandbox.__file__],
        limits=limits,
        pass_fd=True,
        deadline=total,
    )
    try:
        job = {
            "source": source,
            "imports": imports,
            "name": name,
            "preload": _imported(source),
        }
        session.send(job)
        try:
            loaded = session.receive(timeout=load_limit)
        except TimeoutError:
            return ex.feedback(
                "incorrect",
                f"Your code did not finish loading within {load_limit:g} s.",
            )
        except (EOFError, ValueError, OSError):
            loaded = {}
        if "error" not in loaded:
            loaded = {"error": "its process ended while loading"}
        if loaded.get("error") is not None:
            return ex.feedback(
                "incorrect",
                f"Your code could not be run on its own: {str(loaded['error'])[:200]}",
            )
        return ex.check(_Remote(session, ex.time_limit))
    finally:
        session.kill()


def write_gradebook(rows: list[Row], exercises: list[Exercise], output) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    header = ["student", "total", "max", "notebook", "sandbox", "seconds", "cpu_s"]
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
                r.sandbox,
                f"{r.seconds:.1f}",
                f"{r.cpu_s:.1f}",
            ]
            for ex in exercises:
                line += [f"{r.scores.get(ex.id, 0):g}", r.reasons.get(ex.id, "")]
            writer.writerow(line)
    os.replace(tmp, output)
    return output
