"""The binding chapter's library: scenes, codes, readers, slot attention."""

from __future__ import annotations

from dataclasses import replace
from math import comb

import numpy as np
import pytest
import torch

from compgen import TrainConfig
from compgen.binding import ahead, codes, pixels, scenes, widget
from compgen.core import torch_threads

WORLD = scenes.World()
SMALL = scenes.World(n_colors=2, n_shapes=2, grid=2)


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are small: a second thread gains nothing, and beside other
    work on two cores it made this file's training tests 20 times slower."""
    with torch_threads(1):
        yield


# ---------------------------------------------------------------- scenes


def test_scenes_have_the_promised_shape_and_repeat_by_seed():
    s = scenes.make_scenes(50, seed=3, n_objects=[1, 3])
    assert s.shape == (50, 3, 3) and s.dtype == np.int64
    assert np.array_equal(s, scenes.make_scenes(50, seed=3, n_objects=[1, 3]))
    assert not np.array_equal(s, scenes.make_scenes(50, seed=4, n_objects=[1, 3]))
    sizes = (s[:, :, 0] >= 0).sum(1)
    assert set(sizes) == {1, 3}
    scenes.check_scenes(s, WORLD)  # distinct shapes and cells, ids in range


def test_render_draws_each_object_where_its_mask_says():
    s = np.array([[[0, 0, 0], [2, 4, 8]]])  # red square top-left, blue cross
    images, masks = scenes.render(s)
    assert images.shape == (1, 3, 18, 18) and masks.shape == (1, 18, 18)
    assert (masks == 1).sum() == 25 and (masks == 2).sum() == 9  # square, cross
    assert torch.allclose(images[0, :, 1, 1], torch.tensor(scenes.COLORS["red"]))
    assert torch.allclose(images[0, :, 13, 13], torch.tensor(scenes.COLORS["blue"]))
    assert images[0][:, masks[0] == 0].abs().sum() == 0  # black background


def test_all_scenes_counts_by_hand():
    # choose k of S shapes, colour each of them: C(S, k) * C**k scenes
    for k in (1, 2, 3):
        assert len(scenes.all_scenes(k)) == comb(6, k) * 6**k


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_colors": 0}, "n_colors"),
        ({"n_shapes": 7}, "n_shapes"),
        ({"grid": 0}, "grid"),
    ],
)
def test_world_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scenes.World(**kwargs)


