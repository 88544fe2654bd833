"""Our TRM against a public implementation, `tiny-recursive-model` (PyPI).

    pip install tiny-recursive-model     # brings accelerate, x-transformers, ...
    .venv/bin/python benchmarks/trm_peer.py --preset cpu --steps 300 --target 0.3
    .venv/bin/python benchmarks/trm_peer.py --preset gpu --steps 2000 --target 0.85

Both models train on the same puzzles, batches (same symmetries), width, T, n,
N_sup, batch size, optimiser (AdamW, same learning rate and betas) and EMA, on
the same device, one after the other. Each runs the training loop its authors
intended: ours through compgen.core.train with the carried deep supervision;
the peer's as its own Trainer does (every batch kept for N_sup supervision steps,
one optimiser step each), without the Trainer's per-step printing and its
accelerate wrapper. Prints training examples per second (one example = one
puzzle through one supervision step), seconds to reach --target exact-solve on
held-out puzzles (evaluation time excluded), and the ratios. On CUDA it also
prints our model FLOPs utilisation against the GPU's bf16 peak (--peak-tflops,
989 for an H100 SXM's dense bf16).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen.core import count_parameters, get_device  # noqa: E402
from compgen.trm import (  # noqa: E402
    PRESETS,
    TRM,
    batches,
    datasets,
    override,
    swiglu_width,
    train_trm,
)
from compgen.trm.cli import parse_settings  # noqa: E402


def import_peer():
    try:
        from tiny_recursive_model import MLPMixer1D, TinyRecursiveModel
    except ImportError as exc:
        sys.exit(
            "benchmarks/trm_peer.py needs the peer package: "
            "pip install tiny-recursive-model\n"
            f"(import failed: {exc})"
        )
    return MLPMixer1D, TinyRecursiveModel


def model_flops_per_example(cfg) -> float:
    """Matmul FLOPs of one supervision step, forward + backward, per puzzle."""
    m = TRM(cfg.model)
    L = cfg.size**2
    per_token = 2 * sum(p.numel() for n, p in m.blocks.named_parameters() if "ffn" in n)
    per_channel = 2 * sum(
        p.numel() for n, p in m.blocks.named_parameters() if "mix" in n
    )
    net = L * per_token + cfg.model.d_model * per_channel  # one call of `net`
    calls = cfg.model.T * (cfg.model.n + 1)
    return net * (calls + 2 * (cfg.model.n + 1))  # + backward of the last recursion


def run_ours(cfg, device, target: float) -> dict:
    result = train_trm(cfg, checkpoint=False, device=device)
    hits = [r["time"] for r in result["history"]
            if "exact" in r and r["exact"] >= target]  # fmt: skip
    m = result["metrics"]
    return {"ex_per_s": m["examples_per_s"], "t_target": hits[0] if hits else None,
            "exact": m["exact"], "train_s": m["train_s"],
            "params": m["params"]}  # fmt: skip


def run_peer(cfg, device, target: float) -> dict:
    MLPMixer1D, TinyRecursiveModel = import_peer()
    from ema_pytorch import EMA

    torch.manual_seed(cfg.seed)
    L, D = cfg.size**2, cfg.model.d_model
    model = TinyRecursiveModel(
        dim=D, num_tokens=cfg.size + 1,
        # hidden widths chosen so the weights count matches ours (their MLPs
        # have two matrices and GELU, ours three and SwiGLU)
        network=MLPMixer1D(dim=D, depth=2, seq_len=L,
                           expansion_factor=1.5 * swiglu_width(L) / D,
                           expansion_factor_token=1.5 * swiglu_width(D) / D),
        num_refinement_blocks=cfg.model.T, num_latent_refinements=cfg.model.n,
    ).to(device)  # fmt: skip
    ema = EMA(model, beta=cfg.ema or 0.999, update_every=1, update_after_step=0)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay
    )
    train_set, test_set = datasets(cfg)
    get_batch = batches(train_set, cfg)

    @torch.no_grad()
    def peer_exact(net) -> float:
        right = 0
        for i in range(0, len(test_set), cfg.eval_batch):
            p = test_set.puzzles[i : i + cfg.eval_batch].to(device)
            s = test_set.solutions[i : i + cfg.eval_batch].to(device)
            out, lat = net.get_initial()
            for _ in range(cfg.N_sup):
                out, lat, pred, _ = net(p, out, lat)
            right += int((pred.argmax(-1) == s).all(-1).sum())
        return right / len(test_set)

    steps, train_s, t_hit, exact = 0, 0.0, None, 0.0
    batch_index = 0
    while steps < cfg.steps:
        p, s = (t.to(device) for t in get_batch(batch_index))
        batch_index += 1
        start = time.perf_counter()
        out, lat = model.get_initial()
        for _ in range(cfg.N_sup):
            if steps >= cfg.steps:
                break
            for g in opt.param_groups:
                g["lr"] = cfg.lr * min(1.0, (steps + 1) / max(1, cfg.warmup_steps))
            loss, _, out, lat, _, _ = model(p, out, lat, labels=s)
            (loss / p.shape[0]).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            ema.update()
            steps += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - start
        if steps % cfg.eval_every < cfg.N_sup or steps >= cfg.steps:
            exact = peer_exact(ema.ema_model.eval())
            if t_hit is None and exact >= target:
                t_hit = train_s
    return {"ex_per_s": steps * cfg.batch_size / train_s, "t_target": t_hit,
            "exact": exact, "train_s": train_s,
            "params": count_parameters(model)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--target", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    import_peer()  # fail early, with the install hint
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    cfg = override(
        PRESETS[args.preset], {"steps": args.steps, **parse_settings(args.set)}
    )
    if device.type != "cuda":
        cfg = override(cfg, {"amp": False, "compile": False})
    datasets(cfg)  # generate (and cache) the puzzles before any clock starts
    print(f"device {device}, preset {args.preset}, {cfg.steps} steps, "
          f"batch {cfg.batch_size}, D={cfg.model.d_model}, T={cfg.model.T}, "
          f"n={cfg.model.n}, N_sup={cfg.N_sup}")  # fmt: skip
    rows = {"ours": run_ours(copy.deepcopy(cfg), device, args.target),
            "peer": run_peer(copy.deepcopy(cfg), device, args.target)}  # fmt: skip
    for name, r in rows.items():
        hit = f"{r['t_target']:.1f} s" if r["t_target"] is not None else "not reached"
        print(f"{name:>5}: {r['params']:,} params, {r['ex_per_s']:.0f} examples/s, "
              f"time to {args.target:.0%}: {hit}, final exact {r['exact']:.1%}, "
              f"{r['train_s']:.1f} s of training")  # fmt: skip
    print(
        f"speed ratio (ours / peer, examples per second): "
        f"{rows['ours']['ex_per_s'] / rows['peer']['ex_per_s']:.2f}x"
    )
    if rows["ours"]["t_target"] and rows["peer"]["t_target"]:
        ratio = rows["peer"]["t_target"] / rows["ours"]["t_target"]
        print(f"time-to-target ratio (peer / ours): {ratio:.2f}x")
    if device.type == "cuda":
        flops = model_flops_per_example(cfg) * rows["ours"]["ex_per_s"]
        print(
            f"our model FLOPs: {flops / 1e12:.1f} TFLOP/s = "
            f"{flops / 1e12 / args.peak_tflops:.1%} of {args.peak_tflops:g} bf16 peak"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
