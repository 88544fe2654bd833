"""The Zipfian language, shift ciphers, the training mixture, scoring, the model."""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch

from compgen import embers
from compgen.core.transformer import Transformer

os.environ.setdefault("COMPGEN_PROGRESS", "0")
LANG = embers.Language()


def test_shift_cipher_by_hand():
    assert embers.shift("hello world", 13) == "uryyb jbeyq"
    assert embers.shift("abc xyz", 3) == "def abc"
    assert embers.shift("abc", 1) == "bcd"
    assert embers.shift("uryyb", -13) == "hello"
    for k in range(26):  # decoding rot-k is rot-(26 - k); 13 is its own inverse
        assert embers.shift(embers.shift("the quick fox", k), 26 - k) == "the quick fox"
    assert embers.shift(embers.shift("abc", 13), 13) == "abc"
    # every shift is a permutation of the letters: the same difficulty
    for k in (12, 13):
        assert sorted(embers.shift(embers.LETTERS, k)) == list(embers.LETTERS)


def test_prompts_rows_and_tensors():
    assert embers.prompt("uryyb", 13) == "13uryyb>"
    assert embers.prompt("cde", 2, width=6) == "02cde___>"
    p, a = embers.decode_row("hi yo", 3, width=8)
    assert p == "03kl br___>" and a == "hi yo."
    assert embers.plain_row("hi") == (">", "hi.")
    x, y = embers.to_tensors([(p, a), embers.plain_row("hi")])
    assert x.shape == y.shape == (2, len(p) + len(a) - 1)
    assert embers.decode(x[0]) == (p + a)[:-1]
    # targets: the answer only, each the character after x's position
    assert embers.decode(y[0][y[0] != -100]) == a
    assert (y[0][: len(p) - 1] == -100).all()
    assert embers.decode(y[1][y[1] != -100]) == "hi."
    assert embers.decode(embers.encode("ab >.")) == "ab >."


def test_language_probabilities_are_exact():
    lang = embers.Language(n_words=20, noise=0.1)
    assert len(set(lang.words)) == 20 and math.isclose(lang.probs.sum(), 1.0)
    assert [len(w) for w in lang.words[:5]] == list(lang.word_lengths)
    # the word distribution sums to 1 over vocabulary + every random string
    total_noise = lang.noise  # all random strings of all allowed lengths
    vocab = sum(math.exp(lang.word_logprob(w)) for w in lang.words)
    in_vocab_noise = sum(
        lang.noise / len(lang.word_lengths) * 26.0 ** -len(w) for w in lang.words
    )
    assert math.isclose(vocab - in_vocab_noise + total_noise, 1.0, rel_tol=1e-9)
    # a sentence by hand
    w0, w3 = lang.words[0], lang.words[3]
    s = f"{w0} {w3} {w0}"
    by_hand = math.log(1 / 3) + 2 * lang.word_logprob(w0) + lang.word_logprob(w3)
    assert math.isclose(lang.logprob(s), by_hand)
    assert lang.word_logprob(w0) > lang.word_logprob(w3)  # Zipf: rank 0 first
    assert lang.logprob(f"{w0} {w3}") == -math.inf  # two words: never produced
    assert lang.logprob(f"{w0}  {w3} {w0}") == -math.inf  # double space
    assert lang.word_logprob("ab1") == -math.inf
    assert math.isfinite(lang.logprob("zq zq zq"))  # random strings can occur


def test_sampled_sentences_follow_the_language():
    sents = embers.sample_sentences(LANG, 3000, seed=1)
    assert sents == embers.sample_sentences(LANG, 3000, seed=1)
    assert sents != embers.sample_sentences(LANG, 3000, seed=2)
    assert all(math.isfinite(LANG.logprob(s)) for s in sents)
    counts = Counter(len(s.split(" ")) for s in sents)
    assert set(counts) == set(LANG.sentence_words)
    words = Counter(w for s in sents for w in s.split(" "))
    n = sum(words.values())
    top = LANG.words[0]
    expected = (1 - LANG.noise) * LANG.probs[0]
    assert abs(words[top] / n - expected) < 4 * math.sqrt(expected / n)
    noise = sum(c for w, c in words.items() if w not in LANG.rank) / n
    assert abs(noise - LANG.noise) < 0.01


