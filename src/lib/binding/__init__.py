"""The binding problem (Greff, van Steenkiste & Schmidhuber 2020), in three experiments.

- `scenes`: a tiny world of coloured shapes, as feature sets and as 18x18 images.
- `codes`: three ways to write a scene (bag of features, conjunctive units,
  slots), networks that read them, collision counts (representation) and
  held-out colour-shape pairs (composition).
- `pixels`: from raw pixels, a CNN without slots against a small Slot
  Attention, on scenes with more objects than in training (segregation).
- `ahead`: the pixel models trained ahead of time (`python -m compgen.binding
  pixels`), committed small, loaded when the chapter's settings are theirs.
- `plots`, `widget`: the chapter's figures and its kernel-free scene composer.
"""

from __future__ import annotations

from ..claims import Claim, Headline
from . import ahead, codes, pixels, plots, scenes, widget
from .codes import CODES
from .exercises import EXERCISES
from .scenes import World, all_scenes, make_scenes, render

__all__ = [
    "CLAIMS",
    "CODES",
    "EXERCISES",
    "ahead",
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
        "no_bag_reader_of_any_size_binds",
        "Growing the bag reader ≥ 100x in weights, and training it 10x longer, "
        "leaves it at the coin-flip ceiling on look-alikes (every width ≤ the "
        "counted ceiling + 0.05) while the smallest and the largest answer unique "
        "scenes (≥ 0.95).",
        (
            "scale_bag_ratio",
            "scale_bag_look_max",
            "ceiling_look_bag",
            "scale_bag_unique_small",
            "scale_bag_unique_large",
        ),
        lambda g: (
            g["scale_bag_ratio"] >= 100
            and g["scale_bag_look_max"] <= g["ceiling_look_bag"] + 0.05
            and min(g["scale_bag_unique_small"], g["scale_bag_unique_large"]) >= 0.95
        ),
    ),
    Claim(
        "bigger_cnn_stays_below_slots",
        "Across ≥ 10x the CNN's weights, its best width at the most objects stays "
        "below slot attention (by ≥ 0.15), though slot attention has fewer weights "
        "than the largest CNN.",
        (
            "scale_cnn_ratio",
            "scale_cnn_most_max",
            "seg_acc_slots_most",
            "slot_model_weights",
            "scale_cnn_weights_large",
        ),
        lambda g: (
            g["scale_cnn_ratio"] >= 10
            and g["seg_acc_slots_most"] - g["scale_cnn_most_max"] >= 0.15
            and g["slot_model_weights"] < g["scale_cnn_weights_large"]
        ),
    ),
    Claim(
        "pixel_run_retraced",
        "The slot model, retrained live for its first steps with the committed "
        "run's settings, logs that run's training loss within 0.01 at every step "
        "where both logged it (at least one).",
        ("retrace_compared", "retrace_diff"),
        lambda g: g["retrace_compared"] >= 1 and g["retrace_diff"] <= 0.01,
    ),
    Claim(
        "slots_find_objects",
        "Slot masks recover the objects: foreground ARI ≥ 0.9 with as many objects "
        "as in training, still ≥ 0.7 with three times as many.",
        ("seg_ari_slots_seen", "seg_ari_slots_most"),
        lambda g: g["seg_ari_slots_seen"] >= 0.9 and g["seg_ari_slots_most"] >= 0.7,
    ),
]

HEADLINES = [
    Headline(
        "Superposition: two-object scenes whose summed (bag) code another scene shares",
        "argued, not measured",
        "{share_look_alike_bag_2:.0%}; the bag reader answers "
        "{rep_acc_look_bag:.2f} on them (ceiling 0.5)",
        "greff2020binding",
        scaling="bag reader on look-alikes {scale_bag_look_small:.2f} → "
        "{scale_bag_look_large:.2f} ({scale_bag_ratio:.0f}x the weights)",
    ),
    Headline(
        "Held-out colour-shape pairs, beside another object: bag vs slots",
        "object-factored codes should compose systematically",
        "{comp_other_bag:.2f} vs {comp_other_slots:.2f}",
        "greff2020binding",
    ),
    Headline(
        "More objects than in training: Slot Attention vs a CNN (accuracy)",
        "slots are surveyed as the way to segregate objects",
        "{seg_acc_slots_most:.2f} vs {seg_acc_baseline_most:.2f}",
        "greff2020binding",
        scaling="CNN {scale_cnn_most_small:.2f} → {scale_cnn_most_large:.2f} "
        "({scale_cnn_ratio:.0f}x the weights; slots {seg_acc_slots_most:.2f})",
    ),
]
