"""The binding problem (Greff, van Steenkiste & Schmidhuber 2020), in three experiments.

- `scenes`: a tiny world of coloured shapes, as feature sets and as 18x18 images.
- `codes`: three ways to write a scene (bag of features, conjunctive units,
  slots), networks that read them, collision counts (representation) and
  held-out colour-shape pairs (composition).
- `pixels`: from raw pixels, a CNN without slots against a small Slot
  Attention, on scenes with more objects than in training (segregation).
- `plots`, `widget`: the chapter's figures and its kernel-free scene composer.
"""

from __future__ import annotations

from ..claims import Claim
from . import codes, pixels, plots, scenes, widget
from .codes import CODES
from .scenes import World, all_scenes, make_scenes, render

__all__ = [
    "CLAIMS",
    "CODES",
    "EXERCISE_IDEAS",
    "World",
    "all_scenes",
    "codes",
    "make_scenes",
    "pixels",
    "plots",
    "render",
    "scenes",
    "widget",
]

CHANCE = 1 / World().n_colors  # guessing one of the six colours

CLAIMS = [
    Claim(
        "superposition_collides",
        "Summing features loses the binding: most two-object scenes (≥ 0.8) share "
        "their bag-of-features code with another scene; no scene shares its "
        "conjunctive or slot code.",
        ("share_look_alike_bag_2", "look_alikes_conjunctive_slots"),
        lambda g: (
            g["share_look_alike_bag_2"] >= 0.8
            and g["look_alikes_conjunctive_slots"] == 0
        ),
    ),
    Claim(
        "bag_reader_coin_flip",
        "On look-alike scenes a reader of the bag code is at its coin-flip ceiling "
        "(≤ 0.55), while readers of conjunctive units and of slots answer "
        "(≥ 0.95).",
        ("rep_acc_look_bag", "rep_acc_look_conjunctive", "rep_acc_look_slots"),
        lambda g: (
            g["rep_acc_look_bag"] <= 0.55
            and min(g["rep_acc_look_conjunctive"], g["rep_acc_look_slots"]) >= 0.95
        ),
    ),
    Claim(
        "conjunctive_does_not_compose",
        "Conjunctive units fit training (≥ 0.99) but answer no better than chance "
        "(≤ 0.2, chance 1/6) about held-out colour-shape pairs.",
        ("comp_train_conjunctive", "comp_alone_conjunctive", "comp_other_conjunctive"),
        lambda g: (
            g["comp_train_conjunctive"] >= 0.99
            and max(g["comp_alone_conjunctive"], g["comp_other_conjunctive"]) <= 0.2
        ),
    ),
    Claim(
        "bag_composes_without_binding",
        "The bag code names the colour of a held-out pair shown alone (≥ 0.9) but "
        "not next to another object (≤ 0.5).",
        ("comp_alone_bag", "comp_other_bag"),
        lambda g: g["comp_alone_bag"] >= 0.9 and g["comp_other_bag"] <= 0.5,
    ),
    Claim(
        "slots_bind_and_compose",
        "Slots answer about held-out pairs both alone and next to another object "
        "(≥ 0.9 each).",
        ("comp_alone_slots", "comp_other_slots"),
        lambda g: min(g["comp_alone_slots"], g["comp_other_slots"]) >= 0.9,
    ),
    Claim(
        "pixel_models_fit",
        "From pixels, both models answer per-object queries on scenes with as many "
        "objects as in training (≥ 0.9).",
        ("seg_acc_baseline_seen", "seg_acc_slots_seen"),
        lambda g: min(g["seg_acc_baseline_seen"], g["seg_acc_slots_seen"]) >= 0.9,
    ),
    Claim(
        "slots_degrade_less",
        "With three times as many objects as in training, slot attention answers "
        "better than the CNN without slots (by ≥ 0.15).",
        ("seg_acc_slots_most", "seg_acc_baseline_most"),
        lambda g: g["seg_acc_slots_most"] - g["seg_acc_baseline_most"] >= 0.15,
    ),
    Claim(
        "slots_find_objects",
        "Slot masks recover the objects: foreground ARI ≥ 0.9 with as many objects "
        "as in training, still ≥ 0.7 with three times as many.",
        ("seg_ari_slots_seen", "seg_ari_slots_most"),
        lambda g: g["seg_ari_slots_seen"] >= 0.9 and g["seg_ari_slots_most"] >= 0.7,
    ),
]

EXERCISE_IDEAS = """
Exercise ideas for `binding` (to be turned into real exercises; ids binding.exN).

binding.ex1 -- predict, then run (a number).
    Question: in this world (6 colours, 6 shapes, shapes never repeat within a
    scene), what share of all THREE-object scenes has a bag-of-features
    look-alike (another scene with exactly the same bag code)? Enter a number
    in [0, 1] before running
        c = codes.count_collisions(3, "bag"); c["ambiguous"] / c["scenes"]
    Reference answer: 35/36 = 0.9722. With distinct shapes, the bag code fixes
    the shapes and the multiset of colours; any two different colours can be
    swapped between their shapes, so a scene is unique only if all its objects
    share one colour: 6 of the 6**3 colourings. 1 - 6/216 = 35/36 (4200 of
    4320 scenes). Tolerance 0.01. Feedback for 5/6 = 0.833: that is the
    two-object share; more objects make more swaps possible.

binding.ex2 -- predict, then run (a choice).
    Question: the conjunctive reader is asked "what colour is the <shape>?"
    about a held-out colour-shape pair shown ALONE. Before running the
    composition cell, predict its accuracy: (a) near 1, (b) near chance (1/6),
    (c) well below chance.
    Reference answer: (c). Its input lights one conjunctive unit that training
    never touched, so the answer comes from the query alone; and training
    taught it that this shape never had this colour (the pair was held out),
    so it names another colour: accuracy about 0 (glued
    comp_alone_conjunctive). Feedback for (b): an untrained unit would give
    chance if the reader had no prior, but it learned one from the query.

binding.ex3 -- write code (a function), checked against the library.
    Question: write `bag_code(scene)` for one scene given as a list of
    (colour, shape) pairs, returning a list of 12 counts: how many objects
    have each of the 6 colours, then each of the 6 shapes. Then find, by
    calling it, a second scene with the same code as
    [(0, 0), (2, 1)] ("red square + blue circle").
    Reference answer:
        def bag_code(scene):
            v = [0] * 12
            for c, s in scene:
                v[c] += 1
                v[6 + s] += 1
            return v
    and the look-alike [(2, 0), (0, 1)] ("blue square + red circle").
    Checker: compare with codes.encode(..., "bag") on 50 random scenes of 1 to
    4 objects; the look-alike must differ from the given scene as a set and
    have an equal code.
"""
