"""Exercise kinds: data plus a pure checker that never raises on a student's answer.

Every kind has `check(answer) -> Feedback`. Whatever the answer is (None, a wrong
type, a NaN, an integer too large for a float, an object whose methods raise, a
function that raises, exits or never returns), the result is feedback in words
and a score, never a traceback. `None` always means "not attempted yet".

Each kind handles odd answers itself; as a last resort every `check` (and
`reveal`) of every kind is wrapped so that anything still escaping becomes
"invalid" feedback that says so (CHECKER_FAILED). The tests assert that this
last resort is never needed.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUSES = ("correct", "partial", "incorrect", "not_attempted", "invalid")
CHECKER_FAILED = "the checker could not handle this answer"


def _never_raises(method: Callable) -> Callable:
    """Wrap a kind's check/reveal: whatever escapes becomes invalid feedback."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            return self.feedback("invalid", f"{CHECKER_FAILED} ({_type_name(exc)}).")

    guarded.__never_raises__ = True
    return guarded


@dataclass(frozen=True)
class Feedback:
    status: str  # one of STATUSES
    score: float  # points earned, 0 <= score <= points
    points: int
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "score": self.score,
            "points": self.points,
            "message": self.message,
        }


@dataclass(frozen=True)
class Exercise:
    """What every kind shares. `id` is "<chapter slug>.<name>", e.g. "pairs.ex1"."""

    id: str
    title: str  # one line
    question: str  # markdown
    points: int = 1
    solution: str = ""  # markdown explanation, hidden in the book, never assigned
    context: str = ""  # markdown an assignment needs before the question

    kind = "exercise"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("check", "reveal"):
            method = cls.__dict__.get(name)
            if method is not None and not hasattr(method, "__never_raises__"):
                setattr(cls, name, _never_raises(method))

    def __post_init__(self):
        chapter, _, name = self.id.partition(".")
        if not (chapter.isidentifier() and name.isidentifier()):
            raise ValueError(f"exercise id must look like 'slug.name', got {self.id!r}")
        if not isinstance(self.points, int) or self.points < 1:
            raise ValueError(f"{self.id}: points must be a positive int")

    @property
    def chapter(self) -> str:
        return self.id.split(".")[0]

    def feedback(self, status: str, message: str, fraction: float = 0.0) -> Feedback:
        return Feedback(status, round(self.points * fraction, 4), self.points, message)

    def not_attempted(self) -> Feedback:
        return self.feedback("not_attempted", "Not attempted yet.")

    def check(self, answer: Any) -> Feedback:  # pragma: no cover - abstract
        raise NotImplementedError

    def reference_answer(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class MultipleChoice(Exercise):
    options: dict[str, str] = field(default_factory=dict)  # key -> option text
    answer: str = ""  # the right key
    feedback_for: dict[str, str] = field(default_factory=dict)  # key -> why (not)

    kind = "multiple_choice"

    def __post_init__(self):
        super().__post_init__()
        if self.answer not in self.options:
            raise ValueError(f"{self.id}: answer {self.answer!r} is not an option")

    def check(self, answer: Any) -> Feedback:
        if answer is None:
            return self.not_attempted()
        keys = ", ".join(repr(k) for k in self.options)
        # str's own methods, not the answer's: a subclass may override them
        key = str.lower(str.strip(answer)) if issubclass(type(answer), str) else None
        if key not in self.options:
            return self.feedback(
                "invalid", f"Answer with one of {keys}; got {_short(answer)}."
            )
        why = self.feedback_for.get(key, "")
        if key == self.answer:
            return self.feedback("correct", f"Correct. {why}".strip(), 1.0)
        return self.feedback("incorrect", f"Not quite. {why}".strip())

    def reference_answer(self) -> str:
        return self.answer


@dataclass(frozen=True)
class Numeric(Exercise):
    answer: float = 0.0
    abs_tol: float = 0.0
    rel_tol: float = 1e-6
    unit: str = ""

    kind = "numeric"

    def check(self, answer: Any) -> Feedback:
        if answer is None:
            return self.not_attempted()
        value = _as_number(answer)
        if value is None:
            return self.feedback(
                "invalid", f"Give a single number; got {_short(answer)}."
            )
        if not math.isfinite(value):
            return self.feedback(
                "invalid", f"Give a finite number; got {_short(answer)}."
            )
        if math.isclose(value, self.answer, rel_tol=self.rel_tol, abs_tol=self.abs_tol):
            return self.feedback("correct", f"Correct: {value:g}{self.unit}.", 1.0)
        direction = "high" if value > self.answer else "low"
        return self.feedback("incorrect", f"{value:g}{self.unit} is too {direction}.")

    def reference_answer(self) -> float:
        return self.answer


@dataclass(frozen=True)
class PredictThenRun(Exercise):
    """The student commits a numeric prediction, then an experiment reveals the truth.

    The points are for committing a prediction before the reveal; the feedback
    says how close it was (within `tolerance` counts as a good prediction).
    """

    tolerance: float = 0.1
    low: float = -math.inf  # the range a sensible prediction lies in
    high: float = math.inf
    experiment: Callable[[], float] | None = None  # measures the outcome

    kind = "predict_then_run"

    def check(self, answer: Any) -> Feedback:
        """Check that a prediction is well formed (before the outcome is known)."""
        if answer is None:
            return self.not_attempted()
        value = _as_number(answer)
        if value is None or not math.isfinite(value):
            return self.feedback(
                "invalid", f"Predict a single finite number; got {_short(answer)}."
            )
        if not self.low <= value <= self.high:
            return self.feedback(
                "invalid", f"Predict a value between {self.low:g} and {self.high:g}."
            )
        return self.feedback(
            "correct", f"Prediction committed: {value:g}. Now run the experiment.", 1.0
        )

    def reveal(self, prediction: Any, outcome: float) -> Feedback:
        """Compare a committed prediction with the measured outcome."""
        committed = self.check(prediction)
        if not committed.correct:
            return self.feedback(
                committed.status,
                committed.message + " (Commit a prediction before you look.)",
            )
        value, measured = _as_number(prediction), _as_number(outcome)
        if measured is None or not math.isfinite(measured):
            return self.feedback(
                "invalid", f"The experiment gave no finite number: {_short(outcome)}."
            )
        outcome, gap = measured, abs(value - measured)
        verdict = (
            "a good prediction"
            if gap <= self.tolerance
            else "worth a second look: why?"
        )
        return self.feedback(
            "correct",
            f"You predicted {value:g}; the run gave {outcome:.3g} "
            f"(off by {gap:.3g}): {verdict}",
            1.0,
        )

    def reference_answer(self) -> float:
        return (
            (self.low + self.high) / 2 if math.isfinite(self.low + self.high) else 0.0
        )


@dataclass(frozen=True)
class CodeExercise(Exercise):
    """The student completes a function; hidden cases check it against a reference.

    `cases` are argument tuples; the reference function gives the expected
    results. Each case runs under `time_limit` seconds. The first failing case is
    explained in words: the input, what was expected, what came back.
    """

    function_name: str = "solution"
    stub: str = ""  # the code the student starts from (the body raises or returns None)
    reference: Callable[..., Any] | None = None
    cases: Sequence[tuple] = ()
    time_limit: float = 2.0
    rtol: float = 1e-5
    atol: float = 1e-8

    kind = "code"

    def __post_init__(self):
        super().__post_init__()
        if self.reference is None or not self.cases:
            raise ValueError(f"{self.id}: a code exercise needs a reference and cases")

    def check(self, answer: Any) -> Feedback:
        if answer is None:
            return self.not_attempted()
        if not callable(answer):
            return self.feedback(
                "invalid",
                f"Pass your function itself (`{self.function_name}`), "
                f"not {_short(answer)}.",
            )
        for i, args in enumerate(self.cases):
            expected = self.reference(*_copy(args))
            outcome = run_with_time_limit(answer, _copy(args), self.time_limit)
            shown = ", ".join(_short(a) for a in args)
            if outcome.timed_out:
                return self.feedback(
                    "incorrect",
                    f"On input ({shown}) your function did not "
                    f"finish within {self.time_limit:g} s: is there an endless loop?",
                )
            if outcome.error is not None:
                if outcome.error.startswith("NotImplementedError"):
                    return self.not_attempted()
                return self.feedback(
                    "incorrect",
                    f"On input ({shown}) your function raised {outcome.error}",
                )
            problem = compare(expected, outcome.value, rtol=self.rtol, atol=self.atol)
            if problem:
                return self.feedback(
                    "incorrect" if i == 0 else "partial",
                    f"On input ({shown}): {problem}",
                    i / len(self.cases) * 0.5,
                )
        return self.feedback(
            "correct", f"All {len(self.cases)} hidden cases pass.", 1.0
        )

    def reference_answer(self) -> Callable[..., Any]:
        return self.reference


# ---------------------------------------------------------------- helpers


@dataclass
class Outcome:
    value: Any = None
    error: str | None = None  # "TypeError: ..." when the function raised
    timed_out: bool = False


class TimeLimitExceeded(
    BaseException
):  # BaseException: `except Exception` can't eat it
    pass


def run_with_time_limit(fn: Callable, args: tuple, seconds: float) -> Outcome:
    """Call fn(*args); stop it after `seconds` (SIGALRM on Unix, main thread).

    Elsewhere (Windows, a worker thread) the call runs in a daemon thread that is
    abandoned, still running, if it overruns. The grader also executes whole
    notebooks under a hard time limit, so an answer that swallows the alarm cannot
    hang grading.
    """
    use_alarm = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if use_alarm:

        def on_alarm(signum, frame):
            raise TimeLimitExceeded

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)  # and again every 50 ms
        try:
            return Outcome(value=fn(*args))
        except TimeLimitExceeded:
            return Outcome(timed_out=True)
        except BaseException as exc:  # sys.exit() and KeyboardInterrupt too
            return Outcome(error=_describe(exc))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict[str, Outcome] = {}

    def target():
        try:
            box["out"] = Outcome(value=fn(*args))
        except BaseException as exc:
            box["out"] = Outcome(error=_describe(exc))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    return box.get("out", Outcome(timed_out=True))