def test_scene_input_validation():
    with pytest.raises(ValueError, match="objects"):
        scenes.make_scenes(5, seed=0, n_objects=7)
    with pytest.raises(ValueError, match="positive int"):
        scenes.make_scenes(0, seed=0, n_objects=2)
    with pytest.raises(ValueError, match="shape"):
        scenes.render(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shapes must not repeat"):
        scenes.render(np.array([[[0, 1, 0], [1, 1, 2]]]))
    with pytest.raises(ValueError, match="colour ids"):
        scenes.render(np.array([[[9, 1, 0]]]))


# ---------------------------------------------------------------- codes


def test_the_superposition_catastrophe_by_hand():
    red_square_blue_circle = np.array([[[0, 0, 0], [2, 1, 1]]])
    blue_square_red_circle = np.array([[[2, 0, 0], [0, 1, 1]]])
    for code, same in (("bag", True), ("conjunctive", False), ("slots", False)):
        a = codes.encode(red_square_blue_circle, code)
        b = codes.encode(blue_square_red_circle, code)
        if code == "slots":  # compare as sets of slots (rows), not column by column
            a, b = ({tuple(row.tolist()) for row in x[0]} for x in (a, b))
            assert (a == b) == same
        else:
            assert torch.equal(a, b) == same, code


def test_collision_count_matches_a_hand_count():
    # two colours, two shapes, two objects: {r s, r c}, {r s, b c}, {b s, r c},
    # {b s, b c}; the bag code merges only {r s, b c} and {b s, r c}
    assert codes.count_collisions(2, "bag", world=SMALL) == {
        "scenes": 4,
        "codes": 3,
        "ambiguous": 2,
    }
    for code in ("conjunctive", "slots"):
        assert codes.count_collisions(2, code, world=SMALL)["ambiguous"] == 0
    # in general, two objects collide unless they share their colour: (C-1)/C
    count = codes.count_collisions(2, "bag", world=WORLD)
    assert count["ambiguous"] / count["scenes"] == pytest.approx(5 / 6)


def test_codes_shapes_and_ambiguity():
    s = scenes.all_scenes(2)
    assert codes.encode(s, "bag").shape == (len(s), 12)
    assert codes.encode(s, "conjunctive").shape == (len(s), 36)
    assert codes.encode(s, "slots").shape == (len(s), 2, 12)
    amb = codes.ambiguous(s, "bag")
    assert np.array_equal(amb, s[:, 0, 0] != s[:, 1, 0])  # colours differ
    assert not codes.ambiguous(s, "slots").any()
    with pytest.raises(ValueError, match="code must be one of"):
        codes.encode(s, "holistic")


def test_best_accuracy_is_a_coin_flip_on_look_alikes():
    s = scenes.all_scenes(2)
    amb = codes.ambiguous(s, "bag")
    assert codes.best_accuracy(s[amb], "bag") == 0.5
    assert codes.best_accuracy(s[~amb], "bag") == 1.0
    assert codes.best_accuracy(s, "conjunctive") == 1.0


def test_composition_split_holds_pairs_out_of_training():
    split = codes.composition_split(WORLD, seed=0)
    held = {tuple(p) for p in codes.hold_out_pairs(WORLD, seed=0)}
    assert len(held) == 6 and len({c for c, _ in held}) == len({s for _, s in held})
    train_pairs = {(c, s) for sc in split["train"] for c, s, _ in sc if c >= 0}
    assert not train_pairs & held and len(train_pairs) == 30
    assert {(c, s) for c, s, _ in split["alone"][:, 0]} == held
    assert all((c, s) in held for c, s, _ in split["with_other"][:, 0])
    assert all((c, s) not in held for c, s, _ in split["with_other"][:, 1])


def test_readers_overfit_and_repeat():
    s = scenes.all_scenes(2, world=scenes.World(n_colors=3, n_shapes=3))
    config = codes.ReaderConfig(train=TrainConfig(steps=300, lr=1e-2, eval_every=0))
    world = scenes.World(n_colors=3, n_shapes=3)
    _, h1 = codes.fit_reader("slots", s, seed=0, world=world, config=config)
    _, h2 = codes.fit_reader("slots", s, seed=0, world=world, config=config)
    assert h1.last("acc_train") == 1.0
    assert h1.series("loss")[1].tolist() == h2.series("loss")[1].tolist()
    _, h3 = codes.fit_reader("conjunctive", s, seed=0, world=world, config=config)
    assert h3.last("acc_train") == 1.0


def test_foreach_adamw_trains_bitwise_as_the_default():
    from compgen.core.training import batches_from_tensors, train

    x, q, y = codes._query_tensors(scenes.all_scenes(2, world=SMALL), "bag", SMALL)
    config = TrainConfig(steps=20, lr=3e-3, warmup_steps=5)
    weights = []
    for foreach in (False, True):
        torch.manual_seed(0)
        model = codes.make_reader("bag", SMALL, width=16)
        train(
            model,
            batches_from_tensors(x, q, y, batch_size=8, seed=0),
            loss_fn=lambda m, b: torch.nn.functional.cross_entropy(m(b[0], b[1]), b[2]),
            config=config,
            optimizer=codes.adamw(model, config) if foreach else None,
            device="cpu",
        )
        weights.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))


