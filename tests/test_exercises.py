"""Exercises: checkers that never raise, reference solutions, stubs, the registry."""

from __future__ import annotations

import collections
import dataclasses
import math
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compgen.book import chapter_notebooks, repo_root
from compgen.exercises import (
    CodeExercise,
    MultipleChoice,
    Numeric,
    PredictThenRun,
    all_exercises,
    compare,
    get,
    run_with_time_limit,
)
from compgen.exercises.kinds import CHECKER_FAILED, STATUSES

EXERCISES = list(all_exercises().values())
ids = {"ids": lambda e: e.id}

# any value a student might hand in, sensible or not
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.complex_numbers(),
    st.lists(st.floats(), max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.tuples(st.integers(), st.text(max_size=3)),
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4)),
    st.builds(object),
    st.just(float("nan")),
    st.just(np.float32(math.inf)),
)


# ---------------------------------------------------------------- hostile answers
# Values built to break a checker: integers too large for a float, subclasses of
# the types a checker expects whose dunder methods raise (also SystemExit and
# KeyboardInterrupt), arrays of odd shape and dtype, objects lying about their class.

RAISES = [ValueError("broken"), TypeError("broken"), SystemExit(3), KeyboardInterrupt()]


def _raiser(error):
    def method(self, *args, **kwargs):
        raise error

    return method


def broken_instance(base, dunders, error):
    """An instance of a subclass of `base` whose `dunders` all raise `error`."""
    namespace = {name: _raiser(error) for name in dunders}
    if "__hash__" in dunders or "__eq__" in dunders:
        namespace.setdefault("__hash__", _raiser(error))
    kind = type(f"Broken{base.__name__.title()}", (base,), namespace)
    value = {int: 7, float: 0.5, str: "b", list: [1.0], tuple: (1.0,), dict: {}}
    return kind(value[base]) if base is not object else kind()


DUNDERS = [
    "__float__",
    "__int__",
    "__index__",
    "__repr__",
    "__str__",
    "__eq__",
    "__ne__",
    "__hash__",
    "__bool__",
    "__len__",
    "__iter__",
    "__lt__",
    "__gt__",
    "__abs__",
    "__sub__",
    "__format__",
    "__array__",
    "__getattr__",
    "strip",
    "lower",
    "__round__",
]
broken_values = st.builds(
    broken_instance,
    st.sampled_from([int, float, str, list, tuple, dict, object]),
    st.lists(st.sampled_from(DUNDERS), min_size=1, max_size=6, unique=True),
    st.sampled_from(RAISES),
)


class LiesAboutItsClass:
    @property
    def __class__(self):  # isinstance(x, str) and isinstance(x, float) say yes
        return str


huge_integers = st.one_of(
    st.integers(min_value=10**300, max_value=10**400),
    st.integers(max_value=-(10**300), min_value=-(10**400)),
    # 10**5000 has more digits than Python prints: built, never written out here
    st.integers(min_value=1024, max_value=20_000).map(lambda k: (-2) ** k),
    st.sampled_from([2**64, -(2**63) - 1]),
)
odd_arrays = st.one_of(
    hnp.arrays(
        st.sampled_from(
            [np.int8, np.uint64, np.float16, np.complex128, np.bool_, "U3", "M8[s]"]
        ),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
    ),
    st.builds(lambda v: np.full((1, 1), v), st.floats()),  # a 2-D one-element array
    st.builds(lambda v: np.full((1, 1, 1), v), st.integers(-5, 5)),
    st.builds(lambda v: np.array(v, dtype=object), huge_integers),
    st.just(np.array([[1.0, 2.0]])),
    st.just(np.zeros((0, 3))),
    st.just(np.array([None, "b"], dtype=object)),
)
hostile = st.one_of(
    huge_integers,
    broken_values,
    odd_arrays,
    st.just(LiesAboutItsClass()),
    st.just(np.float64(np.inf)),
    st.just(np.longdouble("1e4000")),
    st.sampled_from(
        [Ellipsis, NotImplemented, type, print, range(3), b"b", bytearray()]
    ),
)
answers = st.one_of(anything, hostile)
TRIED: collections.Counter = collections.Counter()  # answers tried, by kind


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    if TRIED:
        print("\nanswers tried per kind:", dict(sorted(TRIED.items())))