def test_matched_sets_share_word_lengths_and_differ_in_probability():
    sets = embers.matched_sets(LANG, 40, seed=0)
    assert list(sets) == list(embers.PLAINTEXT_SETS)
    for a, b, c in zip(*sets.values(), strict=True):
        lengths = [len(w) for w in a.split(" ")]
        assert lengths == [len(w) for w in b.split(" ")]
        assert lengths == [len(w) for w in c.split(" ")]
        assert LANG.logprob(a) > LANG.logprob(b) > LANG.logprob(c)
    assert all(w in LANG.rank for s in sets["rare"] for w in s.split(" "))
    assert not any(w in LANG.rank for s in sets["non-words"] for w in s.split(" "))
    assert sets == embers.matched_sets(LANG, 40, seed=0)


def test_mixture_frequencies_and_held_out_sentences():
    mix = embers.Mixture()
    p = mix.shift_probs()
    assert p[0] == 0 and math.isclose(p.sum(), 1.0)
    assert p[13] > p[3] >= p[1] > p[12] > p[2]  # 13, 3, 1 common; 12 rare
    exclude = set(embers.sample_sentences(LANG, 2000, seed=5))
    rows, ks = embers.make_mixture(LANG, 20_000, seed=5, exclude=exclude, width=34)
    assert len(rows) == len(ks) == 20_000
    assert abs((ks == 0).mean() - mix.plain) < 0.02
    decoding = ks[ks > 0]
    for k in (13, 3, 1, 12):
        share = (decoding == k).mean()
        assert abs(share - p[k]) < 4 * math.sqrt(p[k] / len(decoding)) + 1e-3
    for (pr, ans), k in zip(rows[:500], ks[:500], strict=True):
        sentence = ans[:-1]
        assert sentence not in exclude
        if k:
            assert pr == embers.prompt(embers.shift(sentence, int(k)), int(k), width=34)
        else:
            assert pr == ">"
    a = embers.make_mixture(LANG, 300, seed=7, exclude=exclude, width=34)
    b = embers.make_mixture(LANG, 300, seed=7, exclude=exclude, width=34)
    assert a[0] == b[0] and (a[1] == b[1]).all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: embers.shift("abc", 1.5), "int"),
        (lambda: embers.prompt("abc", 26), "0..25"),
        (lambda: embers.prompt("abcdef", 1, width=3), "width"),
        (lambda: embers.encode("ABC"), "alphabet"),
        (lambda: embers.Language(noise=1.0), "noise"),
        (lambda: embers.Language(n_words=2), "n_words"),
        (lambda: embers.Language(word_lengths=(1,), n_words=60), "too many"),
        (lambda: embers.Mixture(rest=0.5), "sum to 1"),
        (lambda: embers.Mixture(shifts=((13, 0.5), (13, 0.43))), "distinct"),
        (lambda: LANG.band("medium"), "band"),
        (lambda: LANG.logprob(3), "str"),
        (lambda: embers.matched_sets(LANG, 0, seed=0), "n must be"),
        (lambda: embers.Setup(shifts=(13,)), "frequent, rare"),
    ],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_error_kinds_by_hand():
    w = LANG.words
    truth = [f"{w[250]} {w[1]} {w[2]}", f"{w[0]} {w[1]} {w[2]}", "ab ab ab"]
    outs = [f"{w[0]} {w[1]} {w[2]}", f"{w[0]} {w[1]} zzzzzz", "ab ab ab"]
    e = embers.error_kinds(LANG, truth, outs)
    assert e["n_wrong"] == 2 and e["sentence_more_probable"] == 0.5
    # wrong words: w[250] -> w[0] (more probable, real), w[2] -> zzzzzz (neither)
    assert e["n_wrong_words"] == 2
    assert e["word_more_probable"] == 0.5 and e["word_real"] == 0.5


def test_exact_match_equals_greedy_decoding():
    setup = replace(embers.Setup(), width=20)
    torch.manual_seed(0)
    model = Transformer(setup.model).eval()
    rows = [embers.decode_row(s, 13, width=20) for s in ["ab cd ef", "hi yo ok"]]
    ok = embers.exact_match(model, rows)
    written = embers.greedy(model, [p for p, _ in rows])
    assert list(ok) == [w + "." == a for w, (_, a) in zip(written, rows, strict=True)]
    # a model that copies the truth is scored right: force the logits
    x, y = embers.to_tensors(rows)
    assert x.shape[0] == 2 and (y != -100).sum() == sum(len(a) for _, a in rows)


def test_training_overfits_and_is_deterministic():
    tiny = embers.Setup(
        steps=150, eval_every=75, n_train=32, n_test=4, batch_size=16, width=34
    )
    a = embers.train_model(tiny, seed=0)
    b = embers.train_model(tiny, seed=0)
    la, lb = a["history"].series("loss")[1], b["history"].series("loss")[1]
    assert np.allclose(la, lb) and la[-1] < 0.5 * la[0]
    assert sorted(a["evals"]) == [0, 75, 150]
    acc = a["evals"][150]["acc"]
    assert set(acc) == {(k, s) for k in (13, 12) for s in embers.PLAINTEXT_SETS}
    held_out = {t for s in a["tests"].values() for t in s}
    assert len(held_out) == 12


