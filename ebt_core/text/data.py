"""Corpora that exist on every machine, with no download: generated reasoning tasks and the
English prose that ships with Python (docstrings of the standard library).

    corpus = get_corpus("arith")               # or "english", or text_corpus(path)
    ids, mask = corpus.train_batch(gen, batch=64, length=64)   # (B, T+1), (B, T)
    ids, mask = corpus.eval_batch("id", ...)                    # fixed held-out data

`mask[b, t]` marks the targets ids[b, t+1] that count in the loss and in perplexity. For `arith`
those are answer characters only (operands are random, their loss is irreducible).

arith tasks (one per line):
- addition `{a}+{b}={a+b}`: in distribution 1–3 digit operands; out of distribution 4–5 digits
  (level "ood"), or any `digits` level for the difficulty sweep. A fixed 5 % of 1–3 digit pairs
  is held out and never trained on.
- bracket completion `{open prefix}={closing}`: close every bracket of a random prefix; in
  distribution the prefix leaves 1–4 brackets open, out of distribution 5–8.
"""

from __future__ import annotations

import ast
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

ARITH_VOCAB = "0123456789+=\n()[]"
ENGLISH_VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
BRACKETS = {"(": ")", "[": "]"}


# ---- arith ----------------------------------------------------------------------------------
def _held_out_pair(a: int, b: int) -> bool:
    """A fixed, hash-like 5 % of (a, b) pairs that training never sees."""
    return (a * 7919 + b * 104729 + a * b * 31) % 100 < 5


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)


def addition(rng: random.Random, lo: int, hi: int, split: str) -> tuple[str, str]:
    """(prompt "a+b=", answer "c\\n") with operands of lo..hi digits, from the given split."""
    while True:
        a, b = _operand(rng, rng.randint(lo, hi)), _operand(rng, rng.randint(lo, hi))
        if hi > 3 or (split == "train") != _held_out_pair(a, b):
            return f"{a}+{b}=", f"{a + b}\n"


def brackets(rng: random.Random, lo: int, hi: int) -> tuple[str, str]:
    """(prompt "<prefix>=", answer "<closing>\\n") leaving lo..hi brackets open."""
    depth, stack, prefix = rng.randint(lo, hi), [], []
    while len(stack) < depth or (len(prefix) < 2 * depth and rng.random() < 0.5):
        if stack and len(stack) >= depth or (stack and rng.random() < 0.3):
            prefix.append(BRACKETS[stack.pop()])
        else:
            stack.append(rng.choice("(["))
            prefix.append(stack[-1])
    return "".join(prefix) + "=", "".join(BRACKETS[c] for c in reversed(stack)) + "\n"


def arith_example(rng: random.Random, split: str, digits: tuple[int, int] | None = None):
    """One (prompt, answer). split: "train" | "id" | "ood"; digits overrides the addition level."""
    if digits is not None:
        return addition(rng, digits[0], digits[1], split)
    ood = split == "ood"
    if rng.random() < 0.8:
        return addition(rng, 4, 5, split) if ood else addition(rng, 1, 3, split)
    return brackets(rng, 5, 8) if ood else brackets(rng, 1, 4)


def _pack(examples, length: int) -> tuple[list[int], list[bool]]:
    """Concatenate (prompt, answer) examples into length+1 chars; mask answer targets."""
    text, answer_mask = "", []
    for prompt, answer in examples:
        text += prompt + answer
        answer_mask += [False] * len(prompt) + [True] * len(answer)
        if len(text) > length:
            break
    return text[: length + 1], answer_mask[1 : length + 1]


# ---- corpora --------------------------------------------------------------------------------
@dataclass
class Corpus:
    """A training corpus: vocabulary, a training sampler and fixed held-out splits."""

    name: str
    vocab: str

    def encode(self, text: str) -> list[int]:
        index = {c: i for i, c in enumerate(self.vocab)}
        return [index[c] for c in text]

    def _stack(self, rows) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.tensor([self.encode(t) for t, _ in rows], dtype=torch.long)  # (B, T+1)
        mask = torch.tensor([m for _, m in rows], dtype=torch.bool)  # (B, T)
        return ids, mask


