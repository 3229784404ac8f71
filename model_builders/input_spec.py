"""What a builder is told about its input: the data kind and shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["image", "sequence", "text"]


@dataclass(frozen=True)
class InputSpec:
    """The tensor a builder receives, after the model's own preprocessing.

    Families that declare `raw_text` (see `Capabilities`) get the raw strings
    instead and vectorize them with the n-gram vocabularies below, fitted on
    the training texts.

    Args:
        kind: `"image"` (height, width, channels), `"sequence"` (steps,
            features) or `"text"` (token ids of length `shape[0]`).
        shape: the per-example shape, without the batch axis.
        vocab_size: for text, the number of token ids (0 is padding).
        ngram_vocabulary, ngram_idf: for text, word 1- and 2-grams and their
            inverse document frequencies (no special tokens).
        char_vocabulary, char_idf: for text, character n-grams and theirs.
        reference_series: for sequences, a seeded sample of normalised
            training series (examples, steps, features), NaN-padded, from
            which frozen feature layers fit their constants (the rocket
            family's biases).
    """

    kind: Kind
    shape: tuple[int, ...]
    vocab_size: int | None = None
    # Tens of thousands of entries: kept out of the repr, which errors print.
    ngram_vocabulary: tuple[str, ...] | None = field(default=None, repr=False)
    ngram_idf: tuple[float, ...] | None = field(default=None, repr=False)
    char_vocabulary: tuple[str, ...] | None = field(default=None, repr=False)
    char_idf: tuple[float, ...] | None = field(default=None, repr=False)
    # A NumPy array: compared by identity, kept out of the repr.
    reference_series: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        expected_rank = {"image": 3, "sequence": 2, "text": 1}[self.kind]
        if len(self.shape) != expected_rank:
            raise ValueError(
                f"InputSpec(kind={self.kind!r}) received shape {self.shape}, "
                f"expected {expected_rank} dimensions per example."
            )
        if self.kind == "text" and not self.vocab_size:
            raise ValueError("InputSpec(kind='text') needs vocab_size.")
        for name in ("ngram", "char"):
            vocabulary = getattr(self, f"{name}_vocabulary")
            idf = getattr(self, f"{name}_idf")
            if (vocabulary is None) != (idf is None) or (
                vocabulary is not None and len(vocabulary) != len(idf)
            ):
                raise ValueError(
                    f"InputSpec received {name}_vocabulary and {name}_idf of "
                    f"lengths {_length(vocabulary)} and {_length(idf)}; expected "
                    "one idf weight per token. Pass both from the same fit."
                )


def _length(values) -> int | None:
    return None if values is None else len(values)