def assert_valid(fb, ex):
    assert fb.status in STATUSES, fb
    assert 0 <= fb.score <= ex.points and fb.points == ex.points
    assert isinstance(fb.message, str) and fb.message
    assert CHECKER_FAILED not in fb.message, fb  # the last resort was not needed


def test_there_are_exercises_with_unique_well_formed_ids():
    assert len(EXERCISES) >= 4
    slugs = {p.stem for p in chapter_notebooks(repo_root(__file__))}
    for ex in EXERCISES:
        assert ex.chapter in slugs, f"{ex.id}: no chapter notebook named {ex.chapter}"
        assert ex.title and ex.question and ex.solution
    kinds = {type(ex) for ex in EXERCISES}
    assert {MultipleChoice, Numeric, PredictThenRun, CodeExercise} <= kinds


@pytest.mark.parametrize("ex", EXERCISES, **ids)
def test_reference_solution_passes(ex):
    fb = ex.check(ex.reference_answer())
    assert fb.correct and fb.score == ex.points, fb


@pytest.mark.parametrize("ex", EXERCISES, **ids)
def test_blank_answer_is_not_attempted(ex):
    if isinstance(ex, CodeExercise):  # the stub as the student first sees it
        namespace: dict = {}
        exec(ex.stub, namespace)
        answer = namespace[ex.function_name]
    else:
        answer = None
    fb = ex.check(answer)
    assert fb.status == "not_attempted" and fb.score == 0


@pytest.mark.parametrize("ex", EXERCISES, **ids)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(answer=answers)
def test_no_answer_makes_a_checker_raise(ex, answer):
    TRIED[ex.kind] += 1
    assert_valid(ex.check(answer), ex)


PREDICT = [ex for ex in EXERCISES if isinstance(ex, PredictThenRun)]


@pytest.mark.parametrize("ex", PREDICT, **ids)
@settings(max_examples=100, deadline=None)
@given(prediction=answers, outcome=st.one_of(st.floats(), answers))
def test_reveal_never_raises(ex, prediction, outcome):
    TRIED["predict_then_run (reveal)"] += 1
    assert_valid(ex.reveal(prediction, outcome), ex)


def test_the_answers_the_issue_found_are_feedback():
    """The 72 answers that raised in issue 20, by what they were."""
    mc, num = get("how_to_use.ex1"), get("how_to_use.ex4")
    predict = PREDICT[0]
    assert num.check(10**400).status == "invalid"
    assert predict.check(10**400).status == "invalid"
    assert predict.reveal(np.full((1, 1), 0.5), 0.4).correct
    assert predict.reveal(0.5, np.full((1, 1), 0.4)).correct
    broken = broken_instance(str, ["strip", "lower", "__eq__"], ValueError("x"))
    assert mc.check(broken).correct  # "b", whatever its own methods do
    assert (
        num.check(broken_instance(float, ["__float__"], SystemExit(1))).correct is False
    )
    for ex in EXERCISES:
        assert_valid(ex.check(LiesAboutItsClass()), ex)


def make_bad_function(behaviour, value):
    def bad(*args):
        if behaviour == "return":
            return value
        if behaviour == "raise":
            raise value
        if behaviour == "exit":
            sys.exit(value)
        if behaviour == "recurse":
            return bad(*args)
        if behaviour == "nan_like":
            return np.full_like(np.asarray(args[0], dtype=float), np.nan)
        if behaviour == "wrong_shape":
            return np.zeros((7, 7))
        raise AssertionError(behaviour)

    return bad


class StudentsOwnBaseException(BaseException):
    pass


class UnprintableError(Exception):
    def __str__(self):
        raise ValueError("no message")


errors = st.sampled_from(
    [
        ValueError("v"),
        TypeError("t"),
        ZeroDivisionError(),
        KeyError("k"),
        RecursionError(),
        IndexError(),
        MemoryError(),
        KeyboardInterrupt(),
        SystemExit(1),
        GeneratorExit(),
        StudentsOwnBaseException(),
        UnprintableError(),
        NotImplementedError("half done"),
    ]
)
bad_functions = st.one_of(
    st.builds(make_bad_function, st.just("return"), answers),
    st.builds(make_bad_function, st.just("exit"), st.sampled_from([0, 1, "bye", None])),
    st.builds(make_bad_function, st.just("recurse"), st.none()),
    st.builds(make_bad_function, st.just("raise"), errors),
    st.builds(
        make_bad_function, st.sampled_from(["nan_like", "wrong_shape"]), st.none()
    ),
)
CODE = [ex for ex in EXERCISES if isinstance(ex, CodeExercise)]


