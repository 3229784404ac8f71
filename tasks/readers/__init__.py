"""Readers: tables, long-format sequences, image folders, NPZ, prediction inputs.

Examples are arrays, lists of arrays (ragged series) or stored examples
(`StoredExamples`: `ImageFiles`, an image folder decoded on demand, or
`ArrayRows`, a large table's examples in a row file); `take_examples`,
`join_examples` and `example_digests_of` work on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data_contracts.digests import example_digests
from tasks.readers.stored import StoredExamples


@dataclass(frozen=True)
class Examples:
    """Arrays ready to split: inputs and original labels, maybe a kept test split."""

    x: np.ndarray | StoredExamples
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def take_examples(x: np.ndarray | Sequence | StoredExamples, where: np.ndarray):
    """The examples at positions `where`: an array, a list or stored examples."""
    if isinstance(x, np.ndarray | StoredExamples):
        return x[where]
    return [x[i] for i in where]


def join_examples(first, second):
    """`first`'s examples, then `second`'s, in the kind they came in."""
    if isinstance(first, StoredExamples):
        return first.join(second)
    if isinstance(first, np.ndarray) and isinstance(second, np.ndarray):
        return np.concatenate([first, second])
    return list(first) + list(second)


def example_digests_of(x) -> list[str] | np.ndarray:
    """Each example's content digest; stored examples carry theirs from their pass."""
    if isinstance(x, StoredExamples):
        return x.digests
    return example_digests(x)


def array_sample(x, limit: int = 64):
    """`x` as an array: stored examples read their first `limit` examples."""
    if isinstance(x, StoredExamples):
        return x[:limit].to_array()
    return x