def test_run_glues_every_claimed_value_and_builds_the_explorers():
    tiny = embers.Setup(steps=20, eval_every=10, n_train=64, n_test=4, batch_size=8)
    result = embers.run(tiny, seed=1)
    values = embers.summary_values(result)
    scale = embers.scaling_inputs(result, retrace_steps=3)
    values |= embers.scaling_summary(result, **scale)
    used = {n for c in embers.CLAIMS for n in c.uses}
    used |= {k for h in embers.HEADLINES for k in h.keys()}
    assert used <= values.keys()
    assert all(math.isfinite(v) for v in values.values() if isinstance(v, float))
    assert sorted(result["by_shift"]) == list(range(1, 26))
    widget = embers.budget_explorer(result)
    assert "compgen-explorer" in widget._dom_classes
    assert len(widget.children[1].children) == 3  # steps 0, 10, 20
    r = embers.decode_sentence(result, "Ab  cd ef", 12)
    assert r["truth"] == "ab cd ef" and r["cipher"] == embers.shift("ab cd ef", 12)
    assert r["logprob_truth"] == LANG.logprob("ab cd ef")
    with pytest.raises(ValueError, match="letters a-z"):
        embers.decode_sentence(result, "ab 12", 3)
    curve = embers.logprob_curve(result, 13, n_bins=3)
    assert len(curve["acc"]) == 3 and np.all(np.diff(curve["logprob"]) > 0)


def test_width_setup_gaps_by_hand_and_bad_input():
    s = embers.width_setup(16)
    assert s.model.n_embd == 16 and s.steps == embers.Setup().steps
    assert embers.width_setup(64) == embers.Setup()  # the chapter's model
    n = [
        sum(p.numel() for p in Transformer(embers.width_setup(w).model).parameters())
        for w in embers.WIDTHS
    ]
    assert n == sorted(n) and n[-1] / n[0] >= 10  # the grid spans 10x the weights
    for bad in (0, 12, 20.0, True):
        with pytest.raises(ValueError, match="width must be"):
            embers.width_setup(bad)
    with pytest.raises(ValueError, match="stop_at must be"):
        embers.retrace(16, stop_at=0)
    with pytest.raises(ValueError, match="no run w40/s0"):
        embers.retrace(40)
    acc = {(13, "common"): 1.0, (13, "rare"): 0.9, (13, "non-words"): 0.5}
    acc |= {(12, "common"): 0.6, (12, "rare"): 0.3, (12, "non-words"): 0.0}
    task, out = embers.gap_pair(acc, embers.Setup())
    assert task == pytest.approx((0.4 + 0.6 + 0.5) / 3)
    assert out == pytest.approx((0.5 + 0.6) / 2)


def test_grid_record_round_trip_and_summary():
    tiny = embers.Setup(steps=20, eval_every=10, n_train=64, n_test=4, batch_size=8)
    a = embers.train_model(embers.width_setup(16, tiny), seed=0)
    b = embers.train_model(embers.width_setup(16, tiny), seed=0)
    assert (
        a["history"].series("loss")[1].tolist()
        == b["history"].series("loss")[1].tolist()
    )  # deterministic
    quiet = embers.train_model(embers.width_setup(16, tiny), seed=0, score=False)
    assert quiet["evals"] == {} and np.allclose(
        quiet["history"].series("loss")[1], a["history"].series("loss")[1]
    )  # scoring changes nothing in training
    entry = embers.scaling.run_entry(a, 1.0)
    assert entry["width"] == 16 and sorted(entry["acc"]) == ["0", "10", "20"]
    assert embers.record_acc(entry) == a["evals"][20]["acc"]
    grid = embers.grid_gaps({"w16/s0": entry}, tiny)
    assert grid[16, 0]["steps"] == [0, 10, 20]
    assert grid[16, 0]["task"][-1] == embers.gap_pair(a["evals"][20]["acc"], tiny)[0]
    live = {"width": 16, "steps": 3, "diff": 0.0, "n_compared": 0}
    result = embers.run(tiny, seed=0)
    v = embers.scaling_summary(result, grid, {16: a["evals"][20]["acc"]}, live)
    assert v["scale_n_widths"] == 2 and v["scale_width_large"] == 64
    assert v["scale_param_ratio"] > 10 and v["scale_build_diff"] == 0.0
    assert v["scale_step_first"] == 10 and v["scale_step_last"] == 20
    assert all(math.isfinite(x) for x in v.values() if isinstance(x, float))


