"""Long-format sequence tables (one row per step) pivoted to padded arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_contracts.digests import row_digests
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
    check_id_and_step(table, sequence_id, step)
    if len(table) == 0:
        name = f"The long-format sequence table {source}".strip()
        raise DataError(
            f"{name} has no rows (columns "
            f"{list(table.columns)}); expected at least one series, one row per "
            f"step, named by column {sequence_id!r} and ordered by {step!r}. Point "
            "data.source at a table holding the series, or re-export it with rows."
        )
    features = [c for c in table.columns if c not in (sequence_id, step, label)]
    keys = table[[c for c in (sequence_id, step, label) if c in table.columns]]
    return assemble_series(
        keys.reset_index(drop=True),
        numeric_values(table[features]).astype("float32"),
        sequence_id,
        step,
        label,
    )


def assemble_series(
    keys: pd.DataFrame,
    values: np.ndarray,
    sequence_id: str,
    step: str,
    label: str,
    sink=None,
    names: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Series (N, T, F), NaN-padded, from the rows of a long table.

    Args:
        keys: the id, step and (when present) label columns, one row per
            table row, indexed by the row's position (0 to rows - 1).
        values: the rows' feature values (rows, F), in the same order: an
            array, or anything indexed by positions (a `RowFile`).
        sequence_id, step, label: the names of those columns.
        sink: an `ExampleSink` the series go to, a block at a time (with
            their digests); None builds the array at once.
        names: when the id column holds ranks, the ids they stand for (named
            in errors).

    Returns:
        The series in the order of their sorted ids, each its rows sorted by
        step (stable), and each series' label (its first row's), or None.

    Raises:
        DataError: a series carries two labels.
    """
    ordered = keys.sort_values([sequence_id, step], kind="stable")
    order = ordered.index.to_numpy()
    groups = ordered.groupby(sequence_id, sort=False)
    sizes = groups.size().to_numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if sink is None:
        x = _padded(values, order, starts, sizes, int(sizes.max()))
    else:
        for first in range(0, len(sizes), _BLOCK):
            block = slice(first, first + _BLOCK)
            part = _padded(values, order, starts[block], sizes[block], sizes.max())
            sink.add(part, row_digests(part.reshape(len(part), -1).astype(float)))
        x = sink.finish()
    if label not in keys.columns:
        return x, None
    labels_per_series = groups[label].nunique(dropna=False)
    mixed = labels_per_series[labels_per_series > 1]
    if len(mixed):
        named = mixed.index[:5] if names is None else names[mixed.index[:5]]
        raise DataError(
            f"Series {list(named)} carry more than one label in column "
            f"{label!r}; expected one label per series. Fix those rows."
        )
    return x, groups[label].first().to_numpy()


_BLOCK = 4096  # series assembled at a time into a sink


def _padded(values, order, starts, sizes, steps: int) -> np.ndarray:
    """The series starting at `starts` (in `order`) of `sizes` rows, NaN-padded."""
    x = np.full((len(sizes), int(steps), values.shape[1]), np.nan, "float32")
    first = int(starts[0]) if len(starts) else 0
    end = int(starts[-1] + sizes[-1]) if len(starts) else 0
    rows = values[order[first:end]]  # one read for the block
    for row, (start, size) in enumerate(zip(starts, sizes, strict=True)):
        x[row, :size] = rows[start - first : start - first + size]
    return x


def check_id_and_step(table: pd.DataFrame, sequence_id: str, step: str | None) -> None:
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
