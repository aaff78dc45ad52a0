"""Whole-answer tasks: generators, held-out parts, difficulty levels, validity checkers."""

from __future__ import annotations

import random
import statistics

import pytest

from ebt_core.answer.data import (
    SUDOKU_LEVELS,
    all_grids,
    carry_chain,
    get_task,
    keeps_givens,
    valid_grid,
)


def test_all_sudoku_grids_are_the_288_valid_ones():
    grids = all_grids()
    assert len(grids) == len(set(grids)) == 288
    assert all(valid_grid(g) for g in grids)
    assert not valid_grid("1234123412341234")  # rows fine, columns repeat


@pytest.mark.parametrize("split", ["id", "harder", "ood"])
def test_every_generated_sudoku_is_solved_by_its_answer(split):
    task, rng = get_task("sudoku"), random.Random(0)
    lo, hi = SUDOKU_LEVELS[split]
    for _ in range(200):
        ex = task.sample(rng, split, "train")
        puzzle = ex.prompt[:16]
        assert ex.prompt.endswith("=") and lo <= puzzle.count(".") <= hi
        assert valid_grid(ex.answer) and keeps_givens(puzzle, ex.answer)
        assert task.is_correct(ex.prompt, ex.answer)
        assert ex.answer in task.targets(ex.prompt)


def test_harder_sudoku_has_more_blanks_and_more_solutions():
    task = get_task("sudoku")
    n_solutions = {
        s: statistics.mean(len(task.targets(e.prompt)) for e in task.fixed(s, "val", 150))
        for s in ("id", "harder")
    }
    assert n_solutions["harder"] > 1.5 * n_solutions["id"]


def test_sudoku_any_valid_completion_counts():
    task = get_task("sudoku")
    prompt = "." * 16 + "="
    assert task.is_correct(prompt, all_grids()[0]) and task.is_correct(prompt, all_grids()[-1])
    assert not task.is_correct("1" + "." * 15 + "=", "2" + all_grids()[0][1:])
    assert not task.is_correct(prompt, "1234")


@pytest.mark.parametrize(
    "a, b, chain", [(999, 1, 3), (123, 456, 0), (95, 5, 2), (5, 5, 1), (9999, 9999, 4),
                    (1919, 1181, 3), (1909, 1101, 1), (0, 0, 0), (5050, 5050, 1)]
)  # fmt: skip
def test_carry_chain_counts_consecutive_carries(a, b, chain):
    assert carry_chain(a, b) == chain


def test_sum_levels():
    task, rng = get_task("sum"), random.Random(1)
    hard = [task.sample(rng, "harder", "test") for _ in range(200)]
    easy = [task.sample(rng, "id", "test") for _ in range(200)]
    for ex in hard:
        a, b = map(int, ex.prompt[:-1].split("+"))
        assert len(str(a)) == len(str(b)) == 4 and carry_chain(a, b) >= 3
    assert statistics.mean(carry_chain(*map(int, e.prompt[:-1].split("+"))) for e in easy) < 1.5
    ood = task.sample(rng, "ood", "test")
    assert all(len(x) == 5 for x in ood.prompt[:-1].split("+"))
    assert all(task.is_correct(e.prompt, e.answer) for e in hard + easy + [ood])


@pytest.mark.parametrize("name", ["sum", "sudoku"])
def test_held_out_parts_never_meet_training(name):
    task, rng = get_task(name), random.Random(2)
    train = {task.sample(rng, "id", "train").prompt for _ in range(1500)}
    for part in ("val", "test"):
        held = {e.prompt for e in task.fixed("id", part, 100)}
        assert not held & train
    assert task.fixed("id", "test", 20) == task.fixed("id", "test", 20)  # fixed sets repeat


def test_padding_round_trip():
    task = get_task("sum")
    assert task.padded("57") == "57" + "\n" * 5 and len(task.padded("123456")) == 7
    assert task.unpad(task.padded("57")) == "57"


@pytest.mark.parametrize(
    "name, prompt",
    [("sum", "12-3="), ("sum", "1a+2="), ("sum", "123456+1="), ("sum", "12+3"), ("sum", 5),
     ("sudoku", "1234="), ("sudoku", "5" + "." * 15 + "="), ("sudoku", "11" + "." * 14 + "="),
     ("sudoku", "1...1..........." + "=")],
)  # fmt: skip
def test_bad_prompts_name_the_field(name, prompt):
    with pytest.raises(ValueError, match="prompt"):
        get_task(name).check_prompt(prompt)


@pytest.mark.parametrize(
    "name, answer", [("sum", ""), ("sum", "12a"), ("sum", "1234567"), ("sudoku", "5" * 16),
                     ("sudoku", "1" * 17), ("sum", None)]
)  # fmt: skip
def test_bad_answers_name_the_field(name, answer):
    with pytest.raises(ValueError, match="answer"):
        get_task(name).check_answer(answer)


def test_bad_split_and_task_name_the_field():
    with pytest.raises(ValueError, match="split"):
        get_task("sum").sample(random.Random(0), "hard")
    with pytest.raises(ValueError, match="part"):
        get_task("sum").sample(random.Random(0), "id", "dev")
    with pytest.raises(ValueError, match="task"):
        get_task("chess")
