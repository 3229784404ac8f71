"""What a builder is told about its input: the data kind and shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["image", "sequence", "text"]


@dataclass(frozen=True)
class InputSpec:
    """The tensor a builder receives, after the model's own preprocessing.

    Args:
        kind: `"image"` (height, width, channels), `"sequence"` (steps,
            features) or `"text"` (token ids of length `shape[0]`).
        shape: the per-example shape, without the batch axis.
        vocab_size: for text, the number of token ids (0 is padding).
    """

    kind: Kind
    shape: tuple[int, ...]
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        expected_rank = {"image": 3, "sequence": 2, "text": 1}[self.kind]
        if len(self.shape) != expected_rank:
            raise ValueError(
                f"InputSpec(kind={self.kind!r}) received shape {self.shape}, "
                f"expected {expected_rank} dimensions per example."
            )
        if self.kind == "text" and not self.vocab_size:
            raise ValueError("InputSpec(kind='text') needs vocab_size.")
