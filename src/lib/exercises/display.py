"""The thin notebook layer over the checkers: questions, widgets, recorded answers.

    show("how_to_use.ex1")                 # the question, and a widget when live
    check("how_to_use.ex3", my_function)    # feedback; the answer is recorded
    commit("how_to_use.ex2", prediction)    # predict ...
    reveal("how_to_use.ex2", outcome)       # ... then run

Each `check`/`commit`/`reveal` displays its feedback with the answer attached in
the output's metadata ("compgen_exercise"), which is what the grader reads.
In the rendered book (COMPGEN_STATIC=1, set by the book build) there is no
kernel: `show` prints the question, says that checking needs a running chapter
(with its Colab link) and puts the solution in a collapsed block, unless the book
is built without solutions.
"""

from __future__ import annotations

import html
import inspect
import math
import os
import types
from typing import Any

from .kinds import (
    CodeExercise,
    Exercise,
    Feedback,
    MultipleChoice,
    Numeric,
    PredictThenRun,
    _as_number,
)
from .registry import get

RECORD_KEY = "compgen_exercise"
_COMMITTED: dict[str, Any] = {}  # predictions committed in this kernel
_COLORS = {
    "correct": "#009E73",
    "partial": "#E69F00",
    "incorrect": "#D55E00",
    "invalid": "#D55E00",
    "not_attempted": "#999999",
}


def is_static() -> bool:
    return os.environ.get("COMPGEN_STATIC", "0") == "1"


def solutions_shown() -> bool:
    """False when the book is built for instructors' students without solutions.

    Set by `compgen: show_solutions: false` in _config.yml, or overridden with the
    environment variable COMPGEN_SHOW_SOLUTIONS=0/1.
    """
    env = os.environ.get("COMPGEN_SHOW_SOLUTIONS")
    if env is not None:
        return env not in ("0", "false", "no")
    try:
        from ..book import load_yaml, repo_root

        config = load_yaml(repo_root() / "_config.yml") or {}
        return bool((config.get("compgen") or {}).get("show_solutions", True))
    except Exception:  # outside the repository (Colab): show them
        return True


def kernel_note(
    chapter: str, what: str, *, hint: str = "", url: str | None = None
) -> tuple[Any, bool]:
    """(note, static) for a box that calls Python, such as "type a puzzle".

    On the rendered book (no kernel) `static` is True and `note` is all to show:
    what the box would do (`what`, "a box takes ...") and where to run it. In a
    kernel, `note` goes above the live box. `url` defaults to the chapter's Colab.
    """
    import ipywidgets as w

    url = colab_url(chapter) if url is None else url
    where = f': <a href="{url}">open the chapter in Colab</a>' if url else ""
    if is_static():
        text = f"Here, in a running chapter, {what}. It needs Python behind the page"
        return w.HTML(f"<i>{text}{where}.</i>"), True
    extra = f" {hint}" if hint else ""
    text = f"This box needs a running chapter (Python behind the page){where}."
    return w.HTML(f"<i>{text}{extra}</i>"), False


def colab_url(chapter: str) -> str | None:
    try:
        from ..book import repository

        repo = repository()
    except Exception:
        return None
    slug = repo["url"].removeprefix("https://github.com/")
    path = "/".join(
        p for p in (repo["path_to_book"], "chapters", f"{chapter}.ipynb") if p
    )
    return (
        f"https://colab.research.google.com/github/{slug}/blob/{repo['branch']}/{path}"
    )


def feedback_html(ex: Exercise, fb: Feedback) -> str:
    color = _COLORS.get(fb.status, "#999999")
    label = fb.status.replace("_", " ")
    return (
        f'<div style="border-left:4px solid {color};padding:4px 10px;margin:4px 0">'
        f"<b>{html.escape(ex.id)}</b> ({label}, {fb.score:g}/{fb.points} "
        f"point{'s' if fb.points != 1 else ''}): {html.escape(fb.message)}</div>"
    )


def _serialise(answer: Any) -> Any:
    """The answer as JSON the grader can check again (exact types only)."""
    kind = type(answer)  # the base types' own methods: a subclass may break its own
    if answer is None or kind is bool:
        return answer
    if issubclass(kind, str):
        return str.__str__(answer)[:10_000]
    if issubclass(kind, int) and kind is not bool:
        number = int.__index__(answer)  # JSON has no limit; int-to-text has one
        return number if number.bit_length() < 1000 else {"repr": "a huge integer"}
    if issubclass(kind, float):
        number = float.__float__(answer)
        return number if math.isfinite(number) else repr(number)
    number = _as_number(answer)  # numpy scalars, one-element arrays and tensors
    if number is not None and math.isfinite(number):
        return number
    if callable(answer):
        try:
            source = inspect.getsource(answer)
        except (TypeError, OSError):
            return {"source": None, "repr": _safe_repr(answer)}
        # the modules the function uses by a global name (np, torch, ...), so the
        # grader can run it on its own
        code, env = (
            getattr(answer, "__code__", None),
            getattr(answer, "__globals__", {}),
        )
        names = code.co_names if code is not None else ()
        imports = {
            n: env[n].__name__
            for n in names
            if isinstance(env.get(n), types.ModuleType)
        }
        return {
            "source": source,
            "name": getattr(answer, "__name__", "?"),
            "imports": imports,
        }
    return {"repr": _safe_repr(answer)}


