"""The binding chapter's exercises (ids binding.exN)."""

from __future__ import annotations

from ..core.seeding import make_rng
from ..exercises import CodeExercise, MultipleChoice, PredictThenRun
from . import codes
from .scenes import World

_CONTEXT = (
    "In the binding chapter's world an object has one of 6 colours (red, green, "
    "blue, yellow, magenta, cyan) and one of 6 shapes (square, circle, triangle, "
    "plus, cross, ring), and the shapes in one scene are all different. A "
    "**bag-of-features** code sums the objects' one-hot colour and shape vectors, "
    "so it counts colours and shapes but forgets which colour went with which "
    "shape. A **conjunctive** code has one unit per colour-shape pair. A scene has "
    "a *look-alike* when another scene has exactly the same code."
)


def _share_of_three_object_look_alikes() -> float:
    counts = codes.count_collisions(3, "bag")
    return counts["ambiguous"] / counts["scenes"]


def _bag_code_reference(scene) -> list[int]:
    world = World()
    code = [0] * (world.n_colors + world.n_shapes)
    for colour, shape in scene:
        code[colour] += 1
        code[world.n_colors + shape] += 1
    return code


def _bag_cases() -> list[tuple]:
    rng = make_rng(11)
    cases = [([(0, 0), (2, 1)],), ([(2, 0), (0, 1)],), ([(5, 5)],)]
    for k in (1, 2, 3, 4, 4):
        shapes = rng.permutation(6)[:k]
        colours = rng.integers(0, 6, k)
        cases.append(
            ([(int(c), int(s)) for c, s in zip(colours, shapes, strict=True)],)
        )
    return cases


EXERCISES = [
    PredictThenRun(
        id="binding.ex1",
        title="Look-alikes with three objects",
        question="Two-object scenes mostly have a bag-of-features look-alike. What "
        "share of all **three**-object scenes has one? Commit a number between 0 "
        "and 1, then run the count.",
        context=_CONTEXT,
        low=0.0,
        high=1.0,
        tolerance=0.02,
        experiment=_share_of_three_object_look_alikes,
        solution="35/36, about 0.97. The bag fixes the shapes and the multiset of "
        "colours; any two different colours can be swapped between their shapes. "
        "A scene is unique only if all its objects share one colour: 6 of the "
        "6 × 6 × 6 colourings of a set of shapes. More objects, more swaps.",
    ),
    MultipleChoice(
        id="binding.ex2",
        title="Below chance on a held-out pair",
        question="A reader of the conjunctive code is asked the colour of a shape "
        "whose colour-shape pair never appeared in training, shown alone. Its "
        "accuracy is close to 0, well below chance (1/6). Why?",
        context=_CONTEXT,
        options={
            "a": "The held-out pair lights a unit that training never touched, so "
            "the answer comes from the question alone; and training taught the "
            "reader that this shape never had this colour.",
            "b": "The conjunctive code cannot represent a held-out pair at all.",
            "c": "The reader is too small to learn the task.",
            "d": "Held-out scenes are drawn from a different distribution of shapes.",
        },
        answer="a",
        feedback_for={
            "a": "Its prior over colours for that shape excludes the held-out one.",
            "b": "It can: the pair has its own unit. The unit's weights are untrained.",
            "c": "It fits the training scenes perfectly.",
            "d": "Shapes and colours are drawn the same way; only pairs are held out.",
        },
        solution="**a.** An untrained input unit contributes nothing, so the answer "
        "is the reader's prior for the question's shape, and in training that "
        "shape always had some other colour. A reader with no prior would be at "
        "chance; this one is confidently wrong.",
    ),
    CodeExercise(
        id="binding.ex3",
        title="Write the bag-of-features code",
        question="Complete `bag_code(scene)`: a scene is a list of (colour, shape) "
        "pairs with colours and shapes numbered 0 to 5; return a list of 12 counts, "
        "how many objects have each colour (6 numbers), then each shape (6 "
        "numbers). Then check by hand that red square + blue circle, "
        "`[(0, 0), (2, 1)]`, and blue square + red circle, `[(2, 0), (0, 1)]`, get "
        "the same code.",
        context=_CONTEXT,
        function_name="bag_code",
        stub="def bag_code(scene):\n"
        '    """12 counts: colours 0-5, then shapes 0-5."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_bag_code_reference,
        cases=_bag_cases(),
        solution="Start from `[0] * 12`, and for each `(c, s)` add one at index `c` "
        "and one at index `6 + s`. Both scenes give "
        "`[1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0]`: the code cannot tell them apart.",
    ),
]
