"""Content digests: one short hash per example, equal exactly when contents are.

The profile tables' `digest` column and the split stage both come from here,
so a contract report's duplicates and the split membership agree. Arrays are
hashed after rounding to float32, the precision the pipeline trains on;
texts hash their characters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd


def example_digests(
    x: np.ndarray | Sequence[np.ndarray] | Sequence[str] | pd.Series,
) -> list[str]:
    """The profile's `digest` of each example, for any kind of data.

    The same hashes the profile tables' `digest` column holds: texts hash
    their UTF-8 characters; arrays (images, padded sequences, pixel rows,
    ragged series one by one) hash their values rounded to float32, so a
    raw float64 source and the float32 examples made from it share digests.
    Texts are 1-D arrays or series of strings (`Examples.x` of the text
    kind); everything else is read as arrays with examples along axis 0.

    Example: `example_digests(np.zeros((2, 8, 8, 1)))` gives two equal digests.
    """
    if _is_text(x):
        return [text_digest(text) for text in x]
    regular = as_regular_array(x)
    if regular is not None:
        width = int(np.prod(regular.shape[1:]))  # not -1: N may be 0
        return row_digests(as_float(regular.reshape(len(regular), width)))
    return [array_digest(as_float(np.asarray(example))) for example in x]


def row_digests(values: np.ndarray) -> list[str]:
    """A short content hash per row of a 2-D float array (NaN-safe)."""
    rows = np.ascontiguousarray(_float32_rounded(values))
    return [_digest(row.tobytes()) for row in rows]


def exact_row_digests(values: np.ndarray, threads: int = 2) -> list[str]:
    """`row_digests` of a 2-D float64 array whose values float32 holds exactly.

    The same digests without the rounding copy (8-bit pixels as float64,
    say), hashed on `threads` threads: `hashlib` releases the GIL on large
    buffers, so rows hash in parallel. Cheaper for long rows only.
    """
    rows = np.ascontiguousarray(values, dtype=np.float64)
    if threads <= 1 or len(rows) < 2 * threads:
        return [_digest(row) for row in rows]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(_digest, rows, chunksize=max(1, len(rows) // threads)))


def array_digest(values: np.ndarray) -> str:
    """The content hash of one float array of any shape."""
    return _digest(np.ascontiguousarray(_float32_rounded(values)).tobytes())


def text_digest(text: object) -> str:
    """The content hash of one text (a missing one hashes as its `str`)."""
    return _digest(str(text).encode("utf-8", "replace"))


def as_regular_array(x: np.ndarray | Sequence[np.ndarray]) -> np.ndarray | None:
    """x as one ndarray with axis 0 over examples, or None when shapes differ."""
    if isinstance(x, np.ndarray) and x.dtype != object:
        return x
    try:
        array = np.asarray(x)
    except ValueError:  # numpy refuses ragged nested lists
        return None
    if (
        array.dtype == object
        and array.ndim == 1
        and any(
            isinstance(item, np.ndarray | Sequence) and not isinstance(item, str)
            for item in array
        )
    ):
        return None
    return array


def as_float(values: np.ndarray) -> np.ndarray:
    """Values as floats; an array that is not numeric becomes all NaN."""
    if values.dtype.kind in "biuf":
        return values.astype(float, copy=False)
    if values.dtype.kind not in "OUS":
        return np.full(values.shape, np.nan)
    try:
        return values.astype(float)
    except (TypeError, ValueError):
        return np.full(values.shape, np.nan)


def _float32_rounded(values: np.ndarray) -> np.ndarray:
    """Float64 values rounded to float32: what the model sees, one digest.

    Values that float32 holds exactly (integers, anything read as float32)
    keep their bytes, so their digests are the unrounded ones. Values beyond
    float32 become infinite (the contract flags those).
    """
    with np.errstate(over="ignore"):
        return values.astype(np.float32).astype(np.float64)


def _digest(content: bytes | np.ndarray) -> str:
    return hashlib.blake2b(content, digest_size=8).hexdigest()


def _is_text(x: object) -> bool:
    """Whether `x` is a 1-D collection of strings (the text kind's examples)."""
    if isinstance(x, pd.Series):
        x = x.to_numpy(dtype=object)
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except ValueError:  # ragged nested lists: arrays, not text
            return False
    if x.ndim != 1:
        return False
    if x.dtype.kind in "US":
        return True
    return x.dtype == object and any(isinstance(item, str) for item in x)
