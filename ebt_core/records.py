"""Records of thinking: everything a front end needs to replay a descent, JSON-safe.

Arrays are numpy float32; `to_dict` turns them into nested lists (float32 → Python float is
exact, so `from_dict(to_dict(run))` restores identical arrays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import ThinkConfig

FORMAT_VERSION = 1


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class TokenRecord:
    """The descent that produced one generated character.

    energies:   (samples, steps_used + 1) energy of every candidate before each update, plus the
                final state's energy (so column 0 is the random start).
    states:     (samples, steps_used + 1, V) candidate logit states along the descent.
    grad_norms: (samples, steps_used + 1) ‖∂E/∂state‖ (the logit state) at each state; ‖∂E/∂p‖
                for an answer EBT with mirror_descent (the gradient its steps follow).
    chosen:     index of the candidate kept by the selection rule.
    steps_used: steps actually taken (< steps when early stopping triggered).
    position:   index of this character in the generated continuation.
    A point EBT's record has V = 2 (the states are the candidate points), char "" and no vocab.
    """

    char: str
    energies: np.ndarray
    states: np.ndarray
    grad_norms: np.ndarray
    chosen: int
    steps_used: int
    position: int
    vocab: str = field(repr=False, default="")

    @property
    def samples(self) -> int:
        return self.energies.shape[0]

    @property
    def final_energy(self) -> float:
        """Final energy of the chosen candidate."""
        return float(self.energies[self.chosen, -1])

    def probs(self, step: int | None = None, sample: int | None = None) -> np.ndarray:
        """Candidate distribution(s): (samples, steps+1, V), or sliced by step/sample."""
        p = _softmax(self.states)
        if sample is not None:
            p = p[sample]
            return p if step is None else p[self._step(step)]
        return p if step is None else p[:, self._step(step)]

    def _step(self, step: int) -> int:
        if not -(self.steps_used + 1) <= step <= self.steps_used:
            raise ValueError(f"step must be in [0, {self.steps_used}], got {step}")
        return step

    def top_k(self, step: int, k: int = 5, sample: int | None = None) -> list[tuple[str, float]]:
        """Decoded top-k (char, prob) of a candidate (default: the chosen one) at a step."""
        p = self.probs(step, self.chosen if sample is None else sample)
        order = np.argsort(-p, kind="stable")[: max(1, k)]
        return [(self.vocab[i], float(p[i])) for i in order]

    def ranking(self) -> list[int]:
        """Candidate indices sorted by final energy, lowest first."""
        return [int(i) for i in np.argsort(self.energies[:, -1], kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "char": self.char,
            "energies": self.energies.tolist(),
            "states": self.states.tolist(),
            "grad_norms": self.grad_norms.tolist(),
            "chosen": self.chosen,
            "steps_used": self.steps_used,
            "position": self.position,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], vocab: str) -> TokenRecord:
        return cls(
            char=data["char"],
            energies=np.asarray(data["energies"], dtype=np.float32),
            states=np.asarray(data["states"], dtype=np.float32),
            grad_norms=np.asarray(data["grad_norms"], dtype=np.float32),
            chosen=int(data["chosen"]),
            steps_used=int(data["steps_used"]),
            position=int(data["position"]),
            vocab=vocab,
        )


@dataclass
class ThinkRun:
    """One call of `think`: the prompt, the continuation, and one record per character.

    Point EBTs (`for_points`) fill `context_points` (T, 2) and `points` (k, 2), the generated
    points (each the chosen candidate's final state); their prompt, text and vocab are empty.
    """

    prompt: str
    text: str
    tokens: list[TokenRecord]
    config: ThinkConfig
    step_size: float  # the α actually used
    vocab: str
    checkpoint: str = ""
    context_points: np.ndarray | None = None  # (T, 2), point runs only
    points: np.ndarray | None = None  # (k, 2), point runs only

    @classmethod
    def for_points(
        cls,
        context: np.ndarray,
        tokens: list[TokenRecord],
        config: ThinkConfig,
        step_size: float,
        checkpoint: str = "",
    ) -> ThinkRun:
        """A run of a point EBT: the generated points are the chosen candidates' final states."""
        points = np.stack([t.states[t.chosen, -1] for t in tokens]).astype(np.float32)  # (k, 2)
        return cls("", "", tokens, config, step_size, "", checkpoint, context, points)

    @property
    def kind(self) -> str:
        """ "points" for a point EBT's run, else "text"."""
        return "text" if self.context_points is None else "points"

    def context(self, token: int):
        """What the model saw when it generated token `token`: text, or points (T+token, 2)."""
        if self.context_points is not None:
            return np.concatenate([self.context_points, self.points[:token]])
        return self.prompt + self.text[:token]

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format_version": FORMAT_VERSION,
            "prompt": self.prompt,
            "text": self.text,
            "config": self.config.to_dict(),
            "step_size": self.step_size,
            "vocab": self.vocab,
            "checkpoint": self.checkpoint,
            "tokens": [t.to_dict() for t in self.tokens],
        }
        if self.context_points is not None:  # text records keep their exact JSON
            data["kind"] = "points"
            data["context_points"] = self.context_points.tolist()
            data["points"] = self.points.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThinkRun:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"not a ThinkRun record of format_version {FORMAT_VERSION}: "
                f"got {data.get('format_version') if isinstance(data, dict) else type(data)}"
            )
        vocab = data["vocab"]
        is_points = data.get("kind") == "points"
        return cls(
            prompt=data["prompt"],
            text=data["text"],
            tokens=[TokenRecord.from_dict(t, vocab) for t in data["tokens"]],
            config=ThinkConfig.from_dict(data["config"]),
            step_size=float(data["step_size"]),
            vocab=vocab,
            checkpoint=data.get("checkpoint", ""),
            context_points=_points_array(data, "context_points") if is_points else None,
            points=_points_array(data, "points") if is_points else None,
        )


def _points_array(data: dict[str, Any], key: str) -> np.ndarray:
    arr = np.asarray(data.get(key), dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{key} must be a list of (x, y) pairs, got shape {arr.shape}")
    return arr


class _Verdict:
    """What the score results share: `energies` per scored item, fields of text or arrays."""

    @property
    def total_energy(self) -> float:
        return float(self.energies.sum())

    def to_dict(self) -> dict[str, Any]:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in vars(self).items()}


@dataclass
class ScoreResult(_Verdict):
    """The model as a verifier of a user-supplied continuation.

    energies:        (len(answer),) energy of each answer character (one-hot candidate) given
                     the prompt and the answer's earlier characters.
    vocab_rank:      (len(answer),) rank of that character among all V one-hot candidates
                     (0 = the model's favourite).
    sample_energies: (len(answer), samples) final energies of the model's own descents there.
    sample_rank:     (len(answer),) how many of those candidates have a lower energy than the
                     user's character (0 = it beats them all).
    """

    prompt: str
    answer: str
    energies: np.ndarray
    vocab_rank: np.ndarray
    sample_energies: np.ndarray
    sample_rank: np.ndarray


@dataclass
class PointScoreResult(_Verdict):
    """A point EBT as a verifier of user-supplied next points.

    energies:        (K,) energy of each continuation point as the candidate after the context
                     and the continuation's earlier points.
    sample_energies: (K, samples) final energies of the model's own descents there.
    sample_rank:     (K,) how many of those candidates have a lower energy than the user's
                     point (0 = it beats them all).
    """

    context: np.ndarray  # (T, 2)
    continuation: np.ndarray  # (K, 2)
    energies: np.ndarray
    sample_energies: np.ndarray
    sample_rank: np.ndarray
