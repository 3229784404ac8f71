"""Long-format sequence tables (one row per step) pivoted to padded arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_contracts.profile import numeric_values
from tasks.errors import DataError


def long_table_to_sequences(
    table: pd.DataFrame,
    sequence_id: str,
    step: str | None,
    label: str,
    source: str = "",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pivot a long table (one row per step) to NaN-padded arrays (N, T, F).

    Every column but the id, the step and the label is a feature. Labels come
    from each series' first row; None when the label column is absent.

    Args:
        table: the table as read.
        sequence_id: the column naming each series.
        step: the column ordering the steps of a series.
        label: the label column.
        source: the file the table came from, named in errors.

    Raises:
        DataError: the id or step column is missing or has missing values,
            the table has no rows, or a series has two labels.
    """
    _check_id_and_step(table, sequence_id, step)
    if len(table) == 0:
        name = f"The long-format sequence table {source}".strip()
        raise DataError(
            f"{name} has no rows (columns "
            f"{list(table.columns)}); expected at least one series, one row per "
            f"step, named by column {sequence_id!r} and ordered by {step!r}. Point "
            "data.source at a table holding the series, or re-export it with rows."
        )
    features = [c for c in table.columns if c not in (sequence_id, step, label)]
    ordered = table.sort_values([sequence_id, step], kind="stable")
    groups = ordered.groupby(sequence_id, sort=False)
    values = numeric_values(ordered[features]).astype("float32")
    sizes = groups.size().to_numpy()
    x = np.full((len(sizes), int(sizes.max()), len(features)), np.nan, "float32")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for row, (start, size) in enumerate(zip(starts, sizes, strict=True)):
        x[row, :size] = values[start : start + size]
    if label not in table.columns:
        return x, None
    labels_per_series = groups[label].nunique(dropna=False)
    mixed = labels_per_series[labels_per_series > 1]
    if len(mixed):
        raise DataError(
            f"Series {list(mixed.index[:5])} carry more than one label in column "
            f"{label!r}; expected one label per series. Fix those rows."
        )
    return x, groups[label].first().to_numpy()


def _check_id_and_step(table: pd.DataFrame, sequence_id: str, step: str | None) -> None:
    """Both columns present, with a value in every row, or a DataError."""
    missing = [c for c in (sequence_id, step) if c not in table.columns]
    if missing:
        raise DataError(
            f"The long-format sequence table has no column(s) {missing}; its "
            f"columns are {list(table.columns)}. Set data.sequence_id and data.step "
            "to the columns naming each series and ordering its steps."
        )
    for column in (sequence_id, step):
        holes = table.index[table[column].isna()]
        if len(holes):
            raise DataError(
                f"The long-format sequence table has {len(holes)} row(s) with no "
                f"value in column {column!r} (rows {list(holes[:5])}); expected "
                "every row to name its series and its step. Fill or drop those rows."
            )
