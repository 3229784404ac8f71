"""Values a float32 model can hold: finite, and within `max_abs_value`.

The pipeline trains in float32, and its first layer normalises each channel
with a variance stored in float32, so a value whose square overflows float32
(1e30, say) or an infinite one breaks training late, with the wrong cause.
The contract checks it first (see `contract.FLOAT32_SAFE_MAX_ABS` for the
bound): each example's largest absolute value goes in the profile column
`magnitude` (NaN ignored, since sequences pad with NaN; infinity counts),
which Great Expectations checks like any other column, and `magnitude_at`
says where that value sits, so the report can name it: a table's column and
row, or an example and its position (there are no columns in an array).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from data_contracts.digests import as_float, as_regular_array
from data_contracts.profile import MAX, MIN, numeric_values

MAGNITUDE = "magnitude"
MAGNITUDE_AT = "magnitude_at"
_BLOCK = 1 << 22  # values per block of rows (32 MiB of float64)


def table_magnitudes(table: pd.DataFrame, label: str, limit: float) -> pd.DataFrame:
    """Each row's largest |value| over the feature columns, and where it is.

    Args:
        table: a table of numeric features (e.g. pixel columns), one example a row.
        label: the label column, left out.
        limit: values beyond it (and infinite ones) get a `magnitude_at`.

    Returns:
        A frame indexed like `table` with `magnitude` and `magnitude_at`
        ("column 'p3', row 7"; None where the row is within the limit).
    """
    features = table.drop(columns=[label], errors="ignore")
    largest, position = largest_values(numeric_values(features))
    return column_magnitudes(largest, position, features.columns, table.index, limit)


def column_magnitudes(
    largest: np.ndarray,
    position: np.ndarray,
    columns: Sequence,
    index: pd.Index,
    limit: float,
) -> pd.DataFrame:
    """`table_magnitudes` from each row's largest |value| and its column's
    position (`largest_values`), computed a batch of rows at a time."""

    def describe(i: int) -> str:
        return f"column {str(columns[position[i]])!r}, row {index[i]}"

    return _frame(largest, describe, limit, index)


def array_magnitudes(
    x: np.ndarray | Sequence[np.ndarray],
    limit: float,
    kind: str = "image",
    prefix: str = "example",
    first: int = 0,
) -> pd.DataFrame:
    """Each example's largest |value| (axis 0 over examples), and where it is.

    Args:
        x: examples, e.g. (N, 8, 8, 1) images or (N, T, F) NaN-padded series,
            or a list of arrays of differing shapes.
        limit: values beyond it (and infinite ones) get a `magnitude_at`.
        kind: `sequence` names positions as step and feature.
        prefix: how examples are named ("example", "test example").
        first: the number of `x`'s first example (a block of a larger set).

    Returns:
        A frame with one row per example: `magnitude` and `magnitude_at`
        ("example 3, step 4, feature 1"; None where within the limit).
    """
    regular = as_regular_array(x)
    if regular is not None:
        shapes = [regular.shape[1:]] * len(regular)
        width = int(np.prod(regular.shape[1:]))  # not -1: N may be 0
        largest, position = largest_values(regular.reshape(len(regular), width))
    else:
        examples = [np.asarray(example) for example in x]
        shapes = [example.shape for example in examples]
        pairs = [largest_values(e.reshape(1, -1)) for e in examples]
        largest = np.array([p[0][0] for p in pairs], dtype=float)
        position = np.array([p[1][0] for p in pairs], dtype=np.int64)

    def describe(i: int) -> str:
        where = _position(int(position[i]), shapes[i], kind)
        return f"{prefix} {first + i}, {where}"

    index = pd.RangeIndex(first, first + len(largest))
    return _frame(largest, describe, limit, index)


def extreme_magnitudes(
    minimum: np.ndarray, maximum: np.ndarray, names: Sequence[str], limit: float
) -> pd.DataFrame:
    """Each example's largest |value| from its min and max, named by `names`.

    For examples profiled while streaming, where positions are not kept: an
    example beyond the limit is named (a file's path), not its position.
    """
    largest = np.fmax(np.abs(np.asarray(minimum, float)), np.abs(maximum))
    return _frame(largest, lambda i: str(names[i]), limit, pd.RangeIndex(len(largest)))


def profile_magnitudes(frame: pd.DataFrame) -> pd.Series | None:
    """The largest finite |value| from a profile's `min`/`max` (positions unknown).

    The fallback when the raw values are not at hand: infinities are not in
    a profile's min and max (they count in `nan_count`).
    """
    if MIN not in frame.columns or MAX not in frame.columns:
        return None
    low = pd.to_numeric(frame[MIN], errors="coerce").abs()
    high = pd.to_numeric(frame[MAX], errors="coerce").abs()
    return np.fmax(low, high)


def largest_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a 2-D array: the largest |value| (NaN skipped), and its column.

    Rows go in blocks of about `_BLOCK` values, so the float copies stay small
    whatever the dataset's size.
    """
    rows, width = values.shape
    largest = np.full(rows, np.nan)
    position = np.zeros(rows, dtype=np.int64)
    if width == 0:
        return largest, position
    step = max(1, _BLOCK // width)
    for start in range(0, rows, step):
        block = np.abs(as_float(values[start : start + step]))
        block[np.isnan(block)] = -1.0
        where = block.argmax(axis=1)
        top = block[np.arange(len(block)), where]
        largest[start : start + step] = np.where(top < 0, np.nan, top)
        position[start : start + step] = where
    return largest, position


def _frame(
    largest: np.ndarray, describe: Callable[[int], str], limit: float, index: pd.Index
) -> pd.DataFrame:
    """`magnitude` for every row; `magnitude_at` only beyond the limit (few rows)."""
    where = np.full(len(largest), None, dtype=object)
    for i in np.flatnonzero(~(largest <= limit) & ~np.isnan(largest)):  # inf too
        where[i] = describe(int(i))
    at = pd.Series(where, index=index, dtype=object)  # None, not pandas' NaN
    return pd.DataFrame({MAGNITUDE: largest, MAGNITUDE_AT: at}, index=index)


def _position(flat: int, shape: tuple[int, ...], kind: str) -> str:
    """Where a flat index sits in an example: a step and feature, or an index."""
    if not shape:
        return "its only value"
    index = tuple(int(i) for i in np.unravel_index(flat, shape))
    if kind == "sequence" and len(index) == 2:
        return f"step {index[0]}, feature {index[1]}"
    if len(index) == 1:
        return f"position {index[0]}"
    return f"position {index}"