def compare(
    expected: Any, got: Any, *, rtol: float = 1e-5, atol: float = 1e-8
) -> str | None:
    """None if `got` matches `expected`; else what is wrong, in words."""
    try:
        return _compare(expected, got, rtol, atol)
    except BaseException as exc:  # a strange object from the student: still feedback
        return f"could not compare your result {_short(got)} ({_type_name(exc)})"


def _compare(expected: Any, got: Any, rtol: float, atol: float) -> str | None:
    if _is_array(expected):
        exp = np.asarray(_to_numpy(expected), dtype=float)
        if not _is_array(got) and not isinstance(got, (list, tuple)):
            return f"expected an array of shape {exp.shape}, got {_short(got)}"
        try:
            arr = np.asarray(_to_numpy(got), dtype=float)
        except Exception:
            return f"expected an array of numbers, got {_short(got)}"
        if arr.shape != exp.shape:
            return f"expected shape {exp.shape}, got shape {arr.shape}"
        if np.isnan(arr).any() and not np.isnan(exp).any():
            return "your result contains NaN"
        if not np.allclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True):
            gap = np.nan_to_num(np.abs(arr - exp), nan=np.inf)
            worst = np.unravel_index(int(np.argmax(gap)), arr.shape)
            where = tuple(int(i) for i in worst)
            return (
                f"wrong values, e.g. at index {where}: expected {exp[worst]:.4g}, "
                f"got {arr[worst]:.4g}"
            )
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        value = _as_number(got)
        if value is None:
            return f"expected a number, got {_short(got)}"
        if math.isnan(value):
            return "your result is NaN"
        if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
            return f"expected {expected:.4g}, got {value:.4g}"
        return None
    try:
        same = bool(expected == got)
    except BaseException:
        same = False
    return None if same else f"expected {_short(expected)}, got {_short(got)}"


