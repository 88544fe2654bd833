"""SCAN: the grammar against hand interpretations, the splits' sizes, the
episodes' honesty, the models' shapes, determinism and a tiny overfit."""

from __future__ import annotations

import os

import pytest
import torch

from compgen import scan
from compgen.core import compare_losses
from compgen.scan import episodes as E
from compgen.scan import grammar as G
from compgen.scan.model import EOS, ModelConfig, Seq2Seq

os.environ.setdefault("COMPGEN_PROGRESS", "0")
torch.set_num_threads(1)

L, R = "I_TURN_LEFT", "I_TURN_RIGHT"
W, K, U, J = "I_WALK", "I_LOOK", "I_RUN", "I_JUMP"
BY_HAND = {
    "walk": [W],
    "turn left": [L],
    "turn right twice": [R, R],
    "jump left": [L, J],
    "look opposite right": [R, R, K],
    "turn opposite left": [L, L],
    "run around right": [R, U] * 4,
    "turn around left": [L] * 4,
    "walk thrice": [W] * 3,
    "jump around left twice": [L, J] * 8,
    "walk and look": [W, K],
    "walk after look": [K, W],
    "run twice after jump opposite left": [L, L, J, U, U],
    "jump opposite left after walk around left": [L, W] * 4 + [L, L, J],
    "turn left thrice and run right": [L, L, L, R, U],
    "look around right thrice and turn opposite right twice": [R, K] * 12 + [R] * 4,
}


def test_count_and_distinct():
    pairs = scan.commands()
    assert len(pairs) == 20910
    assert len({c for c, _ in pairs}) == 20910
    lengths = [len(a.split()) for _, a in pairs]
    assert min(lengths) == 1 and max(lengths) == 48


@pytest.mark.parametrize("command", sorted(BY_HAND))
def test_interpretation_by_hand(command):
    assert G.interpret(command) == " ".join(BY_HAND[command])
    assert (command, " ".join(BY_HAND[command])) in set(scan.commands())


def test_interpret_with_another_lexicon_and_bad_input():
    assert G.interpret("dax twice", {"dax": J}) == f"{J} {J}"
    for bad in ("", "jump jump", "turn", "walk twice twice", "fly left", "walk up"):
        with pytest.raises(ValueError):
            G.interpret(bad)


