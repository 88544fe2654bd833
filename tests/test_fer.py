"""CPPNs, the factored face, weight sweeps, the symmetry measure, adaptation."""

from __future__ import annotations

import math
import os

import pytest
import torch

from compgen import fer
from compgen.fer.factored import G

os.environ.setdefault("COMPGEN_PROGRESS", "0")
TINY = fer.Experiment(res=16, fit_steps=20, adapt_steps=10)


def test_grid_inputs_by_hand():
    g = fer.grid(3)
    assert g.shape == (9, 4)
    x, y, d, b = g.T
    assert x.tolist() == [-1, 0, 1] * 3 and y.tolist() == [-1] * 3 + [0] * 3 + [1] * 3
    assert torch.allclose(d, 1.4 * torch.sqrt(x**2 + y**2)) and (b == 1).all()
    # the grid is mirror-symmetric: flipping columns negates x exactly
    xs = fer.grid(64)[:, 0].reshape(64, 64)
    assert torch.equal(xs.flip(1), -xs)


def test_activations_by_hand():
    z = torch.tensor([0.0, 1.0, -2.0])
    assert torch.allclose(fer.ACTIVATIONS["gaussian"](z), 2 * torch.exp(-(z**2)) - 1)
    assert torch.allclose(fer.ACTIVATIONS["sigmoid"](z), 2 * torch.sigmoid(z) - 1)
    assert fer.ACTIVATIONS["gaussian"](torch.tensor(0.0)) == 1.0
    assert G(0.5) == pytest.approx(2 * math.exp(-0.25) - 1)


def test_cppn_forward_against_a_hand_computation():
    arch = fer.Architecture(n_layers=1, units=(("sin", 1), ("gaussian", 1)))
    net = fer.CPPN(arch, seed=0)
    w1 = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.0], [0.0, -1.0]])
    w2 = torch.tensor([[0.7], [-1.5]])
    fer.set_weights(net, [w1, w2])
    coords = fer.grid(5)
    x, y, d, b = coords.T
    h1 = torch.sin(x + 0.5 * d)
    h2 = 2 * torch.exp(-((2 * y - b) ** 2)) - 1
    assert torch.allclose(net(coords), torch.sigmoid(0.7 * h1 - 1.5 * h2), atol=1e-6)


def test_cppn_shapes_init_and_determinism():
    net = fer.CPPN(seed=3)
    arch = net.arch
    assert net.n_weights() == 4 * 16 + 16 * 16 * 2 + 16 == 592
    img = fer.render(net, 20)
    assert img.shape == (20, 20) and 0 < img.min() and img.max() < 1
    assert torch.equal(img, fer.render(fer.CPPN(seed=3), 20))
    assert not torch.equal(img, fer.render(fer.CPPN(seed=4), 20))
    maps = fer.feature_maps(net, 8)
    assert len(maps) == arch.n_layers and maps[0].shape == (arch.width, 8, 8)
    # LeCun init: std about 1 / sqrt(fan_in) for the 16 x 16 layers
    std = torch.cat([w.detach().reshape(-1) for w in net.weights[1:3]]).std()
    assert 0.2 < std < 0.3


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fer.grid(1), "res"),
        (lambda: fer.Architecture(n_layers=0), "n_layers"),
        (lambda: fer.Architecture(units=(("relu", 2),)), "unknown activation"),
        (lambda: fer.compose_face(arch=fer.Architecture(n_layers=2)), "3 hidden"),
        (lambda: fer.check_image(torch.zeros(4, 5)), "square"),
        (lambda: fer.check_image(torch.full((4, 4), 2.0)), r"\[0, 1\]"),
        (lambda: fer.check_image(torch.zeros(8, 8), res=16), "16x16"),
        (lambda: fer.fit(fer.CPPN(), torch.zeros(3, 4), steps=1), "square"),
        (lambda: fer.flat_index(fer.CPPN(), 5, 0, 0), "layer"),
        (lambda: fer.flat_index(fer.CPPN(), 0, 4, 0), "outside"),
        (lambda: fer.pixel_error(torch.zeros(2, 2), torch.zeros(3, 3)), "shape"),
        (lambda: fer.mirror_asymmetry(torch.zeros(5)), "images"),
        (lambda: fer.symmetry_breaking(torch.zeros(2, 8, 8)), "changes"),
        (lambda: fer.set_weights(fer.CPPN(), [torch.zeros(1)]), "matrices"),
    ],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_face_is_symmetric_and_each_knob_is_one_weight():
    net = fer.compose_face()
    img = fer.render(net)
    assert torch.allclose(img, img.flip(1), atol=1e-5)
    assert img.min() < 0.05 and img.max() > 0.95  # black background, white face
    # moving the eyes apart in FaceParts changes exactly one weight
    moved = fer.compose_face(fer.FaceParts(eye_spacing=0.46))
    a, b = fer.weight_vector(net), fer.weight_vector(moved)
    changed = torch.nonzero(a != b).squeeze(1).tolist()
    assert changed == [fer.knob_index(net, "eye spacing")]
    assert float(b[changed[0]]) == pytest.approx(-4 * G(1.5 * 0.46), rel=1e-6)
    # and a sweep of that weight paints the variant
    swept = fer.sweep(net, changed[0], [float(b[changed[0]])])[0]
    assert torch.allclose(swept, fer.render(moved), atol=1e-6)


