"""A table's columns in a few numbers each, mergeable across batches of rows.

`automl contract init` declares a table's columns (type, missing values,
range) from these. A table read whole is summarised at once; one streamed
in batches is summarised a batch at a time and the summaries merged, in
the manner of TFDV's combiners (create, add a batch, merge), so a large
table's contract is written without holding the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# dtypes a whole read gives a column whose batches were read as these.
_WIDER = {frozenset({"int64", "float64"}): "float64"}


@dataclass(frozen=True)
class ColumnSummary:
    """One column: its pandas dtype, whether a value is missing, and its range.

    `minimum` and `maximum` are kept for numeric columns with a value, else
    None.
    """

    dtype: str
    has_null: bool
    minimum: object = None
    maximum: object = None


def summarise_columns(table: pd.DataFrame) -> dict[str, ColumnSummary]:
    """Each column of `table` summarised, in the table's column order."""
    summaries = {}
    for column in table.columns:
        series = table[column]
        low = high = None
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
            series
        ):
            values = series.dropna()
            if len(values):
                low, high = values.min(), values.max()
        summaries[str(column)] = ColumnSummary(
            str(series.dtype), bool(series.isna().any()), low, high
        )
    return summaries


def merge_summaries(
    first: dict[str, ColumnSummary], second: dict[str, ColumnSummary]
) -> dict[str, ColumnSummary]:
    """The summary of two batches of one table (same columns), as of one read.

    A column read as integers in one batch and as floats in another (a
    missing value there) is a float column, as a whole read makes it; other
    disagreements make it an `object` column.
    """
    merged = {}
    for name, one in first.items():
        other = second[name]
        if one.dtype == other.dtype:
            dtype = one.dtype
        else:
            dtype = _WIDER.get(frozenset({one.dtype, other.dtype}), "object")
        merged[name] = ColumnSummary(
            dtype,
            one.has_null or other.has_null,
            _pick(min, one.minimum, other.minimum) if dtype != "object" else None,
            _pick(max, one.maximum, other.maximum) if dtype != "object" else None,
        )
    return merged


def _pick(choose, one, other):
    """`choose` of two bounds, either of which may be absent (None)."""
    present = [value for value in (one, other) if value is not None]
    return choose(present) if present else None