SIZES = {
    "simple": (16728, 4182),
    "length": (16990, 3920),
    "addprim_jump": (14670, 7706),
    "addprim_turn_left": (21890, 1208),
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_split_sizes_and_disjoint(name):
    train, test = scan.split(name)
    assert (len(train), len(test)) == SIZES[name]
    assert not {c for c, _ in train} & {c for c, _ in test}
    assert {c for c, _ in train} | {c for c, _ in test} == {
        c for c, _ in scan.commands()
    }


def test_split_details():
    train, test = scan.split("addprim_jump")
    assert sum(c == "jump" for c, _ in train) == 1467
    assert all("jump" not in c.split() for c, _ in train if c != "jump")
    assert all("jump" in c.split() for c, _ in test)
    train, _ = scan.split("addprim_turn_left")
    assert sum(c == "turn left" for c, _ in train) == 2189
    assert len({c for c, _ in train}) == 19702
    train, test = scan.split("length")
    assert max(len(a.split()) for _, a in train) == 22
    assert min(len(a.split()) for _, a in test) == 24
    a, b = scan.split("simple", seed=0), scan.split("simple", seed=1)
    assert a == scan.split("simple", seed=0) and a[1] != b[1]
    with pytest.raises(ValueError, match="split must be one of"):
        scan.split("addprim_fly")


def _episode_pairs(sampler, steps):
    for step in range(steps):
        src, tin, tout = sampler(step)
        for s, o in zip(src.tolist(), tout.tolist(), strict=True):
            cmd = " ".join(E.split_source(torch.tensor(s))[0])
            if o[0] == 0:  # masked out of the loss
                yield cmd, None, s
                continue
            acts = " ".join(scan.model.TARGETS[t] for t in o[: o.index(EOS)])
            yield cmd, acts, s


def test_episodes_never_pair_a_test_command_with_its_actions():
    train, test = scan.split("addprim_jump")
    test_pairs = set(test)
    sampler = E.EpisodeSampler(train, test, held_out=("jump",), batch_size=64, seed=0)
    seen_jump_study = 0
    for cmd, acts, s in _episode_pairs(sampler, 200):
        assert (cmd, acts) not in test_pairs
        assert cmd == "jump" or "jump" not in cmd.split()
        meaning = E.split_source(torch.tensor(s))[1]
        seen_jump_study += "jump" in meaning
        # the query's actions follow the grammar under the study meanings
        assert acts is None or acts == G.interpret(cmd, meaning)
        assert sorted(meaning.values()) == sorted(G.ACTIONS[:4])
    assert seen_jump_study > 0  # jump is a study word in some episodes


def test_simple_split_episodes_mask_test_pairs():
    train, test = scan.split("simple")
    sampler = E.EpisodeSampler(train, test, batch_size=256, seed=1, nonce=0)
    rows = list(_episode_pairs(sampler, 40))
    assert all((c, a) not in set(test) for c, a, _ in rows if a is not None)
    assert any(a is None for _, a, _ in rows)  # some did reproduce one: masked


def test_encoding_round_trip():
    pairs = scan.commands()[:50]
    tin, tout = E.encode_targets([a for _, a in pairs])
    assert E.decode_targets(tout) == [a for _, a in pairs]
    assert (tin[:, 0] == scan.model.BOS).all()
    src = E.encode_with_study(["jump twice"])
    assert src.shape == (1, 9 + 8)


def test_model_shapes_and_determinism():
    cfg = ModelConfig(src_vocab=len(E.VOCAB), d_model=32, d_ff=64)
    torch.manual_seed(0)
    a = Seq2Seq(cfg)
    torch.manual_seed(0)
    b = Seq2Seq(cfg)
    src = E.encode_source(["walk twice", "jump"])
    tin, tout = E.encode_targets(["I_WALK I_WALK", "I_JUMP"])
    logits, loss = a(src, tin, tout)
    assert logits.shape == (2, 49, len(scan.model.TARGETS))
    assert torch.equal(loss, b(src, tin, tout)[1])
    out = a.greedy(src, max_len=7)
    assert out.shape == (2, 7)


def test_greedy_matches_full_recompute():
    torch.manual_seed(3)
    m = Seq2Seq(ModelConfig(src_vocab=len(E.VOCAB), d_model=32, d_ff=64)).eval()
    src = E.encode_with_study(["walk twice", "jump around left", "look"])
    m = Seq2Seq(
        ModelConfig(src_vocab=len(E.VOCAB), d_model=32, d_ff=64, study=4)
    ).eval()
    out = m.greedy(src, max_len=6)
    # decode again one step at a time without the cache
    seq = torch.full((3, 1), scan.model.BOS)
    for _ in range(6):
        logits, _ = m(src, seq)
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], 1)
    for row, ref in zip(out.tolist(), seq[:, 1:].tolist(), strict=True):
        n = row.index(EOS) + 1 if EOS in row else len(row)
        assert row[:n] == ref[:n]


