"""The chapter's experiment: one image, two networks (composed and SGD-trained),
their pixel errors, the sweep measures, the adaptation test, claims, exercises."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..claims import Claim, Headline
from ..core.device import torch_threads
from ..exercises import CodeExercise, MultipleChoice, PredictThenRun
from .cppn import CPPN, INPUTS, Architecture, render
from .factored import FaceParts, compose_face, face_image, unit_index
from .probes import (
    adapt,
    fit,
    flat_index,
    mirror_asymmetry,
    pixel_error,
    sweep_all,
    symmetry_breaking,
)
from .scaling import FACTORS, load_point, measure, widened

NETS = ("factored", "SGD")


@dataclass(frozen=True)
class Experiment:
    res: int = 64
    arch: Architecture = Architecture()
    parts: FaceParts = FaceParts()
    variant: FaceParts = FaceParts(eye_spacing=0.46)  # the eyes further apart
    fit_steps: int = 4000
    fit_lr: float = 0.02
    adapt_steps: int = 500
    adapt_lr: float = 0.003
    threshold: float = 0.03  # pixel error (RMS) that counts as "adapted"
    sweep_fractions: tuple[float, ...] = (-0.25, 0.25)  # w -> w (1 + f)
    # the SGD network's widths, as multiples of `arch`'s units (see `scaling`)
    scaling: tuple[int, ...] = FACTORS


def targets(exp: Experiment) -> dict[str, torch.Tensor]:
    """The image, the variant with the eyes further apart, and a one-sided
    variant: only the right eye moves (left half from the image, right half
    from the variant), a change that breaks the image's symmetry."""
    image = face_image(exp.parts, exp.res)
    variant = face_image(exp.variant, exp.res)
    one_eye = image.clone()
    one_eye[:, exp.res // 2 :] = variant[:, exp.res // 2 :]
    return {"image": image, "variant": variant, "one eye": one_eye}


def train_sgd(exp: Experiment, seed: int) -> CPPN:
    """A network of the factored one's architecture, random init, fitted by SGD."""
    net = CPPN(exp.arch, seed=seed)
    fit(net, face_image(exp.parts, exp.res), steps=exp.fit_steps, lr=exp.fit_lr)
    return net


# Weights of the factored network with a meaning: (source unit, target unit).
KNOBS = {
    "eye spacing": ("b1", "eye column"),
    "eye height": ("b", "eye row"),
    "teeth": ("x", "teeth"),
    "mouth width": ("mirror", "mouth column"),
}


def knob_index(net: CPPN, knob: str) -> int:
    """Flat weight index of a named knob of the factored network."""
    src, dst = KNOBS[knob]
    layer, col = unit_index(net.arch, dst)
    row = INPUTS.index(src) if layer == 1 else unit_index(net.arch, src)[1]
    return flat_index(net, layer - 1, row, col)


def measures(net: CPPN, exp: Experiment) -> dict:
    """Sweep every (non-zero) weight: the fracture measure, and the weights
    whose sweeps change the image most, strongest first, with their changes."""
    used, changes = sweep_all(net, exp.sweep_fractions, res=exp.res)
    order = torch.argsort((changes**2).sum((1, 2, 3)), descending=True)
    return {
        "symmetry": symmetry_breaking(changes),
        "strongest": [int(used[k]) for k in order],
        "strongest_changes": changes[order[:4]],  # (4, n_values, res, res)
    }


def run(exp: Experiment = Experiment(), *, seed: int = 0) -> dict:
    """Everything the chapter shows, for one SGD seed."""
    with torch_threads(1):  # a few hundred weights: one thread is fastest
        tg = targets(exp)
        nets = {
            "factored": compose_face(exp.parts, exp.arch),
            "SGD": train_sgd(exp, seed),
        }
        out = {"exp": exp, "seed": seed, "targets": tg, "nets": nets}
        for name, net in nets.items():
            image = render(net, exp.res)
            out[name] = {
                "image": image,
                "pixel_error": pixel_error(image, tg["image"]),
                "max_error": float((image - tg["image"]).abs().max()),
                **measures(net, exp),
                "adapt": {
                    v: adapt(
                        net,
                        tg[v],
                        steps=exp.adapt_steps,
                        lr=exp.adapt_lr,
                        threshold=exp.threshold,
                    )
                    for v in ("variant", "one eye")
                },
            }
        out["scaling"] = scale_widths(exp, seed, out)
    return out


def scale_widths(exp: Experiment, seed: int, out: dict) -> list[dict]:
    """The SGD network at every width of `exp.scaling`, narrowest first: the
    chapter's own (factor 1, fitted above, beside its committed record), the
    others from their committed weights (fitted here if there are none for
    this fit), each swept with `scaling.sampled_symmetry`."""
    points = []
    for factor in sorted(exp.scaling):
        arch = widened(exp.arch, factor)
        _, record = load_point(arch.width, seed, exp)
        if factor == 1:
            net, how = out["nets"]["SGD"], "trained live"
            s = out["SGD"]
            m = {"width": arch.width, "n_weights": net.n_weights(),
                 "pixel_error": s["pixel_error"], "share": s["symmetry"]["share"],
                 "symmetric_fraction": s["symmetry"]["symmetric_fraction"]}
        else:
            net, _ = load_point(arch.width, seed, exp)
            how = "committed"
            if net is None:
                net, how = train_sgd(replace(exp, arch=arch), seed), "fitted here"
            m = measure(net, out["targets"]["image"], exp)
        points.append({**m, "factor": factor, "how": how, "record": record})
    return points


def steps_needed(result: dict, net: str, variant: str = "variant") -> int:
    """Steps to the threshold; a run that never gets there counts as its budget."""
    steps = result[net]["adapt"][variant]["steps_to_threshold"]
    return result["exp"].adapt_steps if steps is None else steps


def summary_values(result: dict) -> dict:
    """The numbers the chapter glues and the claims read."""
    exp, f, s = result["exp"], result["factored"], result["SGD"]
    out = {
        "n_weights": result["nets"]["SGD"].n_weights(),
        "n_used_factored": f["symmetry"]["n_weights"],
        "threshold": exp.threshold,
        "adapt_budget": exp.adapt_steps,
    }
    for key, r in (("factored", f), ("sgd", s)):
        out[f"pixel_error_{key}"] = r["pixel_error"]
        out[f"max_error_{key}"] = r["max_error"]
        out[f"asym_share_{key}"] = r["symmetry"]["share"]
        out[f"symmetric_fraction_{key}"] = r["symmetry"]["symmetric_fraction"]
        net = "factored" if key == "factored" else "SGD"
        for v, tag in (("variant", "variant"), ("one eye", "one_eye")):
            out[f"steps_{tag}_{key}"] = steps_needed(result, net, v)
            out[f"reached_{tag}_{key}"] = (
                r["adapt"][v]["steps_to_threshold"] is not None
            )
            out[f"final_{tag}_{key}"] = float(r["adapt"][v]["pixel_error"][-1])
            out[f"start_{tag}_{key}"] = float(r["adapt"][v]["pixel_error"][0])
    pts = result.get("scaling", [])
    for p in pts:
        w = p["width"]
        out[f"scale_share_w{w}"] = p["share"]
        out[f"scale_pixel_error_w{w}"] = p["pixel_error"]
        out[f"scale_weights_w{w}"] = p["n_weights"]
    if pts:
        small, big = pts[0], pts[-1]
        out.update(
            scale_width_small=small["width"], scale_width_big=big["width"],
            scale_weights_small=small["n_weights"],
            scale_weights_big=big["n_weights"],
            scale_weights_ratio=big["n_weights"] / small["n_weights"],
            scale_share_small=small["share"], scale_share_big=big["share"],
            scale_share_min=min(p["share"] for p in pts),
            scale_share_max=max(p["share"] for p in pts),
            scale_pixel_error_small=small["pixel_error"],
            scale_pixel_error_big=big["pixel_error"],
        )
        gaps = [abs(p["share"] - p["record"]["share"]) for p in pts
                if p["how"] == "trained live" and p["record"]]
        if gaps:
            out["scale_live_retrace_gap"] = max(gaps)
    out["asym_ratio"] = out["asym_share_sgd"] / max(out["asym_share_factored"], 1e-6)
    out["adapt_speedup"] = out["steps_variant_sgd"] / max(
        out["steps_variant_factored"], 1
    )
    return out


CLAIMS = [
    Claim(
        "same_image",
        "The SGD network paints the factored network's image within a root-mean-"
        "square pixel error of 0.03 (brightness in [0, 1]).",
        ("pixel_error_sgd",),
        lambda g: g["pixel_error_sgd"] <= 0.03,
    ),
    Claim(
        "sweeps_break_symmetry",
        "Sweeping single weights of the SGD network breaks the face's mirror "
        "symmetry: at least 10 times the factored network's share of asymmetric "
        "change, which stays below 0.02.",
        ("asym_share_sgd", "asym_share_factored"),
        lambda g: (
            g["asym_share_factored"] < 0.02
            and g["asym_share_sgd"] >= 10 * g["asym_share_factored"]
        ),
    ),
    Claim(
        "factored_adapts_faster",
        "Moving both eyes apart, the factored network reaches the threshold pixel "
        "error in fewer steps than the SGD network, and ends the fine-tuning with "
        "at most a third of its pixel error.",
        (
            "steps_variant_factored",
            "steps_variant_sgd",
            "reached_variant_factored",
            "final_variant_factored",
            "final_variant_sgd",
        ),
        lambda g: (
            g["reached_variant_factored"]
            and g["steps_variant_factored"] < g["steps_variant_sgd"]
            and 3 * g["final_variant_factored"] <= g["final_variant_sgd"]
        ),
    ),
    Claim(
        "width_leaves_fracture",
        "Widening the SGD network to four times the units per layer (over ten "
        "times the weights) "
        "improves its fit but does not remove the fracture: at every width its "
        "share of asymmetric change stays at least 10 times the factored "
        "network's, and the widest fits the image more closely than the "
        "narrowest.",
        (
            "scale_share_min",
            "scale_share_big",
            "asym_share_factored",
            "scale_pixel_error_small",
            "scale_pixel_error_big",
        ),
        lambda g: (
            g["scale_share_min"] >= 10 * g["asym_share_factored"]
            and g["scale_pixel_error_big"] < g["scale_pixel_error_small"]
        ),
    ),
]


def _asym_reference(delta) -> float:
    return float(mirror_asymmetry(torch.as_tensor(np.asarray(delta, dtype=float))))


def _asym_cases() -> list[tuple]:
    rng = np.random.default_rng(3)
    one_side = np.zeros((4, 6))
    one_side[1:3, 0:2] = 1.0
    sym = rng.normal(size=(5, 6))
    cases = [
        (one_side,),
        (sym + sym[:, ::-1],),  # symmetric: 0
        (sym - sym[:, ::-1],),  # antisymmetric: 1
    ]
    cases += [(rng.normal(size=(s, s)),) for s in (3, 8)]
    return cases


_CONTEXT = (
    "A CPPN paints an image by mapping each pixel's coordinates (x, y, the "
    "distance d from the centre, and a constant b) to a brightness. One network "
    "was composed by hand from parts: a unit that computes a function of |x| "
    "(a mirror coordinate), bands for the rows of the eyes and mouth, a disc for "
    "the head, and units that combine them; every knob of the face is one weight. "
    "A second network of the same size was trained by gradient descent (Adam on "
    "normalised gradients) to paint the same image. A weight sweep changes one "
    "weight and renders the image again."
)


def _sgd_asymmetry(seed: int = 0) -> float:
    """Share of asymmetric change over all weight sweeps of the SGD network."""
    exp = Experiment()
    with torch_threads(1):
        net = train_sgd(exp, seed)
        return symmetry_breaking(sweep_all(net, exp.sweep_fractions)[1])["share"]


EXERCISES = [
    PredictThenRun(
        id="fer.ex1",
        title="How much does a sweep break the symmetry?",
        question="Every weight of the SGD network is swept in turn (scaled by "
        "0.75 and by 1.25) and the change to the image is split into a mirror-"
        "symmetric part and an antisymmetric part. Predict the share of the total "
        "change that is antisymmetric, over all sweeps (0: every edit keeps the "
        "face symmetric; 0.5: edits land on one side at random; 1: every edit "
        "is perfectly antisymmetric).",
        context=_CONTEXT,
        low=0.0,
        high=1.0,
        tolerance=0.1,
        experiment=_sgd_asymmetry,
        solution="Nothing in gradient descent asks for symmetric parts: the image "
        "is symmetric, but the network that paints it need not be. Most runs land "
        "far above the factored network's near-zero share, and on some seeds SGD "
        "finds a largely symmetric solution; the seed script shows the spread.",
    ),
    MultipleChoice(
        id="fer.ex2",
        title="Why do both eyes move together?",
        question="In the factored network, sweeping the single weight from the "
        "bias to the *eye column* unit moves both eyes towards or away from each "
        "other, symmetrically. Why?",
        context=_CONTEXT,
        options={
            "a": "Gradient descent made the two eyes' weights equal.",
            "b": "Both eyes are one unit: a band of the mirror coordinate, which "
            "depends on |x| only, so whatever moves one eye moves the other.",
            "c": "The sweep is applied to the two halves of the image separately.",
            "d": "The output unit averages the left and right halves.",
        },
        answer="b",
        feedback_for={
            "a": "The factored network was composed, not trained, and has no "
            "separate weight per eye.",
            "b": "The symmetry is built into the structure, not into the values of "
            "two weights that happen to agree.",
            "c": "A sweep changes one weight and renders the whole image.",
            "d": "The output adds head, eyes and mouth; nothing averages halves.",
        },
        solution="**b.** The eye column unit reads only the mirror coordinate "
        "G(1.5 x), an even function of x. Its bias sets which value of |x| the "
        "band sits at, so both eyes move together. An SGD network has no reason "
        "to route both eyes through one unit; its sweeps move pieces of each eye "
        "separately.",
    ),
    CodeExercise(
        id="fer.ex3",
        title="Measure how much an edit breaks the symmetry",
        question="Complete `mirror_asymmetry(delta)`: `delta` is a 2-d array (an "
        "image change, rows by columns). Split it into a part that is symmetric "
        "under a left-right flip and an antisymmetric part, and return the "
        "antisymmetric part's share of the energy (sum of squares) as a float.",
        context=_CONTEXT,
        function_name="mirror_asymmetry",
        stub="import numpy as np\n\n\ndef mirror_asymmetry(delta):\n"
        '    """Share of the energy of `delta` that is antisymmetric in x."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_asym_reference,
        cases=_asym_cases(),
        solution="`anti = (delta - delta[:, ::-1]) / 2`, then "
        "`(anti ** 2).sum() / (delta ** 2).sum()`. The symmetric and "
        "antisymmetric parts are orthogonal, so their energies add up to the "
        "total.",
    ),
]

HEADLINES = [
    Headline(
        "Share of a single-weight sweep's change that breaks the image's mirror "
        "symmetry, SGD vs factored network (same image)",
        "qualitative: sweeps of SGD networks distort the image incoherently, "
        "those of Picbreeder networks make coherent, symmetric edits",
        "{asym_share_sgd:.2f} vs {asym_share_factored:.3f}",
        "kumar2025fer",
        scaling="SGD {scale_share_small:.2f} → {scale_share_big:.2f} "
        "({scale_weights_ratio:.0f}x the weights; factored "
        "{asym_share_factored:.3f})",
    ),
    Headline(
        "Fine-tuning steps to a related image (eyes moved apart), factored vs SGD",
        "argued, not measured: unified factored representations should adapt "
        "more readily",
        "{steps_variant_factored} vs {steps_variant_sgd}",
        "kumar2025fer",
    ),
]
