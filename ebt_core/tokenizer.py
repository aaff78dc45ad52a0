"""Character tokenizer. Its vocabulary is stored in the checkpoint's config (no separate file).

Characters outside the vocabulary are never dropped or replaced: `encode` raises ValueError
listing them (with their code points, so invisible and control characters show) and the
allowed set.
"""

from __future__ import annotations

import torch

MAX_SHOWN = 10  # unknown characters listed in an error message


def check_text(field: str, value) -> None:
    """A prompt, answer or context must be a non-empty string."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a non-empty string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{field} must be a non-empty string, got ''")


def _show(ch: str) -> str:
    return f"{ch!r} (U+{ord(ch):04X})"


class CharTokenizer:
    def __init__(self, vocab: str) -> None:
        self.vocab = vocab
        self._index = {ch: i for i, ch in enumerate(vocab)}

    def __len__(self) -> int:
        return len(self.vocab)

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(ch for ch in text if ch not in self._index))

    def check(self, text: str, field: str = "text") -> None:
        """Raise ValueError naming characters the model cannot read (never drop them silently)."""
        if not isinstance(text, str):
            raise ValueError(f"{field} must be a string, got {type(text).__name__}")
        bad = self.unknown(text)
        if bad:
            first = next(i for i, ch in enumerate(text) if ch not in self._index)
            shown = ", ".join(_show(c) for c in bad[:MAX_SHOWN])
            more = f" and {len(bad) - MAX_SHOWN} more" if len(bad) > MAX_SHOWN else ""
            raise ValueError(
                f"{field} contains {len(bad)} character(s) outside the model's vocabulary: "
                f"{shown}{more} (first at position {first}). Allowed: {self.vocab!r}"
            )

    def encode(self, text: str, field: str = "text") -> list[int]:
        self.check(text, field)
        return [self._index[ch] for ch in text]

    def encode_tensor(self, text: str, field: str = "text") -> torch.Tensor:
        return torch.tensor([self.encode(text, field)], dtype=torch.long)  # (1, T)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)
