"""Character tokenizer. Its vocabulary is stored in the checkpoint's config (no separate file)."""

from __future__ import annotations

import torch


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
        bad = self.unknown(text)
        if bad:
            shown = ", ".join(repr(c) for c in bad[:10]) + (" …" if len(bad) > 10 else "")
            raise ValueError(
                f"{field} contains character(s) outside the model's vocabulary: {shown}. "
                f"Allowed: {self.vocab!r}"
            )

    def encode(self, text: str, field: str = "text") -> list[int]:
        self.check(text, field)
        return [self._index[ch] for ch in text]

    def encode_tensor(self, text: str, field: str = "text") -> torch.Tensor:
        return torch.tensor([self.encode(text, field)], dtype=torch.long)  # (1, T)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)
