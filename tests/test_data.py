"""Offline corpora: formats, masks, disjoint held-out splits."""

import random

from ebt_core.text.data import _held_out_pair, arith_example, get_corpus


def test_addition_lines_are_exact_and_in_the_right_range():
    corpus = get_corpus("arith")
    for prompt, answer in corpus.examples("id", 200, digits=(1, 3)):
        a, b = map(int, prompt[:-1].split("+"))
        assert answer == f"{a + b}\n" and a < 1000 and b < 1000
        assert _held_out_pair(a, b)  # the in-distribution test split is the held-out 5 %
    for prompt, _ in corpus.examples("ood", 100, digits=(4, 5)):
        a, b = map(int, prompt[:-1].split("+"))
        assert 1000 <= a < 100_000 and 1000 <= b < 100_000


def test_training_never_sees_held_out_pairs():
    rng = random.Random(0)
    for _ in range(3000):
        prompt, _ = arith_example(rng, "train", digits=(1, 3))
        a, b = map(int, prompt[:-1].split("+"))
        assert not _held_out_pair(a, b)


def test_bracket_answers_close_the_prefix():
    rng = random.Random(1)
    pairs = {"(": ")", "[": "]"}
    for split, lo, hi in (("id", 1, 4), ("ood", 5, 8)):
        for _ in range(200):
            prompt, answer = arith_example(rng, split)
            if "+" in prompt:
                continue
            stack = []
            for c in prompt[:-1] + answer[:-1]:
                if c in pairs:
                    stack.append(c)
                else:
                    assert pairs[stack.pop()] == c
            assert not stack and lo <= len(answer) - 1 <= hi


def test_batches_mask_only_answer_targets():
    corpus = get_corpus("arith")
    ids, mask = corpus.train_batch(random.Random(2), 4, 40)
    assert ids.shape == (4, 41) and mask.shape == (4, 40)
    for row, m in zip(ids, mask):
        text = "".join(corpus.vocab[i] for i in row)
        for t in range(40):
            target, line_so_far = text[t + 1], text[: t + 1].split("\n")[-1]
            assert bool(m[t]) == ("=" in line_so_far), (text, t)
            if m[t]:
                assert target in "0123456789)]\n"


def test_english_corpus_ships_with_python_and_has_three_splits():
    corpus = get_corpus("english")
    sizes = {k: len(v) for k, v in corpus.splits.items()}
    assert sizes["train"] > 100_000 and sizes["id"] > 10_000 and sizes["ood"] > 1000
    assert corpus.splits["id"][:2000] not in corpus.splits["train"]
    ids, mask = corpus.eval_batch("id", 3, 50)
    assert ids.shape == (3, 51) and mask.all()
