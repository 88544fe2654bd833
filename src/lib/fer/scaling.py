"""Does a wider SGD network paint the face with less fracture? The SGD network
at four widths (the chapter's, and 2, 3 and 4 times as many units of every
kind per layer), each fitted with the chapter's recipe and probed with the
same weight sweeps.

    python -m compgen.fer grid --seeds 0 1 2

fits the wider networks (about a minute per seed on one CPU thread) and writes
their weights with a record of their measures (`runs/`, a few kilobytes each).
The chapter refits the narrowest (its own SGD network) and one wider width
live, checks that the live one retraces its record, and sweeps the others'
committed weights afresh.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..core.device import torch_threads
from .cppn import CPPN, Architecture, grid, render
from .probes import pixel_error, sweep, symmetry_breaking, weight_vector

FACTORS = (1, 2, 3, 4)  # units of every kind per layer, times the chapter's
LIVE_FACTOR = 2  # the wider width refitted on the page
MAX_SWEEPS = 600  # weights swept per network (a fixed random sample if more)
RUNS = Path(__file__).parent / "runs"


def widened(arch: Architecture, factor: int) -> Architecture:
    """The same layers with `factor` times as many units of every activation."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    return replace(arch, units=tuple((name, n * factor) for name, n in arch.units))


def sampled_symmetry(net: CPPN, fractions, *, res: int = 64,
                     max_sweeps: int = MAX_SWEEPS) -> dict:
    """`symmetry_breaking` over the sweeps of every non-zero weight, or of a
    fixed random sample of `max_sweeps` of them (an estimate of the same
    share: every weight is equally likely to be swept)."""
    flat = weight_vector(net)
    used = torch.nonzero(flat != 0).squeeze(1)
    if len(used) > max_sweeps:
        g = torch.Generator().manual_seed(0)
        used = used[torch.randperm(len(used), generator=g)[:max_sweeps]].sort()[0]
    with torch.no_grad():
        base = net(grid(res)).reshape(res, res)
        changes = torch.stack([sweep(net, int(k), [flat[k] * (1 + f)
                                                   for f in fractions], res=res)
                               for k in used]) - base
    return {**symmetry_breaking(changes), "n_swept": len(used)}


def point_file(width: int, seed: int) -> Path:
    return RUNS / f"sgd_w{width}_seed{seed}.pt"


def measure(net: CPPN, image: torch.Tensor, exp) -> dict:
    sym = sampled_symmetry(net, exp.sweep_fractions, res=exp.res)
    return {"width": net.arch.width, "n_weights": net.n_weights(),
            "pixel_error": pixel_error(render(net, exp.res), image),
            "share": sym["share"], "symmetric_fraction": sym["symmetric_fraction"],
            "n_swept": sym["n_swept"]}


def save_point(net: CPPN, seed: int, record: dict, exp) -> Path:
    path = point_file(net.arch.width, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"units": net.arch.units, "n_layers": net.arch.n_layers,
                "weights": [w.detach().clone() for w in net.weights],
                "seed": seed, "fit_steps": exp.fit_steps, "res": exp.res,
                "record": record, "torch": torch.__version__, "threads": 1}, path)
    return path


def load_point(width: int, seed: int, exp) -> tuple[CPPN | None, dict]:
    """The committed network of this width and seed and its record, or
    (None, {}) if there is none fitted with `exp`'s steps and resolution."""
    path = point_file(width, seed)
    if not path.is_file():
        return None, {}
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if (saved["fit_steps"], saved["res"]) != (exp.fit_steps, exp.res):
        return None, {}
    net = CPPN(Architecture(saved["n_layers"], tuple(map(tuple, saved["units"]))))
    with torch.no_grad():
        for p, w in zip(net.weights, saved["weights"], strict=True):
            p.copy_(w)
    return net, saved["record"]


def main(argv=None) -> int:
    from .experiment import Experiment, train_sgd
    from .factored import face_image

    parser = argparse.ArgumentParser(prog="python -m compgen.fer grid",
                                     description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--factors", type=int, nargs="+",
                        default=[f for f in FACTORS if f > 1])
    args = parser.parse_args(argv)
    exp = Experiment()
    image = face_image(exp.parts, exp.res)
    with torch_threads(1):
        for seed in args.seeds:
            for factor in args.factors:
                began = time.perf_counter()
                wide = replace(exp, arch=widened(exp.arch, factor))
                net = train_sgd(wide, seed)
                fit_seconds = time.perf_counter() - began
                record = {**measure(net, image, exp), "fit_seconds": fit_seconds}
                path = save_point(net, seed, record, exp)
                print(json.dumps({"path": path.name, **record,
                                  "wall": time.perf_counter() - began}), flush=True)
    return 0
