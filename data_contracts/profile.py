"""Per-example profile tables: one row per example, so one GE suite fits any kind.

Columns: the label (when known), `shape` ("8x8x1"), `min`, `max`, `mean`
(NaN-ignoring; NaN when every value is NaN), `nan_count` (missing or
not finite: no model trains on inf) and `digest` (a hash
of the example's content, to find duplicates; `example_digests` computes
the same digests from the examples the pipeline trains on, so contract
reports and split membership agree). Sequences and texts add `length`
(valid steps; characters); sequences add `features` per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from data_contracts.digests import (
    as_float,
    as_regular_array,
    example_digests,
    row_digests,
    text_digest,
)

SHAPE = "shape"
MIN = "min"
MAX = "max"
MEAN = "mean"
NAN_COUNT = "nan_count"
LENGTH = "length"
FEATURES = "features"
DIGEST = "digest"
PROFILE_COLUMNS = (SHAPE, MIN, MAX, MEAN, NAN_COUNT)


def profile_arrays(
    x: np.ndarray | Sequence[np.ndarray],
    y: np.ndarray | Sequence | None,
    label: str = "label",
) -> pd.DataFrame:
    """Profile an array of examples (axis 0) into one row per example.

    Vectorised over the whole array. Examples of different shapes (a list of
    arrays, e.g. sequences of varying length) are profiled one by one, so a
    shape expectation can report them. Values that are not numbers count as
    NaN, so the no-NaN expectation fails with a readable message.

    Args:
        x: examples, e.g. shape (N, 8, 8, 1), or a list of N arrays.
        y: N labels, or None to leave the label column out.
        label: name of the label column.

    Returns:
        A DataFrame with N rows: label (if y is given), shape, min, max, mean,
        nan_count.

    Raises:
        ValueError: y does not have one label per example.
    """
    regular = as_regular_array(x)
    if regular is not None:
        shape = _shape_text(regular.shape[1:])
        width = int(np.prod(regular.shape[1:]))  # not -1: N may be 0
        values = as_float(regular.reshape(len(regular), width))
        profile = _profile_rows(values, [shape] * len(regular))
        profile[DIGEST] = row_digests(values)
    else:
        examples = [np.asarray(example) for example in x]
        profile = _profile_ragged(examples)
        profile[DIGEST] = example_digests(examples)
    return _with_label(profile, y, label)


def profile_statistics(
    shapes: Sequence[str],
    minimum: np.ndarray,
    maximum: np.ndarray,
    mean: np.ndarray,
    digests: Sequence[str],
    y: np.ndarray | Sequence | None,
    label: str = "label",
) -> pd.DataFrame:
    """A profile from per-example statistics computed elsewhere (no NaN).

    For examples profiled while streaming (image files, one decode pass):
    the same columns and values `profile_arrays` gives for the same pixels.
    """
    profile = pd.DataFrame(
        {
            SHAPE: np.asarray(shapes, dtype=object),
            MIN: np.asarray(minimum, dtype=float),
            MAX: np.asarray(maximum, dtype=float),
            MEAN: np.asarray(mean, dtype=float),
            NAN_COUNT: np.zeros(len(minimum), dtype=np.int64),
            DIGEST: np.asarray(digests, dtype=object),
        }
    )
    return _with_label(profile, y, label)


def profile_pixel_table(
    frame: pd.DataFrame, label: str, example_shape: list[int]
) -> pd.DataFrame:
    """Profile a table of images given as pixel columns (one row per image).

    Tolerant on purpose, so the contract reports problems instead of this
    function raising: a missing label column is left out of the profile,
    cells that are not numbers count as NaN, and a wrong number of pixel
    columns gives the shape "<n> values".

    Args:
        frame: the label column (optional) and the pixel columns.
        label: name of the label column.
        example_shape: the image shape the pixel columns should form, e.g. [8, 8, 1].

    Returns:
        A DataFrame with the same index and columns as `profile_arrays`.
    """
    values = numeric_values(frame.drop(columns=[label], errors="ignore"))
    y = frame[label] if label in frame.columns else None
    return profile_pixel_values(values, y, label, example_shape, frame.index)


def profile_pixel_values(
    values: np.ndarray,
    y: pd.Series | None,
    label: str,
    example_shape: list[int],
    index: pd.Index,
) -> pd.DataFrame:
    """`profile_pixel_table` from the table's pixel values (`numeric_values`),
    its label column (None when absent) and its row index."""
    width = values.shape[1]
    expected_width = int(np.prod(example_shape))
    shape = _shape_text(example_shape) if width == expected_width else f"{width} values"
    profile = _profile_rows(values, [shape] * len(values))
    profile[DIGEST] = row_digests(values)
    profile.index = index
    return _with_label(profile, y, label)


def numeric_values(frame: pd.DataFrame) -> np.ndarray:
    """A table's cells as a float array (rows, columns); what is not a number is NaN.

    Numbers and booleans are kept and text that spells a number ("2.5") is
    parsed; other text, missing values and other types (dates, bytes that
    are not digits) become NaN, so the no-NaN expectation reports them. The
    pipeline reads pixel and feature columns with this too, so it trains on
    exactly what the contract checked.
    """
    columns = [_numeric_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def _numeric_column(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column):  # booleans too
        return column.to_numpy(dtype=float, na_value=np.nan)
    if not (
        pd.api.types.is_object_dtype(column)
        or pd.api.types.is_string_dtype(column)
        or isinstance(column.dtype, pd.CategoricalDtype)
    ):
        return np.full(len(column), np.nan)  # dates, durations, intervals
    try:
        numbers = pd.to_numeric(column.astype(object), errors="coerce")
    except (TypeError, ValueError):  # cells of types to_numeric cannot coerce
        numbers = column.map(_number_or_nan, na_action="ignore")
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _number_or_nan(cell: object) -> float:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return np.nan


def profile_sequences(
    x: np.ndarray, y: np.ndarray | Sequence | None, label: str = "label"
) -> pd.DataFrame:
    """Profile NaN-padded sequences (N, T, F): padding is not missing data.

    Trailing steps whose features are all NaN are padding; `length` counts the
    steps before them and `nan_count` counts only NaN inside those steps.

    Args:
        x: sequences of shape (N, T, F), shorter ones NaN-padded at the end.
        y: N labels, or None to leave the label column out.
        label: name of the label column.
    """
    regular = as_regular_array(x)
    if regular is None or regular.ndim != 3:  # ragged or not (N, T, F)
        return profile_arrays(x, y, label)
    values = as_float(regular)
    steps = values.shape[1]
    empty_step = np.isnan(values).all(axis=2)  # (N, T)
    # Length = index after the last step holding any value (argmax needs T > 0).
    filled = ~empty_step
    last = steps - np.argmax(filled[:, ::-1], axis=1) if steps else 0
    length = np.where(filled.any(axis=1), last, 0)
    inside = np.arange(steps)[None, :] < length[:, None]  # (N, T)
    interior_nan = (~np.isfinite(values) & inside[:, :, None]).sum(axis=(1, 2))
    flat = values.reshape(len(values), steps * values.shape[2])  # not -1: N may be 0
    profile = _profile_rows(flat, [_shape_text(values.shape[1:])] * len(values))
    profile[NAN_COUNT] = interior_nan.astype(np.int64)
    profile[LENGTH] = length.astype(np.int64)
    profile[FEATURES] = np.int64(values.shape[2])
    profile[DIGEST] = row_digests(flat)
    return _with_label(profile, y, label)


def profile_texts(
    texts: Sequence | np.ndarray | pd.Series,
    y: np.ndarray | Sequence | None,
    label: str = "label",
) -> pd.DataFrame:
    """Profile texts: `length` in characters, `nan_count` 1 where text is missing."""
    series = pd.Series(list(texts), dtype=object)
    missing = series.map(lambda t: not isinstance(t, str))
    lengths = series.map(lambda t: len(t) if isinstance(t, str) else 0)
    profile = pd.DataFrame(
        {
            SHAPE: "text",
            LENGTH: lengths.astype(np.int64),
            NAN_COUNT: missing.astype(np.int64),
            DIGEST: series.map(text_digest),
        }
    )
    return _with_label(profile, y, label)


def _profile_ragged(examples: list[np.ndarray]) -> pd.DataFrame:
    """Profile examples of differing shapes, one at a time (the rare, slow path)."""
    rows = [
        _profile_rows(as_float(example).reshape(1, -1), [_shape_text(example.shape)])
        for example in examples
    ]
    if not rows:
        return _profile_rows(np.empty((0, 0)), [])
    return pd.concat(rows, ignore_index=True)


def _profile_rows(values: np.ndarray, shapes: list[str]) -> pd.DataFrame:
    """min/max/mean/nan_count of each row of a 2-D float array, NaN-ignoring."""
    nan_mask = ~np.isfinite(values)  # inf and overflow count as missing
    nan_count = nan_mask.sum(axis=1)
    present = values.shape[1] - nan_count
    with np.errstate(invalid="ignore", divide="ignore"):
        if values.shape[1]:
            low = np.where(nan_mask, np.inf, values).min(axis=1)
            high = np.where(nan_mask, -np.inf, values).max(axis=1)
        else:
            low = high = np.full(len(values), np.nan)
        mean = np.where(nan_mask, 0.0, values).sum(axis=1) / present
    empty = present == 0
    return pd.DataFrame(
        {
            SHAPE: shapes,
            MIN: np.where(empty, np.nan, low),
            MAX: np.where(empty, np.nan, high),
            MEAN: np.where(empty, np.nan, mean),
            NAN_COUNT: nan_count.astype(np.int64),
        }
    )


def _with_label(
    profile: pd.DataFrame, y: np.ndarray | Sequence | None, label: str
) -> pd.DataFrame:
    if y is None:
        return profile
    labels = y.array if isinstance(y, pd.Series) else np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(profile):
        raise ValueError(
            f"Received labels of shape {labels.shape} for {len(profile)} examples; "
            f"expected one label per example, shape ({len(profile)},). Pass integer "
            "or string class labels, not one-hot vectors."
        )
    profile.insert(0, label, pd.Series(labels, index=profile.index))
    return profile


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(size) for size in shape) if len(shape) else "scalar"
