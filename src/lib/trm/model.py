"""The tiny recursive model (TRM): one small network, applied again and again.

Names follow the paper's pseudocode (Jolicoeur-Martineau 2025, Fig. 3):
`x` the embedded question, `y` the current answer (embedded), `z` a latent
reasoning state; `net` is the one 2-block network; `latent_recursion` updates z
`n` times from (x, y, z) and then y once from (y, z); `deep_recursion` runs
`latent_recursion` T times, only the last with gradients, and returns a detached
(y, z) to carry into the next supervision step.

Baselines at the same parameter count are the same module with other settings:
T=1, n=1 ("two-pass": z then y, once) and n=0 ("single pass": y = net(y, x),
once), trained with one supervision step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .sudoku import check_size


@dataclass(frozen=True)
class TRMConfig:
    size: int = 6  # Sudoku side; the sequence has size*size cells
    d_model: int = 64  # D, the width of every token
    mixer: str = "mlp"  # "mlp": an MLP across the cells (TRM-MLP); "attention"
    heads: int = 4  # attention heads (mixer="attention" only)
    T: int = 2  # latent recursions per supervision step (T-1 without gradients)
    n: int = 2  # z updates per latent recursion; n=0 is a single pass
    one_step_grad: bool = False  # ablation: gradient through the last z, y only

    def __post_init__(self):
        check_size(self.size)
        if self.mixer not in ("mlp", "attention"):
            raise ValueError(f"mixer must be 'mlp' or 'attention', got {self.mixer!r}")
        for name, low in (("d_model", 1), ("T", 1), ("n", 0), ("heads", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.mixer == "attention" and self.d_model % self.heads:
            raise ValueError("d_model must be a multiple of heads")


def rms_norm(h: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm without a learned gain (the paper's post-norm)."""
    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)


def swiglu_width(width: int, expansion: float = 4.0) -> int:
    # a SwiGLU with 2/3 of the 4x width has the parameters of a 4x ReLU MLP
    return max(8, round(expansion * width * 2 / 3 / 8) * 8)


class SwiGLU(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.w_in = nn.Linear(width, 2 * hidden, bias=False)
        self.w_out = nn.Linear(hidden, width, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        gate, up = self.w_in(h).chunk(2, dim=-1)
        return self.w_out(F.silu(gate) * up)


class SelfAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, L, D = h.shape
        q, k, v = self.qkv(h).view(B, L, 3, self.heads, D // self.heads).unbind(2)
        a = F.scaled_dot_product_attention(  # every cell sees every cell
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )  # (B, heads, L, D/heads)
        return self.out(a.transpose(1, 2).reshape(B, L, D))


class Block(nn.Module):
    """Mix across cells, then within each cell; post-norm residuals."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        L, D = cfg.size**2, cfg.d_model
        self.mlp_t = cfg.mixer == "mlp"
        self.mix = (
            SwiGLU(L, swiglu_width(L)) if self.mlp_t else SelfAttention(D, cfg.heads)
        )
        self.ffn = SwiGLU(D, swiglu_width(D))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, L, D)
        if self.mlp_t:  # the MLP runs along the cell axis: transpose to (B, D, L)
            h = rms_norm(h + self.mix(h.mT).mT)
        else:
            h = rms_norm(h + self.mix(h))
        return rms_norm(h + self.ffn(h))


class TRM(nn.Module):
    """Reads a puzzle (B, L) of digits 0..size and refines an answer (y, z)."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.cfg = cfg
        L, D = cfg.size**2, cfg.d_model
        self.embed = nn.Embedding(cfg.size + 1, D)  # digits 0 (blank) .. size
        nn.init.normal_(self.embed.weight, std=1 / math.sqrt(D))
        # attention alone cannot tell cells apart: a learned position per cell,
        # started random so that it can from the first step
        self.pos = nn.Parameter(torch.randn(L, D)) if cfg.mixer == "attention" else None
        self.blocks = nn.ModuleList([Block(cfg), Block(cfg)])
        self.lm_head = nn.Linear(D, cfg.size, bias=False)  # logits for digits 1..size
        self.q_head = nn.Linear(D, 1)  # halting: "is the whole answer right?"
        nn.init.zeros_(self.q_head.weight)
        nn.init.constant_(self.q_head.bias, -5.0)  # start by never halting
        g = torch.Generator().manual_seed(0)  # fixed starting points for y and z
        self.register_buffer("y_init", torch.randn(D, generator=g).clamp(-2, 2))
        self.register_buffer("z_init", torch.randn(D, generator=g).clamp(-2, 2))

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        L, D = self.cfg.size**2, self.cfg.d_model
        return self.y_init.expand(batch, L, D), self.z_init.expand(batch, L, D)

    def embed_question(self, puzzle: torch.Tensor) -> torch.Tensor:
        x = self.embed(puzzle) * math.sqrt(self.cfg.d_model)  # (B, L, D)
        return x if self.pos is None else x + self.pos

    def net(self, h: torch.Tensor, inject: torch.Tensor) -> torch.Tensor:
        h = h + inject
        for block in self.blocks:
            h = block(h)
        return h

    def latent_recursion(self, x, y, z):
        n = self.cfg.n
        if n == 0:  # single pass: no latent to reason in, one look at the question
            return self.net(y, x), z
        for _ in range(n):
            z = self.net(z, x + y)  # think: refine the latent from question + answer
        y = self.net(y, z)  # act: refine the answer from the latent
        return y, z

    def deep_recursion(self, x, y, z):
        T, n = self.cfg.T, self.cfg.n
        with torch.no_grad():
            for _ in range(T - 1):
                y, z = self.latent_recursion(x, y, z)
            if self.cfg.one_step_grad and n > 0:  # ablation: HRM's 1-step gradient
                for _ in range(n - 1):
                    z = self.net(z, x + y)
        if self.cfg.one_step_grad and n > 0:
            z = self.net(z, x + y)
            y = self.net(y, z)
        else:
            y, z = self.latent_recursion(x, y, z)  # back-propagated through
        logits = self.lm_head(y)  # (B, L, size)
        q_halt = self.q_head(y.mean(1)).squeeze(-1)  # (B,)
        return (y.detach(), z.detach()), logits, q_halt

    def forward(self, puzzle: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        """One supervision step: ((y, z) detached, logits (B, L, size), q_halt (B,))."""
        return self.deep_recursion(self.embed_question(puzzle), y, z)

    @torch.no_grad()
    def trace(self, puzzle: torch.Tensor, N_sup: int) -> list[dict]:
        """Decode the answer after every latent recursion of every supervision step.

        Returns one record per recursion: sup (1..N_sup), t (1..T), the answer
        (B, L) digits 1..size, and the halting probability (after the last t).
        """
        x = self.embed_question(puzzle)
        y, z = self.initial_state(puzzle.shape[0])
        frames = []
        for sup in range(1, N_sup + 1):
            for t in range(1, self.cfg.T + 1):
                y, z = self.latent_recursion(x, y, z)
                q = torch.sigmoid(self.q_head(y.mean(1)).squeeze(-1))
                answer = self.lm_head(y).argmax(-1) + 1
                frames.append({"sup": sup, "t": t, "answer": answer, "halt": q})
        return frames


def solve_batch(model: TRM, puzzles: torch.Tensor, N_sup: int) -> list[torch.Tensor]:
    """The decoded answer (B, L) after each of N_sup supervision steps."""
    y, z = model.initial_state(puzzles.shape[0])
    answers = []
    with torch.no_grad():
        for _ in range(N_sup):
            (y, z), logits, _ = model(puzzles, y, z)
            answers.append(logits.argmax(-1) + 1)
    return answers
