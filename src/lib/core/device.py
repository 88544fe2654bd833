"""Device choice: CUDA, then Apple's MPS, then the CPU. Nothing else hard-codes one."""

from __future__ import annotations

import contextlib
import os

import torch

_KINDS = ("auto", "cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the best available device, or the one asked for.

    `prefer` may be "auto" (the default), "cuda", "cuda:1", "mps" or "cpu". The
    environment variable `COMPGEN_DEVICE` overrides the default, so a whole book
    build can be pinned to the CPU without editing a chapter.
    """
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if prefer is None:
        prefer = os.environ.get("COMPGEN_DEVICE", "auto")
    if not isinstance(prefer, str):
        raise TypeError(f"prefer must be a string or torch.device, got {prefer!r}")
    kind = prefer.split(":")[0].lower()
    if kind not in _KINDS:
        raise ValueError(f"device must be one of {', '.join(_KINDS)}, got {prefer!r}")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "CUDA was asked for but is not available. On Colab: Runtime > Change "
            "runtime type > GPU. Or use get_device('auto') to fall back to the CPU."
        )
    if kind == "mps" and not _mps_available():
        raise RuntimeError("MPS was asked for but is not available on this machine.")
    return torch.device(prefer)


def describe_device(device: torch.device | None = None) -> str:
    """A one-line description for a notebook's setup cell, e.g. 'cpu (2 threads)'."""
    device = get_device() if device is None else device
    if device.type == "cuda":
        index = (
            device.index if device.index is not None else torch.cuda.current_device()
        )
        return f"cuda ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with `n` CPU threads for torch, then restore the setting.

    Tiny models (a few thousand weights, small batches) gain nothing from a
    second thread and lose a lot when the machine is busy, so chapters that train
    many of them use `with torch_threads(1):`.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