@pytest.mark.parametrize("ex", CODE, **ids)
@settings(max_examples=100, deadline=None)
@given(fn=bad_functions)
def test_bad_student_functions_become_feedback(ex, fn):
    TRIED["code (student functions)"] += 1
    fb = ex.check(fn)
    assert_valid(fb, ex)
    assert not fb.correct


def endless(*args):
    while True:
        pass


def endless_and_stubborn(*args):
    while True:
        try:
            time.sleep(0.001)
        except Exception:  # cannot swallow the time limit: it is a BaseException
            pass


@pytest.mark.parametrize("ex", CODE, **ids)
@pytest.mark.parametrize("fn", [endless, endless_and_stubborn])
def test_an_endless_function_is_stopped_at_the_time_limit(ex, fn):
    quick = dataclasses.replace(ex, time_limit=0.3)
    start = time.monotonic()
    fb = quick.check(fn)
    assert time.monotonic() - start < 3
    assert fb.status == "incorrect" and "did not finish" in fb.message


def test_code_feedback_names_the_first_failure():
    ex = CodeExercise(
        id="t.sq",
        title="t",
        question="q",
        function_name="sq",
        reference=lambda x: x * x,
        cases=[(1,), (2,), (3,)],
        solution="x*x",
    )
    assert ex.check(lambda x: x * x).correct
    fb = ex.check(lambda x: x + 1 if x == 2 else x * x)  # right at first, then wrong
    assert fb.status == "partial" and "On input (2)" in fb.message
    assert "expected 4, got 3" in fb.message
    fb = ex.check(lambda x: 1 / 0)
    assert "ZeroDivisionError" in fb.message and fb.score == 0
    assert ex.check("x*x").status == "invalid"


def test_multiple_choice_gives_per_option_feedback():
    ex = get("how_to_use.ex1")
    messages = {k: ex.check(k).message for k in ex.options}
    assert len(set(messages.values())) == len(ex.options)
    assert ex.check(" B ").correct  # forgiving about case and spaces
    assert ex.check("e").status == "invalid" and "one of" in ex.check("e").message


def test_numeric_tolerance_and_direction():
    ex = Numeric(id="t.n", title="t", question="q", answer=2.0, abs_tol=0.1)
    assert ex.check(2.05).correct and ex.check(np.float32(1.95)).correct
    assert "too high" in ex.check(3).message and "too low" in ex.check(1).message
    assert ex.check(float("nan")).status == "invalid"
    assert ex.check("2").status == "invalid"


def test_predict_then_run_reveals_how_close():
    ex = PredictThenRun(id="t.p", title="t", question="q", low=0, high=1, tolerance=0.1)
    assert ex.check(0.5).correct and ex.check(2).status == "invalid"
    assert "good prediction" in ex.reveal(0.5, 0.55).message
    assert "second look" in ex.reveal(0.5, 0.9).message
    assert ex.reveal(None, 0.9).status == "not_attempted"


def test_compare_explains_differences():
    assert compare(np.ones(3), np.ones(3)) is None
    assert "shape" in compare(np.ones(3), np.ones(4))
    assert "NaN" in compare(np.ones(2), np.array([1.0, np.nan]))
    assert "expected a number" in compare(1.0, "1")
    assert compare(1.0, 1 + 1e-9) is None


def test_time_limit_helper_returns_values_and_errors():
    assert run_with_time_limit(lambda a: a + 1, (1,), 1).value == 2
    assert run_with_time_limit(lambda: [][0], (), 1).error.startswith("IndexError")