def test_reader_grid_members_train_as_they_would_alone():
    world = scenes.World(n_colors=3, n_shapes=3)
    s = scenes.all_scenes(2, world=world)
    config = codes.ReaderConfig(
        width=16, train=TrainConfig(steps=40, lr=1e-2, eval_every=20)
    )
    grid, history = codes.fit_reader_grid(
        "bag", s, (4, 16), seed=0, world=world, config=config
    )
    alone, _ = codes.fit_reader("bag", s, seed=0, world=world, config=config)
    for a, b in zip(grid[1].parameters(), alone.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    _, again = codes.fit_reader_grid(
        "bag", s, (4, 16), seed=0, world=world, config=config
    )
    assert history.series("loss")[1].tolist() == again.series("loss")[1].tolist()
    acc = codes.grid_accuracy(history, (4, 16), step=20)
    assert set(acc) == {4, 16} and set(acc[16]) == {"train"}
    assert codes.grid_accuracy(history, (4, 16))[16]["train"] == pytest.approx(
        codes.accuracy(grid[1], "bag", s, world=world)
    )
    with pytest.raises(ValueError, match="step 7"):
        codes.grid_accuracy(history, (4, 16), step=7)
    with pytest.raises(ValueError, match="widths"):
        codes.fit_reader_grid("bag", s, (), seed=0, world=world, config=config)


def test_no_bag_reader_of_any_width_passes_the_counted_ceiling():
    s = scenes.all_scenes(2, world=SMALL)
    look = codes.ambiguous(s, "bag", world=SMALL)
    config = codes.ReaderConfig(train=TrainConfig(steps=150, lr=1e-2, eval_every=0))
    grid, _ = codes.fit_reader_grid(
        "bag", s, (8, 32), seed=0, world=SMALL, config=config
    )
    ceiling = codes.best_accuracy(s[look], "bag", world=SMALL)
    assert ceiling == 0.5
    for reader in grid:
        assert codes.accuracy(reader, "bag", s[look], world=SMALL) <= ceiling
        assert codes.accuracy(reader, "bag", s[~look], world=SMALL) == 1.0


# ---------------------------------------------------------------- pixels


def ari_by_hand(true: list[int], pred: list[int]) -> float:
    """Hubert & Arabie's adjusted Rand index from pair counts, pixel by pixel."""
    n = len(true)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    same_t = [true[i] == true[j] for i, j in pairs]
    same_p = [pred[i] == pred[j] for i, j in pairs]
    both = sum(a and b for a, b in zip(same_t, same_p, strict=True))
    a, b, total = sum(same_t), sum(same_p), len(pairs)
    expected = a * b / total
    return (both - expected) / ((a + b) / 2 - expected)


def test_ari_matches_a_pair_count_and_ignores_the_background():
    true = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 2, 2]])
    pred = torch.tensor([[5, 3, 0, 0, 1, 1, 2, 2, 2]])  # background labels ignored
    expected = ari_by_hand([1, 1, 1, 2, 2, 2, 2], [0, 0, 1, 1, 2, 2, 2])
    assert pixels.adjusted_rand_index(true, pred).item() == pytest.approx(expected)
    renamed = torch.tensor([[0, 0, 4, 4, 4, 3, 3, 3, 3]])
    assert pixels.adjusted_rand_index(true, renamed).item() == pytest.approx(1.0)
    one = torch.tensor([[0, 1, 1, 1]])
    assert pixels.adjusted_rand_index(one, torch.tensor([[2, 0, 0, 0]])).item() == 1.0


def test_pixel_models_give_logits_per_query_and_masks_that_sum_to_one():
    batch = pixels.scene_batch(4, seed=0, n_objects=3)
    assert batch["images"].shape == (4, 3, 18, 18) and batch["n_slots"] == 4
    for kind in pixels.MODELS:
        model = pixels.make_model(kind)
        logits = model(batch["images"], batch["queries"], batch["n_slots"])
        assert logits.shape == (4, 3, 6)
    assert model.masks.shape == (4, 4, 324)
    assert torch.allclose(model.masks.sum(1), torch.ones(4, 324))
    with pytest.raises(ValueError, match="kind must be one of"):
        pixels.make_model("transformer")


