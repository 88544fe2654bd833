"""A small transformer encoder-decoder for SCAN, with batched greedy decoding.

One class serves both networks of the chapter: the baseline reads the command
alone; the metalearner reads the command followed by study examples
(`walk -> I_WALK ; ...`) in the same encoder input, MLC-style, and must find
each word's meaning there. Pre-norm blocks, learned absolute positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .grammar import ACTIONS

PAD, BOS, EOS = 0, 1, 2
TARGETS = ("<pad>", "<s>", "</s>", *ACTIONS)  # the decoder's vocabulary


@dataclass(frozen=True)
class ModelConfig:
    src_vocab: int = 64  # size of the encoder's vocabulary
    d_model: int = 64
    n_heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.0
    max_src: int = 9  # longest command
    study: int = 0  # study examples after the command (0: the plain baseline)
    lookup: bool = True  # command words look their meaning up in the study set
    max_tgt: int = 50  # longest decoder sequence (48 actions + <s> + </s>)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.h, self.d = cfg.n_heads, cfg.d_model
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)

    def heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, h, T, D/h)
        B, T, _ = x.shape
        return x.view(B, T, self.h, self.d // self.h).transpose(1, 2)

    def keys_values(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(src).chunk(2, dim=-1)
        return self.heads(k), self.heads(v)

    def forward(self, x, kv, mask=None) -> torch.Tensor:
        """x (B, T, D) attends to the precomputed (keys, values) (B, h, S, D/h);
        mask (B, 1, T or 1, S) is True where attention is allowed."""
        q = self.heads(self.q(x))
        y = F.scaled_dot_product_attention(q, *kv, attn_mask=mask)
        B, _, T, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(B, T, self.d))


class Block(nn.Module):
    """Self-attention, (cross-attention), MLP; each pre-normed with a residual."""

    def __init__(self, cfg: ModelConfig, cross: bool):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.d_model), Attention(cfg)
        self.cross = cross
        if cross:
            self.ln2, self.xattn = nn.LayerNorm(cfg.d_model), Attention(cfg)
        self.ln3 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_ff),
            nn.GELU(),
            nn.Linear(cfg.d_ff, cfg.d_model),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x, self_mask, memory_kv=None, memory_mask=None, cache=None):
        h = self.ln1(x)
        kv = self.attn.keys_values(h)
        if cache is not None:  # incremental decoding: keys of earlier steps
            if "k" in cache:
                kv = (
                    torch.cat([cache["k"], kv[0]], 2),
                    torch.cat([cache["v"], kv[1]], 2),
                )
            cache["k"], cache["v"] = kv
        x = x + self.attn(h, kv, self_mask)
        if self.cross:
            x = x + self.xattn(self.ln2(x), memory_kv, memory_mask)
        return x + self.mlp(self.ln3(x))


class Seq2Seq(nn.Module):
    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        D = cfg.d_model
        self.src_emb, self.src_pos = (
            nn.Embedding(cfg.src_vocab, D),
            nn.Embedding(cfg.max_src, D),
        )
        if cfg.study:
            self.study_type = nn.Parameter(torch.zeros(D))  # marks a study example
            self.lookup = nn.Linear(D, D) if cfg.lookup else None
        self.tgt_emb = nn.Embedding(len(TARGETS), D)
        self.tgt_pos = nn.Embedding(cfg.max_tgt, D)
        self.encoder = nn.ModuleList(Block(cfg, False) for _ in range(cfg.enc_layers))
        self.decoder = nn.ModuleList(Block(cfg, True) for _ in range(cfg.dec_layers))
        self.ln_enc, self.ln_dec = nn.LayerNorm(D), nn.LayerNorm(D)
        self.head = nn.Linear(D, len(TARGETS))
        self.drop = nn.Dropout(cfg.dropout)

    def encode(self, src: torch.Tensor) -> tuple[list, torch.Tensor]:
        """src (B, S) token ids -> per decoder layer (keys, values), mask (B,1,1,S).

        With `study` examples, src is the command (max_src ids) followed by
        `study` (word, action) id pairs. Each command word looks itself up among
        the study words (a key-value memory, as in meta seq2seq: keys are the
        study words' embeddings, values their actions') and adds what it found
        to its input; each pair also becomes one encoder position (the sum of
        the two embeddings, no position: the study examples are a set)."""
        n = self.cfg.max_src
        cmd, pairs = src[:, :n], src[:, n:].reshape(src.shape[0], -1, 2)
        pos = torch.arange(n, device=src.device)
        words = self.src_emb(cmd)  # (B, n, D)
        x = words + self.src_pos(pos)
        if self.cfg.study:
            study = self.src_emb(pairs)  # (B, study, 2, D): word, action
            # the memory lookup: each command word compares its embedding with
            # the study words' and reads out the matching study action
            if self.lookup is not None:
                score = words @ study[:, :, 0].transpose(1, 2) / self.cfg.d_model**0.5
                found = score.softmax(-1) @ study[:, :, 1]  # (B, n, D)
                x = x + self.lookup(found)
            x = torch.cat([x, study.sum(2) + self.study_type], 1)
        mask = torch.cat([cmd != PAD, pairs[..., 0] != PAD], 1)[:, None, None, :]
        x = self.drop(x)
        for block in self.encoder:
            x = block(x, mask)
        memory = self.ln_enc(x)  # (B, S, D)
        return [b.xattn.keys_values(memory) for b in self.decoder], mask

    def decode(self, tgt, memory_kv, memory_mask, start: int = 0, caches=None):
        """tgt (B, T) -> logits (B, T, n_targets); positions start at `start`."""
        T = tgt.shape[1]
        pos = torch.arange(start, start + T, device=tgt.device)
        x = self.drop(self.tgt_emb(tgt) + self.tgt_pos(pos))
        causal = None
        if caches is None:
            causal = torch.ones(T, T, dtype=torch.bool, device=tgt.device).tril()
        for i, block in enumerate(self.decoder):
            cache = None if caches is None else caches[i]
            x = block(x, causal, memory_kv[i], memory_mask, cache)
        return self.head(self.ln_dec(x))

    def forward(self, src, tgt, targets=None):
        """Teacher forcing: tgt = <s> a1 .. an, targets = a1 .. an </s> (padded)."""
        logits = self.decode(tgt, *self.encode(src))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                targets.reshape(-1),
                ignore_index=PAD,
            )
        return logits, loss

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
        """Greedy decoding for a batch: (B, S) -> (B, L) target ids (PAD after </s>).

        Keys and values of earlier steps are cached, and the batch shrinks as
        sequences finish, so decoding the 7,706 add-jump commands takes seconds.
        """
        was_training = self.training
        self.eval()
        max_len = max_len or self.cfg.max_tgt - 1
        memory_kv, memory_mask = self.encode(src)
        B = src.shape[0]
        out = torch.full((B, max_len), PAD, dtype=torch.long, device=src.device)
        alive = torch.arange(B, device=src.device)
        caches = [{} for _ in self.decoder]
        token = torch.full((B, 1), BOS, dtype=torch.long, device=src.device)
        for t in range(max_len):
            logits = self.decode(token, memory_kv, memory_mask, start=t, caches=caches)
            nxt = logits[:, -1].argmax(-1)
            out[alive, t] = nxt
            keep = nxt != EOS
            if not keep.any():
                break
            if not keep.all():  # drop finished sequences from every tensor
                alive, nxt = alive[keep], nxt[keep]
                memory_kv = [(k[keep], v[keep]) for k, v in memory_kv]
                memory_mask = memory_mask[keep]
                for c in caches:
                    c["k"], c["v"] = c["k"][keep], c["v"][keep]
            token = nxt[:, None]
        self.train(was_training)
        return out
