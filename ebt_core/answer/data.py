"""Whole-answer tasks: sums and 4×4 Sudoku — prompts, answers, splits and validity checkers.

    task = get_task("sum")                       # or "sudoku"
    ex = task.sample(rng, "harder", "test")      # Example(prompt="4857+5168=", answer="10025")
    task.is_correct(ex.prompt, "10025")          # any right answer counts (Sudoku: any valid grid)
    task.padded("57")                            # "57\\n\\n\\n\\n\\n": the K answer positions

An answer is K characters: the answer, then the terminator/pad character "\\n" up to K (sums;
a Sudoku answer is always its 16 cells). Levels (`split`):
- sum: "id" operands of 1–4 digits; "harder" 4-digit operands whose addition has a carry chain
  of 3 or more consecutive carries; "ood" 5-digit operands.
- sudoku (2×2 boxes, prompt = 16 cells row-major, "1"–"4" or "." for a blank, then "="):
  "id" 4–8 blanks; "harder" 9–12 blanks; "ood" 13–16 blanks.
Held-out data (`part`): a fixed hash of the prompt puts 5 % of prompts in "test" and 5 % in
"val"; "train" draws from the other 90 %, so no test or validation prompt is ever trained on.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a tensor is made: the app reads tasks without it
    import torch

SPLITS = ("id", "harder", "ood")
PARTS = ("train", "val", "test")
PAD = "\n"


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str  # one right answer, unpadded (the generating one for Sudoku)


def _part_of(prompt: str) -> str:
    bucket = zlib.crc32(prompt.encode()) % 20
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def _check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


class Task:
    """What a whole-answer task defines; `SumTask` and `SudokuTask` fill it in."""

    name: str = ""
    vocab: str = ""
    answer_length: int = 0  # K
    answer_chars: str = ""  # what an answer may contain (before padding)

    def check_prompt(self, prompt) -> None:  # raises ValueError naming "prompt"
        raise NotImplementedError

    def draw(self, rng: random.Random, split: str) -> Example:
        raise NotImplementedError

    def is_correct(self, prompt: str, answer: str) -> bool:
        raise NotImplementedError

    def check_answer(self, answer) -> None:
        """Raise ValueError naming "answer" if it cannot be an answer of this task."""
        if not isinstance(answer, str) or not answer:
            raise ValueError(f"answer must be a non-empty string, got {answer!r}")
        bad = sorted(set(answer) - set(self.answer_chars))
        if bad:
            raise ValueError(f"answer contains {bad}: allowed characters {self.answer_chars!r}")
        if len(answer) > self.max_answer:
            raise ValueError(f"answer must have at most {self.max_answer} characters")

    @property
    def max_answer(self) -> int:
        return self.answer_length - 1 if self.name == "sum" else self.answer_length

    def padded(self, answer: str) -> str:
        """The K answer positions: the answer, then the pad/terminator character."""
        return answer + PAD * (self.answer_length - len(answer))

    @staticmethod
    def unpad(text: str) -> str:
        """The answer read from K positions: everything before the first terminator."""
        return text.split(PAD, 1)[0]

    def sample(self, rng: random.Random, split: str = "id", part: str = "train") -> Example:
        """One example of a level (`split`) from a held-out `part` (module docstring)."""
        _check_choice("split", split, SPLITS)
        _check_choice("part", part, PARTS)
        while True:
            ex = self.draw(rng, split)
            if _part_of(ex.prompt) == part:
                return ex

    def fixed(self, split: str, part: str, n: int, seed: int = 0) -> list[Example]:
        """The same n examples every time (evaluation sets)."""
        rng = random.Random(f"{self.name}-{split}-{part}-{seed}")
        return [self.sample(rng, split, part) for _ in range(n)]

    def targets(self, prompt: str) -> list[str]:
        """Every right answer of a prompt (Sudoku: all solutions)."""
        raise NotImplementedError


# ---- sums -----------------------------------------------------------------------------------
_SUM = re.compile(r"^(\d{1,5})\+(\d{1,5})=$")


def carry_chain(a: int, b: int) -> int:
    """The longest run of consecutive digit positions of a + b that produce a carry."""
    longest = run = carry = 0
    while a or b:
        carry = int(a % 10 + b % 10 + carry >= 10)
        run = run + 1 if carry else 0
        longest = max(longest, run)
        a, b = a // 10, b // 10
    return longest


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)


class SumTask(Task):
    name = "sum"
    vocab = "0123456789+=\n"
    answer_length = 7  # up to 6 digits (5-digit operands) + the terminator
    answer_chars = "0123456789"

    def check_prompt(self, prompt) -> tuple[int, int]:
        if not isinstance(prompt, str) or not _SUM.match(prompt):
            raise ValueError(
                f"prompt must look like 'a+b=' with operands of 1–5 digits, got {prompt!r}"
            )
        a, b = prompt[:-1].split("+")
        return int(a), int(b)

    def draw(self, rng: random.Random, split: str) -> Example:
        while True:
            if split == "id":
                a, b = (_operand(rng, rng.randint(1, 4)) for _ in range(2))
            else:
                a, b = (_operand(rng, 4 if split == "harder" else 5) for _ in range(2))
            if split != "harder" or carry_chain(a, b) >= 3:
                return Example(f"{a}+{b}=", str(a + b))

    def is_correct(self, prompt: str, answer: str) -> bool:
        a, b = self.check_prompt(prompt)
        return answer == str(a + b)

    def targets(self, prompt: str) -> list[str]:
        a, b = self.check_prompt(prompt)
        return [str(a + b)]


# ---- 4×4 Sudoku -----------------------------------------------------------------------------
_UNITS = (
    [[r * 4 + c for c in range(4)] for r in range(4)]  # rows
    + [[r * 4 + c for r in range(4)] for c in range(4)]  # columns
    + [
        [(br + r) * 4 + bc + c for r in range(2) for c in range(2)]
        for br in (0, 2)
        for bc in (0, 2)
    ]
)
SUDOKU_LEVELS = {"id": (4, 8), "harder": (9, 12), "ood": (13, 16)}


def valid_grid(grid: str) -> bool:
    """16 digits 1–4 with every row, column and 2×2 box a permutation."""
    return (
        len(grid) == 16
        and set(grid) <= set("1234")
        and all(len({grid[i] for i in unit}) == 4 for unit in _UNITS)
    )


@cache
def all_grids() -> tuple[str, ...]:
    """The 288 valid 4×4 Sudoku grids, in lexicographic order."""
    grids, cells = [], [""] * 16

    def fill(i: int) -> None:
        if i == 16:
            grids.append("".join(cells))
            return
        for d in "1234":
            if all(cells[j] != d for unit in _UNITS if i in unit for j in unit if j < i):
                cells[i] = d
                fill(i + 1)

    fill(0)
    return tuple(grids)


def keeps_givens(puzzle: str, grid: str) -> bool:
    return all(p == "." or p == g for p, g in zip(puzzle, grid))


def conflicts(puzzle: str, grid: str) -> set[int]:
    """Cells of a (partial) grid whose character is not a digit 1–4, changes a given of
    `puzzle`, or repeats in its row, column or 2×2 box."""
    bad = {i for i, d in enumerate(grid) if d not in "1234"}
    bad |= {i for i, (p, d) in enumerate(zip(puzzle, grid)) if p != "." and p != d}
    for unit in _UNITS:
        seen = [grid[i] for i in unit]
        bad |= {i for i in unit if seen.count(grid[i]) > 1}
    return bad


class SudokuTask(Task):
    name = "sudoku"
    vocab = "1234.=\n"
    answer_length = 16
    answer_chars = "1234"

    def check_prompt(self, prompt) -> str:
        if not isinstance(prompt, str) or not re.match(r"^[1-4.]{16}=$", prompt):
            raise ValueError(
                "prompt must be the 16 cells row-major ('1'–'4' or '.' for a blank) then '=', "
                f"got {prompt!r}"
            )
        puzzle = prompt[:16]
        for unit in _UNITS:
            given = [puzzle[i] for i in unit if puzzle[i] != "."]
            if len(given) != len(set(given)):
                raise ValueError(f"prompt: the givens repeat a digit in cells {unit}")
        return puzzle

    def draw(self, rng: random.Random, split: str) -> Example:
        grid = rng.choice(all_grids())
        lo, hi = SUDOKU_LEVELS[split]
        blanks = set(rng.sample(range(16), rng.randint(lo, hi)))
        puzzle = "".join("." if i in blanks else grid[i] for i in range(16))
        return Example(puzzle + "=", grid)

    def is_correct(self, prompt: str, answer: str) -> bool:
        puzzle = self.check_prompt(prompt)
        return valid_grid(answer) and keeps_givens(puzzle, answer)

    def targets(self, prompt: str) -> list[str]:
        puzzle = self.check_prompt(prompt)
        return [g for g in all_grids() if keeps_givens(puzzle, g)]


TASKS: dict[str, Task] = {"sum": SumTask(), "sudoku": SudokuTask()}


def get_task(name: str) -> Task:
    _check_choice("task", name, tuple(TASKS))
    return TASKS[name]


def solution_mask(task: Task, prompts: list[str]) -> torch.Tensor | None:
    """Sudoku: (B, 288) bool, which of `all_grids()` solve each prompt; None for sums."""
    if task.name != "sudoku":
        return None
    import torch

    grids = all_grids()
    return torch.tensor([[keeps_givens(p[:16], g) for g in grids] for p in prompts])