def _safe_repr(x: Any) -> str:
    try:
        return str(repr(x))[:500]
    except BaseException:
        return f"<{type(x).__name__}>"


def _emit(ex: Exercise, fb: Feedback, answer: Any, action: str) -> None:
    from IPython.display import HTML, display

    record = {
        "id": ex.id,
        "kind": ex.kind,
        "action": action,
        **fb.as_dict(),
        "answer": _serialise(answer),
    }
    display(HTML(feedback_html(ex, fb)), metadata={RECORD_KEY: record})


def check(exercise_id: str, answer: Any) -> None:
    """Check an answer, show the feedback, record the answer for grading."""
    ex = get(exercise_id)
    return _emit(ex, ex.check(answer), answer, "check")


def commit(exercise_id: str, prediction: Any) -> None:
    """Commit a prediction for a predict-then-run exercise (before the run)."""
    ex = get(exercise_id)
    if not isinstance(ex, PredictThenRun):
        raise ValueError(f"{exercise_id} is a {ex.kind} exercise, not predict-then-run")
    fb = ex.check(prediction)
    if fb.correct:
        _COMMITTED[exercise_id] = _as_number(prediction)
    return _emit(ex, fb, prediction, "commit")


def reveal(exercise_id: str, outcome: float | None = None) -> None:
    """Show the measured outcome beside the committed prediction.

    Without `outcome`, runs the exercise's own experiment to measure it.
    """
    ex = get(exercise_id)
    if not isinstance(ex, PredictThenRun):
        raise ValueError(f"{exercise_id} is a {ex.kind} exercise, not predict-then-run")
    if outcome is None:
        if ex.experiment is None:
            raise ValueError(f"{exercise_id} has no experiment: pass the outcome")
        outcome = float(ex.experiment())
    prediction = _COMMITTED.get(exercise_id)
    if prediction is None:
        hint = (
            ""
            if is_static()
            else (" Next time, commit a prediction before you run the experiment.")
        )
        fb = ex.feedback("not_attempted", f"The run gave {outcome:.3g}.{hint}")
    else:
        fb = ex.reveal(prediction, outcome)
    return _emit(ex, fb, prediction, "reveal")


def question_markdown(ex: Exercise, *, with_solution: bool = False) -> str:
    parts = [
        f"**Exercise {ex.id}: {ex.title}** ({ex.points} point"
        f"{'s' if ex.points != 1 else ''})",
        "",
        ex.question,
    ]
    if isinstance(ex, MultipleChoice):
        parts += [""] + [f"- **{k}**: {v}" for k, v in ex.options.items()]
    if with_solution and ex.solution:
        parts += ["", ":::{dropdown} Solution", ex.solution, ":::"]
    return "\n".join(parts)


def show(exercise_id: str):
    """Display an exercise: the question and, in a live kernel, a widget."""
    from IPython.display import Markdown, display

    ex = get(exercise_id)
    if is_static():
        display(Markdown(question_markdown(ex, with_solution=False)))
        url = colab_url(ex.chapter)
        link = f'<a href="{url}">open this chapter in Colab</a>' if url else "run it"
        display(_note(f"Checking an answer needs a running chapter: {link}."))
        if solutions_shown() and ex.solution:
            display(Markdown(f":::{{dropdown}} Solution\n{ex.solution}\n:::"))
        return None
    display(Markdown(question_markdown(ex, with_solution=False)))
    return _widget(ex)


def _note(text: str):
    from IPython.display import HTML

    return HTML(f'<p style="color:#555"><i>{text}</i></p>')


def _widget(ex: Exercise):
    import ipywidgets as w

    out = w.Output()

    def respond(fb: Feedback):
        out.clear_output()
        with out:
            from IPython.display import HTML, display

            display(HTML(feedback_html(ex, fb)))

    if isinstance(ex, MultipleChoice):
        choice = w.RadioButtons(
            options=[(f"{k}: {v}", k) for k, v in ex.options.items()],
            value=None,
            layout={"width": "max-content"},
        )
        button = w.Button(description="Check")
        button.on_click(lambda _: respond(ex.check(choice.value)))
        controls = [choice, button]
    elif isinstance(ex, (Numeric, PredictThenRun)):
        box = w.Text(placeholder="a number")
        button = w.Button(
            description="Commit" if isinstance(ex, PredictThenRun) else "Check"
        )

        def on_click(_):
            value = _parse_number(box.value)
            if isinstance(ex, PredictThenRun):
                fb = ex.check(value)
                if fb.correct:
                    _COMMITTED[ex.id] = value
                    box.disabled = button.disabled = True
                respond(fb)
            else:
                respond(ex.check(value))

        button.on_click(on_click)
        controls = [w.HBox([box, button])]
    elif isinstance(ex, CodeExercise):
        return _note(
            f"Complete <code>{ex.function_name}</code> in the next cell, then run "
            "the cell that checks it."
        )
    else:  # pragma: no cover
        return None
    if solutions_shown() and ex.solution:
        from ..core.explorer import set_titles

        solution = set_titles(
            w.Accordion(children=[w.HTML(html.escape(ex.solution))]), ["Solution"]
        )
        solution.selected_index = None
        controls.append(solution)
    return w.VBox([*controls, out])


def _parse_number(text: str) -> Any:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # the checker explains what is wrong with it