class ArithCorpus(Corpus):
    def __init__(self) -> None:
        super().__init__("arith", ARITH_VOCAB)

    def _rows(self, rng: random.Random, split: str, batch: int, length: int, digits=None):
        rows = []
        for _ in range(batch):
            examples = iter(lambda: arith_example(rng, split, digits), None)
            rows.append(_pack(examples, length))
        return rows

    def train_batch(self, rng: random.Random, batch: int, length: int):
        return self._stack(self._rows(rng, "train", batch, length))

    def eval_batch(self, split: str, batch: int, length: int, seed: int = 1234, digits=None):
        return self._stack(self._rows(random.Random(seed), split, batch, length, digits))

    def examples(self, split: str, n: int, seed: int = 1234, digits=None):
        """n held-out (prompt, answer) pairs, e.g. for exact-match accuracy."""
        rng = random.Random(seed)
        return [arith_example(rng, split, digits) for _ in range(n)]


class TextCorpus(Corpus):
    """Plain text split into train / id (held-out, same source) / ood (another source)."""

    def __init__(self, name: str, vocab: str, train: str, held_out: str, ood: str) -> None:
        super().__init__(name, vocab)
        self.splits = {"train": train, "id": held_out, "ood": ood}
        for split, text in self.splits.items():
            if len(text) < 1000:
                raise ValueError(f"{name}: the {split} split has only {len(text)} characters")

    def _window(self, text: str, start: int, length: int):
        return text[start : start + length + 1], [True] * length

    def train_batch(self, rng: random.Random, batch: int, length: int):
        text = self.splits["train"]
        return self._stack(
            [
                self._window(text, rng.randrange(len(text) - length - 1), length)
                for _ in range(batch)
            ]
        )

    def eval_batch(self, split: str, batch: int, length: int, seed: int = 1234, digits=None):
        text = self.splits[split]
        stride = max(1, (len(text) - length - 1) // batch)  # evenly spread, deterministic
        return self._stack([self._window(text, i * stride, length) for i in range(batch)])


def _clean(text: str, vocab: str) -> str:
    allowed = set(vocab)
    return "".join(c for c in text.replace("\t", "    ") if c in allowed)


def _docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return []
    nodes = [tree] + [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
    ]
    docs = (ast.get_docstring(n) for n in nodes)
    return [d.strip() + "\n\n" for d in docs if d and len(d) > 80]


def english_corpus() -> TextCorpus:
    """Docstrings of the standard library's top-level modules (split by module: every 10th
    module is held out) and, as out-of-distribution text, Python's LICENSE."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    train, held_out = [], []
    for i, path in enumerate(sorted(stdlib.glob("*.py"))):
        (held_out if i % 10 == 0 else train).extend(_docstrings(path))
    license_file = stdlib / "LICENSE.txt"
    ood = license_file.read_text(encoding="utf-8") if license_file.is_file() else ""
    return TextCorpus(
        "english",
        ENGLISH_VOCAB,
        _clean("".join(train), ENGLISH_VOCAB),
        _clean("".join(held_out), ENGLISH_VOCAB),
        _clean(ood, ENGLISH_VOCAB),
    )


def text_corpus(path: str | Path) -> TextCorpus:
    """A user's own text file: vocabulary from its characters; last 10 % held out (id and ood)."""
    text = Path(path).read_text(encoding="utf-8")
    vocab = "".join(sorted(set(text)))
    cut = int(len(text) * 0.9)
    tail = text[cut:]
    return TextCorpus(Path(path).stem, vocab, text[:cut], tail, tail)


def get_corpus(name: str) -> Corpus:
    if name == "arith":
        return ArithCorpus()
    if name == "english":
        return english_corpus()
    raise ValueError(f"unknown corpus {name!r}: use 'arith', 'english' or a text file path")