def test_sweep_by_hand():
    net = fer.CPPN(seed=1)
    k = fer.flat_index(net, 1, 2, 3)
    assert fer.weight_vector(net)[k] == net.weights[1][2, 3]
    frames = fer.sweep(net, k, [float(net.weights[1][2, 3].detach()), 0.0], res=12)
    assert torch.allclose(frames[0], fer.render(net, 12))
    with torch.no_grad():
        net.weights[1][2, 3] = 0.0
    assert torch.allclose(frames[1], fer.render(net, 12), atol=1e-6)


def test_mirror_asymmetry_by_hand():
    base = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    assert float(fer.mirror_asymmetry(base + base.flip(1))) == pytest.approx(
        0, abs=1e-6
    )
    assert float(fer.mirror_asymmetry(base - base.flip(1))) == pytest.approx(1)
    one_side = torch.zeros(4, 6)
    one_side[1, 0] = 3.0
    assert float(fer.mirror_asymmetry(one_side)) == pytest.approx(0.5)
    batch = torch.stack([base + base.flip(1), base - base.flip(1)])
    assert torch.allclose(fer.mirror_asymmetry(batch), torch.tensor([0.0, 1.0]))


def test_symmetry_breaking_on_the_factored_face():
    net = fer.compose_face()
    used, changes = fer.sweep_all(net, (-0.25, 0.25), res=32)
    assert len(used) == int((fer.weight_vector(net) != 0).sum())
    stats = fer.symmetry_breaking(changes)
    assert stats["share"] < 0.02 and stats["symmetric_fraction"] > 0.9
    assert stats["n_weights"] == len(stats["per_weight"]) <= len(used)


def test_normalized_adam_uses_unit_gradients():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = fer.NormalizedAdam([w], lr=0.1)
    (1000 * (w**2).sum()).backward()
    opt.step()
    assert float(w.grad.norm()) == pytest.approx(1.0)
    assert torch.allclose(w.detach(), torch.tensor([2.9, 3.9]), atol=1e-4)
    # the cosine decay halves the learning rate half way, and restores it after
    w2 = torch.nn.Parameter(torch.tensor([1.0]))
    opt2 = fer.NormalizedAdam([w2], lr=0.1, decay_steps=2)
    for _ in range(2):
        opt2.zero_grad()
        w2.sum().backward()
        opt2.step()
    assert float(w2) == pytest.approx(1 - 0.1 - 0.05, abs=1e-4)
    assert opt2.param_groups[0]["lr"] == 0.1


def test_fit_overfits_a_tiny_image():
    target = fer.render(fer.CPPN(seed=7), 12)
    net = fer.CPPN(seed=0)
    before = fer.pixel_error(fer.render(net, 12), target)
    fer.fit(net, target, steps=150, lr=0.02)
    after = fer.pixel_error(fer.render(net, 12), target)
    assert after < 0.3 * before


def test_adapt_counts_steps_and_leaves_the_network_alone():
    net = fer.compose_face()
    target = fer.face_image(res=16)
    r = fer.adapt(net, target, steps=10, eval_every=5, threshold=0.01)
    assert r["steps_to_threshold"] == 0  # it paints the target already
    assert list(r["steps"]) == [0, 5, 10]
    assert torch.equal(fer.weight_vector(net), fer.weight_vector(fer.compose_face()))
    far = fer.adapt(net, 1 - target, steps=5, eval_every=5, threshold=1e-4)
    assert far["steps_to_threshold"] is None


def test_run_glues_every_claimed_value_and_builds_the_explorer():
    result = fer.run(TINY, seed=0)
    values = fer.summary_values(result)
    assert {n for c in fer.CLAIMS for n in c.uses} <= values.keys()
    assert values["pixel_error_factored"] == 0.0
    assert all(math.isfinite(v) for v in values.values() if isinstance(v, float))
    widget = fer.sweep_explorer(result, n_values=3, n=2)
    slider, toggles, outer = widget.children
    assert "compgen-explorer" in widget._dom_classes
    assert len(toggles.options) == 2 and slider.max == 2
    assert len(outer.children) == 2 and len(outer.children[0].children) == 3


# ---------------------------------------------------------------- the width grid


def test_widened_scales_every_kind_of_unit():
    from compgen.fer import scaling

    arch = fer.Architecture()
    wide = scaling.widened(arch, 4)
    assert wide.width == 4 * arch.width and wide.n_layers == arch.n_layers
    assert [n for n, _ in wide.units] == [n for n, _ in arch.units]
    big = fer.CPPN(scaling.widened(arch, max(scaling.FACTORS))).n_weights()
    assert big >= 10 * fer.CPPN(arch).n_weights()
    with pytest.raises(ValueError, match="factor"):
        scaling.widened(arch, 0)


def test_sampled_symmetry_is_the_full_measure_when_every_weight_fits():
    from compgen.fer import scaling

    net = fer.CPPN(seed=3)
    full = fer.symmetry_breaking(fer.sweep_all(net, (-0.25, 0.25), res=16)[1])
    some = scaling.sampled_symmetry(net, (-0.25, 0.25), res=16)
    assert some["share"] == pytest.approx(full["share"], rel=1e-5)
    few = scaling.sampled_symmetry(net, (-0.25, 0.25), res=16, max_sweeps=50)
    assert few["n_swept"] == 50 and 0 <= few["share"] <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_committed_widths_load(seed):
    from compgen.fer import scaling

    exp = fer.Experiment()
    for factor in scaling.FACTORS:
        width = scaling.widened(exp.arch, factor).width
        net, record = scaling.load_point(width, seed, exp)
        if not record:
            pytest.skip("no committed network of this width for this seed")
        assert net.arch.width == width and 0 <= record["share"] <= 1
        assert record["pixel_error"] <= 0.03