def _is_torch(x: Any) -> bool:
    module = getattr(type(x), "__module__", "")
    return isinstance(module, str) and module.startswith("torch")


def _is_array(x: Any) -> bool:
    return issubclass(type(x), np.ndarray) or _is_torch(x)


def _to_numpy(x: Any) -> Any:
    if _is_torch(x) and hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def _as_number(x: Any) -> float | None:
    """A Python float for a real number or a one-element numeric array; else None.

    Decided by the exact type, never by the answer's own methods (a subclass may
    break `__float__`); an integer too large for a float becomes +-inf.
    """
    try:
        return _number(x)
    except BaseException:
        return None


def _number(x: Any) -> float | None:
    kind = type(x)
    if issubclass(kind, (bool, np.bool_)):
        return None
    if issubclass(kind, int):
        try:
            return int.__float__(x)
        except OverflowError:
            return -math.inf if int.__lt__(x, 0) else math.inf
    if issubclass(kind, float):
        return float.__float__(x)
    if issubclass(kind, (np.integer, np.floating)):
        return float(np.asarray(x).item())
    if _is_array(x):
        arr = np.asarray(_to_numpy(x))
        if arr.size == 1 and arr.dtype.kind in "iuf":  # any shape: (1,), (1, 1), ...
            return float(arr.reshape(-1)[0].item())
        if arr.size == 1 and arr.dtype.kind == "c":
            return float(arr.reshape(-1)[0].real.item())
    return None


def _copy(args: tuple) -> tuple:
    import copy

    return tuple(copy.deepcopy(a) for a in args)


def _type_name(x: Any) -> str:
    try:
        name = type(x).__name__
        return name if isinstance(name, str) else "object"
    except BaseException:
        return "object"


def _describe(exc: BaseException) -> str:
    """ "TypeError: message (line 3)", whatever the exception's own methods do."""
    description = getattr(exc, "description", None)  # from a sandboxed run
    if isinstance(description, str):
        return description
    try:
        tb = exc.__traceback__
        frame = traceback.extract_tb(tb)[-1:] if tb else []
        where = f" (line {frame[0].lineno})" if frame else ""
    except BaseException:
        where = ""
    try:
        text = str(exc)
        text = text if isinstance(text, str) else ""
    except BaseException:
        text = "(its message could not be shown)"
    name = _type_name(exc)
    if name == "SystemExit":
        text = f"{text} (your function called sys.exit() or exit())".strip()
    text = _clip(text, 200)
    return f"{name}: {text}{where}" if text else f"{name}{where}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(x: Any, limit: int = 60) -> str:
    """A short description of a value for feedback: arrays by shape, others by repr."""
    try:
        if _is_array(x):
            return f"a {_type_name(x)} of shape {tuple(int(n) for n in x.shape)}"
    except BaseException:
        pass
    try:
        text = repr(x)
        if not isinstance(text, str):
            raise TypeError
    except BaseException:  # a broken __repr__, an int too long to print
        text = f"<{_type_name(x)}>"
    return _clip(text, limit)
