"""Readers: tables, long-format sequences, image folders, NPZ, prediction inputs.

Examples are arrays, lists of arrays (ragged series) or `ImageFiles` (an
image folder, decoded on demand); `take_examples`, `join_examples` and
`example_digests_of` work on all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data_contracts.digests import example_digests
from tasks.readers.image_files import ImageFiles


@dataclass(frozen=True)
class Examples:
    """Arrays ready to split: inputs and original labels, maybe a kept test split."""

    x: np.ndarray | ImageFiles
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def take_examples(x: np.ndarray | Sequence | ImageFiles, where: np.ndarray):
    """The examples at positions `where`: an array, a list or image files."""
    if isinstance(x, np.ndarray | ImageFiles):
        return x[where]
    return [x[i] for i in where]


def join_examples(first, second):
    """`first`'s examples, then `second`'s, in the kind they came in."""
    if isinstance(first, ImageFiles):
        return first.join(second)
    if isinstance(first, np.ndarray) and isinstance(second, np.ndarray):
        return np.concatenate([first, second])
    return list(first) + list(second)


def example_digests_of(x) -> list[str] | np.ndarray:
    """Each example's content digest; image files carry theirs from the decode pass."""
    if isinstance(x, ImageFiles):
        return x.digests
    return example_digests(x)


def array_sample(x, limit: int = 64):
    """`x` as an array: image files decode their first `limit` examples."""
    if isinstance(x, ImageFiles):
        return x[:limit].to_array()
    return x