def test_slot_model_overfits_a_few_scenes_and_repeats():
    config = pixels.PixelConfig(
        counts=(2,), batch_size=8, train=TrainConfig(steps=150, lr=3e-3)
    )
    fixed = pixels.scene_batch(8, seed=1, n_objects=2)
    m1, h1 = pixels.fit("baseline", seed=0, config=config, batches=lambda step: fixed)
    _, h2 = pixels.fit("baseline", seed=0, config=config, batches=lambda step: fixed)
    assert h1.series("loss")[1].tolist() == h2.series("loss")[1].tolist()
    assert h1.last("loss") < 0.05
    config = replace(config, train=TrainConfig(steps=300, lr=3e-3))
    m2, h3 = pixels.fit("slots", seed=0, config=config, batches=lambda step: fixed)
    loss = h3.series("loss")[1]
    assert loss[-1] < loss[0] / 4  # the repainting loss falls, and answers come
    m2.eval()
    with torch.no_grad():
        logits = m2(fixed["images"], fixed["queries"], fixed["n_slots"])
    assert (logits.argmax(-1) == fixed["answers"]).float().mean() >= 0.75


def test_baseline_grid_member_is_the_chapter_baseline():
    config = pixels.PixelConfig(
        counts=(1, 2), batch_size=4, train=TrainConfig(steps=3, lr=1e-3)
    )
    members, history = pixels.fit_baselines((4, 32), seed=0, config=config)
    alone, _ = pixels.fit("baseline", seed=0, config=config)
    assert [m.fc.out_features for m in members] == [16, 128]
    for a, b in zip(members[1].parameters(), alone.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    _, again = pixels.fit_baselines((4, 32), seed=0, config=config)
    assert history.series("loss")[1].tolist() == again.series("loss")[1].tolist()
    batch = pixels.scene_batch(5, seed=0, n_objects=3)
    logits = pixels.BaselineGrid(members)(batch["images"], batch["queries"])
    assert logits.shape == (2, 5, 3, WORLD.n_colors)
    for bad in ((), (0, 8), (4.0,)):
        with pytest.raises(ValueError, match="widths"):
            pixels.fit_baselines(bad, seed=0, config=config)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"counts": ()}, "counts"),
        ({"counts": (0, 2)}, "counts"),
        ({"width": 0}, "width"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_pixel_config_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pixels.PixelConfig(**kwargs)
    with pytest.raises(ValueError, match="batch_size"):
        codes.ReaderConfig(batch_size=0)


def test_evaluate_reports_accuracy_and_ari_per_count():
    model = pixels.make_model("slots")
    result = pixels.evaluate(model, [1, 4], seed=0, n=10)
    assert set(result) == {1, 4} and set(result[4]) == {"acc", "ari"}
    assert 0 <= result[4]["acc"] <= 1 and -1 <= result[4]["ari"] <= 1


# ---------------------------------------------------------------- trained ahead

TINY = pixels.PixelConfig(
    width=4, batch_size=4, train=TrainConfig(steps=20, lr=1e-3, warmup_steps=5)
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny committed run, trained as `python -m compgen.binding pixels` does,
    with the models and random state the live run ends with."""
    runs = tmp_path_factory.mktemp("runs")
    with torch_threads(1):
        record = ahead.train_pixels(TINY, (2, 3), seed=5, runs=runs)
        cnns, _ = pixels.fit_baselines((2, 3), seed=5, config=TINY)
        slots, _ = pixels.fit("slots", seed=5, config=TINY)
    return runs, record, cnns, slots, torch.get_rng_state()


def test_tiny_run_is_recorded_and_loads_as_trained(tiny_run):
    runs, record, cnns, slots, rng = tiny_run
    assert record["seed"] == 5 and record["widths"] == [2, 3]
    assert ahead.config_from_dict(record["config"]) == TINY
    assert [s for s, _ in record["loss"]["slots"]] == [10, 20]
    assert record["command"] == ahead.COMMAND
    loaded, slot_model, trained_ahead = ahead.pixel_models(
        TINY, (2, 3), seed=5, runs=runs
    )
    assert trained_ahead
    assert torch.equal(torch.get_rng_state(), rng)  # where the live run leaves it
    pairs = [(a, b, True) for a, b in zip(cnns, loaded, strict=True)]
    for live, saved, half in [*pairs, (slots, slot_model, False)]:
        for (name, a), b in zip(
            live.state_dict().items(), saved.state_dict().values(), strict=True
        ):
            assert b.dtype == torch.float32, name
            assert torch.equal(a.half().float() if half else a, b), name
    scores = pixels.evaluate(slot_model, (2,), seed=1, n=8)
    assert 0 <= scores[2]["acc"] <= 1 and -1 <= scores[2]["ari"] <= 1


def test_other_settings_train_live_and_do_not_load(tiny_run):
    runs = tiny_run[0]
    other = replace(TINY, train=replace(TINY.train, steps=3, warmup_steps=3))
    for config, widths, seed in (
        (other, (2, 3), 5),  # another config
        (TINY, (2,), 5),  # other widths
        (TINY, (2, 3), 6),  # another seed: no record at all
    ):
        assert ahead.matching_record(config, widths, seed=seed, runs=runs) is None
        with pytest.raises(ValueError, match="no committed pixel run"):
            ahead.load_pixels(config, widths, seed=seed, runs=runs)
    with torch_threads(1):
        cnns, _, trained_ahead = ahead.pixel_models(other, (2,), seed=5, runs=runs)
    assert not trained_ahead and len(cnns) == 1


@pytest.mark.parametrize("kind", ahead.KINDS)
def test_retrace_repeats_the_recorded_loss(tiny_run, kind):
    runs = tiny_run[0]
    with torch_threads(1):
        result = ahead.retrace(kind, stop_at=15, seed=5, runs=runs)
    assert result["n_compared"] == 1 and result["diff"] == 0.0  # step 10 only
    assert [s for s, _ in result["live"]] == [10, 15]  # 15: a mean of 5 steps
    assert [s for s, _ in result["record"]] == [10]


def test_retrace_and_config_reject_bad_input(tiny_run, tmp_path):
    runs = tiny_run[0]
    with pytest.raises(ValueError, match="kind must be one of"):
        ahead.retrace("cnn", seed=5, runs=runs)
    for bad in (0, 21, 2.5, True):
        with pytest.raises(ValueError, match="stop_at"):
            ahead.retrace("slots", stop_at=bad, seed=5, runs=runs)
    with pytest.raises(ValueError, match="no committed pixel record"):
        ahead.retrace("slots", seed=5, runs=tmp_path)
    for bad in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="steps"):
            ahead.book_config(bad)
    for bad in ((), (0, 8), (4.0,), (True,)):
        with pytest.raises(ValueError, match="widths"):
            ahead.matching_record(TINY, bad, seed=5, runs=runs)


def test_the_committed_run_is_the_book_run_and_retraces():
    record = ahead.read_record(0)
    config = ahead.book_config(3000, (1, 2))
    assert record is not None, f"train it with `{ahead.COMMAND}`"
    assert ahead.matching_record(config, ahead.CNN_WIDTHS, seed=0) == record
    size = ahead.weights_path(0).stat().st_size + ahead.record_path(0).stat().st_size
    assert size < 1.5e6  # committed small: CNNs in float16, the slot model in 32
    with torch_threads(1):
        cnns, slot_model = ahead.load_pixels(config, ahead.CNN_WIDTHS, seed=0)
        seen = {
            kind: pixels.evaluate(model, (2,), seed=1, n=40)[2]["acc"]
            for kind, model in (("cnn", cnns[-1]), ("slots", slot_model))
        }
        result = ahead.retrace("slots", stop_at=10)
    assert min(seen.values()) >= 0.8  # both fit their training counts
    assert result["n_compared"] == 1 and result["diff"] <= 0.01


# ---------------------------------------------------------------- widget


def test_composer_data_lists_the_swapped_scene_as_the_only_look_alike():
    readers = {code: codes.make_reader(code) for code in codes.CODES}
    table = widget.composer_data(readers)
    assert len(table) == 540
    row = table["0-0-2-1"]  # red square + blue circle
    assert row["alike"] == {"bag": ["2-0-0-1"], "conjunctive": [], "slots": []}
    assert row["codes"]["bag"] == ["101000110000"]
    assert all(len(a) == 2 for a in row["answers"].values())
    html = widget.scene_composer(readers).data
    assert "DATA" not in html and "UID" not in html and "<script>" in html


def test_source_text_names_the_command_only_when_trained_ahead():
    from compgen.binding import ahead

    assert ahead.COMMAND in ahead.source_text(True)
    assert "just now" in ahead.source_text(False)
    assert ahead.COMMAND not in ahead.source_text(False)