def test_tiny_overfit():
    pairs = [
        ("walk twice", "I_WALK I_WALK"),
        ("look left", "I_TURN_LEFT I_LOOK"),
        ("run after jump", "I_JUMP I_RUN"),
        ("turn right", "I_TURN_RIGHT"),
    ]
    torch.manual_seed(0)
    m = Seq2Seq(ModelConfig(src_vocab=len(E.VOCAB), d_model=32, d_ff=64))
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    src = E.encode_source([c for c, _ in pairs])
    tin, tout = E.encode_targets([a for _, a in pairs])
    for _ in range(150):
        loss = m(src, tin, tout)[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert E.decode_targets(m.greedy(src)) == [a for _, a in pairs]


def test_bad_inputs_say_what_is_wrong():
    train, test = scan.split("addprim_jump")
    with pytest.raises(ValueError, match="nonce must be in"):
        E.EpisodeSampler(train, test, nonce=99)
    m = Seq2Seq(ModelConfig(src_vocab=len(E.VOCAB), d_model=32, d_ff=64))
    with pytest.raises(ValueError, match="no pairs"):
        scan.accuracy(m, [])
    with pytest.raises(FileNotFoundError, match="python -m compgen.scan train"):
        scan.load_reference("baseline", "simple", seed=99)


def test_committed_reference_models_load_and_answer():
    model, saved = scan.load_reference("meta", "addprim_jump", 0)
    assert saved["model"]["study"] == 4 and len(saved["history"]) > 0
    got = scan.predict(model, ["jump", "walk twice"], meta=True)
    assert got == ["I_JUMP", "I_WALK I_WALK"]
    record = scan.read_record()
    assert 0 <= record["meta/addprim_jump/0"]["test_accuracy"] <= 1


def test_width_grid_configs_and_bad_widths():
    from compgen.scan import scaling as S
    from compgen.scan import training as T

    assert T.width_config(64) == T.RunConfig(steps=2000, decay=True)  # the reference
    cfg = T.width_config(16)
    assert (cfg.model.d_model, cfg.model.d_ff, cfg.model.n_heads) == (16, 32, 4)
    assert T.width_kind(64) == "baseline" and T.width_kind(16) == "baseline_w16"
    n = [
        sum(p.numel() for p in T.make_model(T.width_config(w), 0).parameters())
        for w in T.WIDTHS
    ]
    assert n == sorted(n) and n[-1] / n[0] >= 10  # the grid spans 10x the weights
    for bad in (0, 18, 6.0, -4):
        with pytest.raises(ValueError, match="width must be"):
            T.width_config(bad)
    with pytest.raises(ValueError, match="width must be one of"):
        S.retrace(40)
    with pytest.raises(ValueError, match="stop_at must be"):
        S.retrace(16, stop_at=0)
    with pytest.raises(ValueError, match="stop_at must be"):
        T.train_baseline("addprim_jump", T.RunConfig(steps=5, stop_at=9))


def test_stop_at_retraces_the_start_of_a_full_run():
    """A run stopped early follows the full run's schedule, step for step."""
    from compgen.scan import training as T

    cfg = T.replace(
        T.width_config(
            8, T.RunConfig(steps=8, batch_size=16, warmup_steps=2, decay=True)
        )
    )
    full, _ = T.train_baseline("addprim_jump", cfg, seed=3)
    part, _ = T.train_baseline("addprim_jump", T.replace(cfg, stop_at=4), seed=3)
    again, _ = T.train_baseline("addprim_jump", T.replace(cfg, stop_at=4), seed=3)
    for a, b in zip(part.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)  # deterministic
    short, _ = T.train_baseline("addprim_jump", T.replace(cfg, steps=4), seed=3)
    assert any(  # a 4-step run decays faster than the first 4 steps of 8
        not torch.equal(a, b)
        for a, b in zip(part.parameters(), short.parameters(), strict=True)
    )
    assert any(
        not torch.equal(a, b)
        for a, b in zip(part.parameters(), full.parameters(), strict=True)
    )


def test_width_stats_and_scaling_values_by_hand():
    from compgen.scan import scaling as S

    def run(kind, seed, acc, n, train=None):
        r = {"seed": seed, "test_accuracy": acc, "n_weights": n}
        return {
            f"{kind}/addprim_jump/{seed}": r
            | ({} if train is None else {"train_accuracy": train})
        }

    record = {}
    for s, a in enumerate((0.0, 0.01, 0.02)):
        record |= run("baseline_w16", s, a, 100, train=0.7)
        record |= run("baseline", s, a / 2, 1000)
    record |= run("baseline_w32", 0, 0.05, 300, train=0.99)
    stats = S.width_stats(record, widths=(16, 32, 64, 96))
    assert sorted(stats) == [16, 32, 64]  # 96 has no run
    assert stats[16]["acc"] == [0.0, 0.01, 0.02] and stats[16]["max"] == 0.02
    assert stats[64]["mean"] == pytest.approx(0.005) and stats[64]["train"] == []
    scored = {64: {"test": 0.0, "train": 1.0, "n_weights": 1000}}
    live = {"steps": 300, "diff": 0.001, "n_compared": 6, "live": [(300, 0.5)]}
    v = S.scaling_values(stats, scored, live, {"acc": 0.99, "n_weights": 900})
    assert v["scale_weight_ratio"] == 10 and v["scale_n_widths"] == 3
    assert v["scale_addjump_small"] == pytest.approx(0.01)
    assert v["scale_addjump_large"] == pytest.approx(0.005)
    assert v["scale_addjump_max"] == 0.05 and v["scale_train_min"] == 0.7
    assert v["scale_live_diff"] == 0.001 and v["scale_live_loss"] == 0.5


def test_committed_width_grid_in_the_record():
    from compgen.scan import scaling as S

    stats = S.width_stats()
    assert set(S.COMMITTED) <= set(stats)
    for w in S.COMMITTED:
        model, saved = scan.load_reference(scan.training.width_kind(w), "addprim_jump")
        assert model.cfg.d_model == w and saved["run"]["steps"] == 2000
        assert sum(p.numel() for p in model.parameters()) == stats[w]["n_weights"]


def _greedy_right(model, pairs, meta=False, lexicon=G.MEANING):
    got = scan.predict(model, [c for c, _ in pairs], meta=meta, lexicon=lexicon)
    return [g == a for g, (_, a) in zip(got, pairs, strict=True)]


def test_exact_match_is_greedy_decoding_right_or_wrong():
    """One teacher-forced pass says exactly what greedy decoding gets right."""
    from compgen.scan import experiment as X
    from compgen.scan.training import exact_match

    train, test = scan.split("addprim_jump")
    pairs = X._subset(test, 40) + X._subset(train, 40)
    base, _ = scan.load_reference("baseline", "addprim_jump", 0)
    right = exact_match(base, pairs)
    assert right == _greedy_right(base, pairs) and 0 < sum(right) < len(pairs)
    meta, _ = scan.load_reference("meta", "addprim_jump", 0)
    lex = dict(G.MEANING, jump="I_LOOK", look="I_JUMP")  # the exercise's swap
    swapped = [(c, G.interpret(c, lex)) for c, _ in pairs]
    assert exact_match(meta, swapped, meta=True, lexicon=lex) == _greedy_right(
        meta, swapped, meta=True, lexicon=lex
    )
    # an untrained network: its own greedy answers are right by definition,
    # one action more or less is wrong
    torch.manual_seed(1)
    m = Seq2Seq(ModelConfig(src_vocab=len(E.VOCAB), d_model=32, d_ff=64))
    cmds = [c for c, _ in pairs[:30]]
    own = [(c, a) for c, a in zip(cmds, scan.predict(m, cmds), strict=True)]
    own = [(c, a) for c, a in own if len(a.split()) <= E.MAX_ACT]
    assert own and all(exact_match(m, own))
    longer = [(c, (a + " I_WALK").strip()) for c, a in own]
    shorter = [(c, " ".join(a.split()[:-1])) for c, a in own if a]
    assert not any(exact_match(m, longer)) and not any(exact_match(m, shorter))
    assert exact_match(m, longer) == _greedy_right(m, longer)
    with pytest.raises(ValueError, match="exceed the decoder"):
        exact_match(m, [("walk", " ".join(["I_WALK"] * 49))])


def test_committed_live_metalearner_scores_and_retraces():
    from compgen.scan import experiment as X

    exp = X.Experiment()
    model, saved = X.committed_live(exp, 0)
    entry = scan.read_record()["meta_live/addprim_jump/0"]
    assert entry["steps"] == exp.live_steps and entry["live_eval"] == exp.live_eval
    test = X.live_test(exp)
    assert scan.accuracy(model, test, meta=True) == entry["test_accuracy"]
    curve = [r["test_acc"] for r in saved["history"] if "test_acc" in r]
    assert len(curve) == 9
    # at other settings or seeds nothing committed matches: the page trains
    assert X.committed_live(X.Experiment(live_steps=3), 0) is None
    assert X.committed_live(X.Experiment(live_eval=20), 0) is None
    assert X.committed_live(exp, 1) is None
    _, prefix = X.train_live(exp, seed=0, stop_at=50)  # its first logged loss
    check = compare_losses(prefix, saved["history"])
    assert check["n_compared"] == 1 and check["diff"] <= 0.01
    with pytest.raises(ValueError, match="stop_at must be"):
        X.train_live(X.Experiment(live_steps=3), stop_at=9)


def test_live_text_says_where_the_live_run_came_from():
    from compgen.scan.experiment import live_text

    values = {"live_committed": True, "live_train_cpu_seconds": 58.8,
              "live_retrace_steps": 100, "live_retrace_compared": 2,
              "live_retrace_diff": 0.0}  # fmt: skip
    source, check = live_text(values)
    assert "trained ahead" in source and "59 seconds" in source
    assert "first 100 steps" in check and "2 steps" in check
    source, check = live_text({**values, "live_committed": False})
    assert "just now" in source and "retrained" not in check