def test_committed_width_grid_loads_and_retraces():
    record = embers.read_record()
    for w in embers.WIDTHS[:-1]:
        model = embers.load_width(w)
        n = sum(p.numel() for p in model.parameters())
        assert n == record[f"w{w}/s0"]["n_params"]
    live = embers.retrace(16, stop_at=50)
    assert live["n_compared"] == 1 and live["diff"] < 1e-3


def test_scaling_figure_averages_runs_only_at_the_steps_they_share():
    from compgen.embers.figures import _mean_at_common_steps

    long_ = {"steps": [0, 250, 500], "task": [0.0, 0.2, 0.4]}
    other = {"steps": [0, 250, 500], "task": [0.0, 0.4, 0.6]}
    short = {"steps": [0, 100], "task": [0.0, 0.1]}  # a smoke run's live points
    steps, mean = _mean_at_common_steps([long_, other], "task")
    assert steps == [0, 250, 500] and np.allclose(mean, [0.0, 0.3, 0.5])
    steps, mean = _mean_at_common_steps([short, long_, other], "task")
    assert steps == [0] and np.allclose(mean, [0.0])
    steps, mean = _mean_at_common_steps([{**short, "steps": [1, 100]}, long_], "task")
    assert steps == [0, 250, 500] and np.allclose(mean, [0.0, 0.2, 0.4])


def test_saved_run_round_trip_rescored_and_retraced(tmp_path, monkeypatch):
    monkeypatch.setattr(embers.saved, "TRAINED", tmp_path)
    tiny = embers.Setup(steps=20, eval_every=10, n_train=64, n_test=4, batch_size=8)
    assert embers.load_main(tiny, 0) is None  # nothing committed yet
    live = embers.run(tiny, seed=0)
    assert "saved" not in live
    embers.save_main(embers.train_model(tiny, seed=0), cpu_seconds=1.0)
    assert embers.load_main(tiny, 1) is None  # another seed: trains live
    assert embers.load_main(replace(tiny, steps=30), 0) is None  # other settings
    loaded = embers.run(tiny, seed=0, retrace_steps=20)
    assert loaded["saved"]["n_differ"] == 0
    assert loaded["saved"]["n_answers"] == 2 * 3 * 4
    assert sorted(loaded["evals"]) == sorted(live["evals"]) == [0, 10, 20]
    for step, ev in live["evals"].items():
        got = loaded["evals"][step]
        assert got["acc"] == ev["acc"] and got["outputs"] == ev["outputs"]
        for key in ev["correct"]:
            assert np.array_equal(got["correct"][key], ev["correct"][key])
        assert str(got["errors"]) == str(ev["errors"])  # nan-safe equality
    pairs = zip(live["model"].parameters(), loaded["model"].parameters(), strict=True)
    for a, b in pairs:
        assert torch.equal(a, b)
    assert loaded["by_shift"] == live["by_shift"]
    retraced = loaded["saved"]["retrace"]
    assert retraced["n_compared"] == 1 and retraced["diff"] < 1e-6  # loss at 20
    v_live, v_loaded = embers.summary_values(live), embers.summary_values(loaded)
    assert v_loaded["saved_used"] == 1 and v_live["saved_used"] == 0
    same = {k for k in v_live if not k.startswith(("saved_", "main_"))}
    assert {k: v_live[k] for k in same} == {k: v_loaded[k] for k in same}
    assert "trained ahead of time" in v_loaded["main_source"]
    assert "just now" in v_live["main_source"]
    claim = next(c for c in embers.CLAIMS if c.name == "committed_run_retraced")
    assert not claim.evaluate(v_loaded)[0]  # one logged step is too few
    assert claim.evaluate({**v_loaded, "main_retrace_compared": 3})[0]
    assert not claim.evaluate(
        {**v_loaded, "main_retrace_compared": 3, "saved_differ": 1}
    )[0]
    assert claim.evaluate(v_live)[0]
    for bad in (0, 21, 2.5, True):
        with pytest.raises(ValueError, match="stop_at must be"):
            embers.retrace_main(loaded, stop_at=bad)


def test_committed_chapter_run_matches_the_chapter_setup():
    saved = embers.read_saved(embers.Setup(), 0)
    assert saved is not None, "run `python -m compgen.embers main`"
    setup = embers.Setup()
    steps = sorted(int(s) for s in saved["evals"])
    assert steps == list(range(0, setup.steps + 1, setup.eval_every))
    weights, _ = embers.saved_paths(0)
    state = torch.load(weights, weights_only=True)["state"]
    model = Transformer(setup.model)
    model.load_state_dict(state)  # every weight of the chapter's model, no other
