"""A small character-level decoder-only transformer, in the manner of nanoGPT.

    config = TransformerConfig(vocab_size=20, block_size=64)
    model = Transformer(config)
    logits, loss = model(idx, targets, loss_mask=mask)    # (B, T, V), scalar
    out = model.generate(prompts, 30, lengths=lens, end_token=eos)  # (B, 30)

Shared by the chapters that train a tiny sequence model. Positions are learned
absolute embeddings by default; `positions="rope"` rotates queries and keys
instead (no position table, so any length runs), and `positions="none"` uses no
position signal at all (a causal mask alone still lets a model count).
Changing this interface breaks other chapters: add options, keep the defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

POSITIONS = ("learned", "rope", "none")


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int
    block_size: int  # the longest sequence (context length) the model reads
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64  # width; a multiple of n_head, at most 128 in this book
    dropout: float = 0.0
    positions: str = "learned"  # "learned" | "rope" | "none"
    bias: bool = True  # biases in the linear layers and layer norms

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})"
            )
        if self.positions == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError("rope needs an even head size (n_embd // n_head)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.positions not in POSITIONS:
            raise ValueError(
                f"positions must be one of {POSITIONS}, got {self.positions!r}"
            )


def rope_tables(
    positions: torch.Tensor, head_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles pos * 10000^(-2i/d): each (T, head_size/2)."""
    inv_freq = 10000.0 ** (
        -torch.arange(0, head_size, 2, dtype=torch.float32, device=positions.device)
        / head_size
    )
    angles = positions.float()[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x[2i], x[2i+1]) of x (B, nh, T, hs) by its angle."""
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (B, nh, T, hs/2) each
    rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return rotated.flatten(-2).type_as(x)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, nh, T, hs)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        causal = True
        if cache is not None:  # incremental decoding: keys and values so far
            if "k" in cache:
                if T != 1:
                    raise ValueError("after the prompt, decode one token at a time")
                k = torch.cat((cache["k"], k), dim=2)
                v = torch.cat((cache["v"], v), dim=2)
                causal = False  # one query, the last position: it sees every key
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, rope=None, cache=None):
        x = x + self.attn(self.ln1(x), rope, cache)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Token embedding -> n_layer blocks -> layer norm -> logits (tied weights)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        if config.positions == "learned":
            self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying, as in GPT-2
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled residual init
            if name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)

    def _check_length(self, end: int) -> None:
        if self.config.positions == "learned" and end > self.config.block_size:
            raise ValueError(
                f"sequence of length {end} exceeds block_size "
                f"{self.config.block_size} (learned positions have no row for it)"
            )

    def hidden(
        self, idx: torch.Tensor, *, start: int = 0, caches: list | None = None
    ) -> torch.Tensor:
        """The final hidden states (B, T, C) of tokens idx (B, T) at start.. ."""
        B, T = idx.shape
        self._check_length(start + T)
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        x = self.tok_emb(idx)  # (B, T, C)
        rope = None
        if self.config.positions == "learned":
            x = x + self.pos_emb(pos)  # (T, C) broadcast over the batch
        elif self.config.positions == "rope":
            rope = rope_tables(pos, self.config.n_embd // self.config.n_head)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, None if caches is None else caches[i])
        return self.ln_f(x)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        loss_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, V) for tokens idx (B, T), and the loss if targets are given.

        targets (B, T) is the next token at each position (-100: ignore). With
        loss_mask (B, T) (bool or 0/1), only positions where it is true count,
        e.g. the answer tokens of a prompt-answer pair. The loss is the mean
        cross-entropy over the counted positions.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must be (B, T), got shape {tuple(idx.shape)}")
        logits = self.head(self.hidden(idx))  # (B, T, V)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets {tuple(targets.shape)} must match idx {tuple(idx.shape)}"
            )
        per_token = F.cross_entropy(
            logits.flatten(0, 1).float(),
            targets.flatten(),
            ignore_index=-100,
            reduction="none",
        ).view_as(targets)  # (B, T)
        weight = (targets != -100).float()
        if loss_mask is not None:
            if loss_mask.shape != idx.shape:
                raise ValueError(
                    f"loss_mask {tuple(loss_mask.shape)} must match idx "
                    f"{tuple(idx.shape)}"
                )
            weight = weight * loss_mask.float()
        loss = (per_token * weight).sum() / weight.sum().clamp_min(1.0)
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        lengths: torch.Tensor | None = None,
        end_token: int | None = None,
    ) -> torch.Tensor:
        """Greedy continuations (B, max_new_tokens) of a batch of prompts.

        idx (B, T) holds the prompts, right-padded with anything; lengths (B,)
        says how long each is (default: all T). Row b of the result is what the
        model writes after its own prompt; once it writes `end_token`, the rest
        of the row is `end_token`, and decoding stops when every row has ended.
        Decoding is incremental (cached keys and values): each step reads one
        token per row; a row still inside its prompt reads its prompt token.
        """
        if idx.dim() != 2 or idx.shape[1] < 1:
            raise ValueError(f"idx must be (B, T) with T >= 1, got {tuple(idx.shape)}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
        B, T = idx.shape
        lengths = (
            torch.full((B,), T, device=idx.device)
            if lengths is None
            else torch.as_tensor(lengths, device=idx.device).long()
        )
        if lengths.shape != (B,) or lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"lengths must be (B,) values in [1, {T}]")
        self._check_length(int(lengths.max()) + max_new_tokens - 1)
        was_training = self.training
        self.eval()
        out = torch.zeros(B, max_new_tokens, dtype=torch.long, device=idx.device)
        ended = torch.zeros(B, dtype=torch.bool, device=idx.device)
        rows = torch.arange(B, device=idx.device)
        caches = [{} for _ in self.blocks]
        first = int(lengths.min())  # every row reads its prompt up to here at once
        h = self.hidden(idx[:, :first], caches=caches)[:, -1]  # (B, C)
        for t in range(first, int(lengths.max()) + max_new_tokens):
            # the token at position t-1 was just read; h predicts position t
            step = t - lengths  # (B,) index into `out` (negative: still prompt)
            writing = (step >= 0) & (step < max_new_tokens)
            guess = self.head(h).argmax(-1)  # (B,)
            if end_token is not None:
                guess = torch.where(ended, torch.full_like(guess, end_token), guess)
            at = step.clamp(0, max_new_tokens - 1)
            out[rows[writing], at[writing]] = guess[writing]
            if end_token is not None:
                ended |= writing & (guess == end_token)
                if bool(ended.all()):
                    break
            if t == int(lengths.max()) + max_new_tokens - 1:
                break
            prompt_tok = idx[:, min(t, T - 1)]
            nxt = torch.where(step < 0, prompt_tok, guess)  # (B,)
            h = self.hidden(nxt[:, None], start=t, caches=caches)[:, -1]
        self.train(was_training)
        if end_token is not None:  # fill each row after its end token
            seen = torch.cumsum(out == end_token, dim=1) > 0
            out[seen] = end_token
        return out

