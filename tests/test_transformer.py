"""The shared character-level transformer: shapes, causality, overfit, generation."""

from __future__ import annotations

import pytest
import torch

from compgen.core.transformer import Transformer, TransformerConfig

POSITIONS = ["learned", "rope", "none"]


def tiny(positions: str = "learned", **kw) -> Transformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=11, block_size=24, n_layer=2, n_head=2, n_embd=32,
        positions=positions, **kw,
    )
    return Transformer(config)


@pytest.mark.parametrize("positions", POSITIONS)
def test_shapes_and_loss(positions):
    model = tiny(positions)
    idx = torch.randint(0, 11, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 11) and loss is None
    logits, loss = model(idx, torch.randint(0, 11, (3, 10)))
    assert loss.shape == () and torch.isfinite(loss)
    # an untrained model is close to uniform: loss near log(V)
    assert abs(loss.item() - torch.log(torch.tensor(11.0)).item()) < 0.3


@pytest.mark.parametrize("positions", POSITIONS)
def test_causality(positions):
    model = tiny(positions).eval()
    idx = torch.randint(0, 11, (2, 12))
    changed = idx.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 11
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-4)


def test_loss_mask_counts_only_masked_positions():
    model = tiny()
    idx = torch.randint(0, 11, (2, 8))
    targets = torch.randint(0, 11, (2, 8))
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[:, 5:] = True
    _, masked = model(idx, targets, loss_mask=mask)
    ignored = targets.clone()
    ignored[~mask] = -100
    _, by_ignore = model(idx, ignored)
    assert torch.allclose(masked, by_ignore)
    other = targets.clone()
    other[:, :5] = (other[:, :5] + 3) % 11  # changing uncounted targets: no effect
    _, same = model(idx, other, loss_mask=mask)
    assert torch.allclose(masked, same)


def test_determinism():
    a, b = tiny(), tiny()
    idx = torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a(idx, idx)[1], b(idx, idx)[1])


@pytest.mark.parametrize("positions", POSITIONS)
def test_tiny_overfit_and_generate(positions):
    """Memorise four sequences; greedy decoding then reproduces their answers."""
    model = tiny(positions)
    seqs = torch.tensor([
        [1, 2, 3, 0, 4, 5, 6, 10],
        [2, 3, 1, 0, 7, 7, 10, 10],
        [3, 1, 2, 0, 8, 10, 10, 10],
        [1, 1, 1, 0, 9, 4, 9, 10],
    ])
    x, y = seqs[:, :-1], seqs[:, 1:]
    mask = torch.zeros_like(y, dtype=torch.bool)
    mask[:, 3:] = True  # the answer tokens after the separator 0
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        _, loss = model(x, y, loss_mask=mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    out = model.generate(seqs[:, :4], 6, end_token=10)
    assert out.shape == (4, 6)
    assert torch.equal(out[:, :4], seqs[:, 4:])
    assert (out[:, 4:] == 10).all()  # filled with the end token after it
    assert model.training  # generate restores the mode


def test_generate_matches_full_forward_with_ragged_prompts():
    """Cached, ragged, batched decoding equals step-by-step argmax of forward."""
    model = tiny("rope").eval()
    g = torch.Generator().manual_seed(3)
    prompts = torch.randint(0, 10, (3, 6), generator=g)
    lengths = torch.tensor([6, 2, 4])
    out = model.generate(prompts, 5, lengths=lengths)
    for b in range(3):
        seq = prompts[b, : lengths[b]].tolist()
        for _ in range(5):
            logits, _ = model(torch.tensor([seq]))
            seq.append(int(logits[0, -1].argmax()))
        assert seq[int(lengths[b]):] == out[b].tolist()


def test_generate_stops_early_and_checks_length():
    model = tiny()
    prompts = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="block_size"):
        model.generate(prompts, 30)
    rope = tiny("rope")
    assert rope.generate(prompts, 30).shape == (2, 30)  # rope: any length
    with pytest.raises(ValueError, match="lengths"):
        model.generate(prompts, 2, lengths=torch.tensor([0, 3]))


@pytest.mark.parametrize(
    "kw",
    [dict(n_embd=30, n_head=4), dict(positions="alibi"), dict(dropout=1.0),
     dict(n_layer=0)],
)
def test_bad_config(kw):
    base = dict(vocab_size=5, block_size=8)
    with pytest.raises(ValueError):
        TransformerConfig(**{**base, **kw})