def test_unknown_exercise_id_lists_the_known_ones():
    with pytest.raises(ValueError, match="how_to_use.ex1"):
        get("how_to_use.nope")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"id": "noslug"}, "slug.name"),
        ({"points": 0}, "points"),
        ({"answer": "z"}, "not an option"),
    ],
)
def test_bad_exercise_definitions_are_refused(kwargs, match):
    base = {
        "id": "t.mc",
        "title": "t",
        "question": "q",
        "options": {"a": "A"},
        "answer": "a",
    }
    with pytest.raises(ValueError, match=match):
        MultipleChoice(**{**base, **kwargs})


# ---------------------------------------------------------------- the notebook layer


def test_widgets_answer_without_a_kernel(monkeypatch):
    import ipywidgets

    from compgen.exercises import display as d

    monkeypatch.delenv("COMPGEN_STATIC", raising=False)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    mc = d.show("how_to_use.ex1")
    assert isinstance(mc, ipywidgets.VBox)
    radio, button = mc.children[0], mc.children[1]
    radio.value = "b"
    button.click()  # no exception, feedback goes to the Output widget

    d._COMMITTED.pop("how_to_use.ex2", None)
    box_row = d.show("how_to_use.ex2").children[0]
    text, commit_button = box_row.children
    text.value = "not a number"
    commit_button.click()
    assert "how_to_use.ex2" not in d._COMMITTED and not text.disabled
    text.value = "0.5"
    commit_button.click()
    assert d._COMMITTED["how_to_use.ex2"] == 0.5 and text.disabled


def test_check_records_the_answer_for_the_grader(monkeypatch):
    from compgen.exercises import display as d

    shown = []
    monkeypatch.setattr(
        "IPython.display.display", lambda *a, **k: shown.append(k.get("metadata"))
    )
    d.check("how_to_use.ex4", 144)
    record = shown[-1][d.RECORD_KEY]
    assert record["id"] == "how_to_use.ex4" and record["answer"] == 144
    assert record["status"] == "correct" and record["action"] == "check"

    import numpy as np  # noqa: F401  (the answer below uses it)

    def r2(pred, target):
        return 1 - ((pred - target) ** 2).sum() / ((target - target.mean(0)) ** 2).sum()

    d.check("how_to_use.ex3", r2)
    answer = shown[-1][d.RECORD_KEY]["answer"]
    assert "def r2" in answer["source"] and answer["name"] == "r2"


def test_static_page_shows_question_link_and_optional_solution(monkeypatch):
    from compgen.exercises import display as d

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.extend(a))
    monkeypatch.setenv("COMPGEN_STATIC", "1")
    ex = get("how_to_use.ex1")
    for flag, expect_solution in (("1", True), ("0", False)):
        shown.clear()
        monkeypatch.setenv("COMPGEN_SHOW_SOLUTIONS", flag)
        assert d.show(ex.id) is None  # no widget on a page without a kernel
        text = " ".join(getattr(o, "data", "") or "" for o in shown)
        assert ex.question[:30] in text and "needs a running chapter" in text
        assert "colab.research.google.com/github/" in text
        assert "chapters/how_to_use.ipynb" in text
        assert ("Solution" in text) is expect_solution


def test_config_flag_hides_solutions(monkeypatch, tmp_path):
    from compgen.exercises.display import solutions_shown

    monkeypatch.delenv("COMPGEN_SHOW_SOLUTIONS", raising=False)
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")  # where the book build runs a chapter
    (tmp_path / "_config.yml").write_text("compgen:\n  show_solutions: false\n")
    assert solutions_shown() is False
    (tmp_path / "_config.yml").write_text("title: x\n")
    assert solutions_shown() is True
    monkeypatch.setenv("COMPGEN_SHOW_SOLUTIONS", "0")
    assert solutions_shown() is False


def test_kernel_note_says_what_a_live_box_needs(monkeypatch):
    from compgen.exercises.display import kernel_note

    monkeypatch.setenv("COMPGEN_STATIC", "1")
    note, static = kernel_note("scan", "a box takes a command", url="https://c.example/s")
    assert static and "a box takes a command" in note.value
    assert "c.example/s" in note.value
    monkeypatch.setenv("COMPGEN_STATIC", "0")
    note, static = kernel_note("scan", "a box", hint="Try jump.", url="")
    assert not static and "needs a running chapter" in note.value
    assert note.value.endswith("Try jump.</i>") and "<a" not in note.value
