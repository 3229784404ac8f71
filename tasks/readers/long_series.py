"""A long-format sequence table (one row per step) read in batches into series.

The streamed counterpart of `sequences.long_table_to_sequences`: the same
series, order, padding and labels, without holding the table. Per row only
the series' rank among the sorted ids, the step and a label code stay in
memory (`_Codes`); the feature values and the series stay while they fit
the budget, else they go to row files (`array_rows.ExampleSink`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.profile import numeric_values
from tasks.errors import DataError
from tasks.readers.array_rows import ArrayRows, ExampleSink
from tasks.readers.sequences import assemble_series, check_id_and_step
from tasks.readers.table_scan import join_parts
from tasks.readers.tables import BATCH_ROWS, read_columns, table_batches


def read_long_series(
    path: Path,
    sequence_id: str,
    step: str | None,
    label: str,
    rows: int = BATCH_ROWS,
    cache_bytes: int | None = None,
) -> tuple[np.ndarray | ArrayRows, np.ndarray | None]:
    """`long_table_to_sequences` of the table at `path`, read in batches.

    The same series, order, padding and labels as a whole read gives. Only
    the id, step and label columns stay in memory; the feature values and
    the series do while they fit in `cache_bytes` (None: always), else they
    go to row files and the series are an `ArrayRows`.

    Raises:
        DataError: as `long_table_to_sequences`.
    """
    ids, labels, step_values, dtypes = _Codes(), _Codes(), [], {}
    steps, columns = ExampleSink(cache_bytes, bare=True), []
    for batch in table_batches(path, rows):
        check_id_and_step(batch, sequence_id, step)
        columns = list(batch.columns)
        for column in (sequence_id, step, label):
            if column in batch.columns:
                dtypes.setdefault(column, set()).add(str(batch[column].dtype))
        ids.add(batch[sequence_id])
        step_values.append(batch[step].to_numpy())
        if label in batch.columns:
            labels.add(batch[label])
        features = [c for c in columns if c not in (sequence_id, step, label)]
        values = numeric_values(batch[features]).astype("float32")
        steps.add(values)
    if not step_values or not sum(map(len, step_values)):
        raise DataError(
            f"The long-format sequence table {path} has no rows (columns "
            f"{columns}); expected at least one series, one row per "
            f"step, named by column {sequence_id!r} and ordered by {step!r}. Point "
            "data.source at a table holding the series, or re-export it with rows."
        )
    drifted = [c for c, found in dtypes.items() if len(found) > 1]
    if drifted:  # batches parsed a column differently: read it as a whole read does
        whole = read_columns(path, drifted)
        if sequence_id in drifted:
            ids = _Codes().add(whole[sequence_id])
        if step in drifted:
            step_values = [whole[step].to_numpy()]
        if label in drifted:
            labels = _Codes().add(whole[label])
    # Ids by their rank among the sorted ids, labels by code: the sort and the
    # grouping a whole table's columns get, in 8 bytes a row.
    keys = {sequence_id: ids.ranks(), step: join_parts(step_values)}
    if label in columns:
        keys[label] = labels.codes()
    values = steps.finish()  # an array, or a row file read by position
    x, y = assemble_series(
        pd.DataFrame(keys),
        values,
        sequence_id,
        step,
        label,
        sink=ExampleSink(cache_bytes),
        names=ids.sorted_values(),
    )
    return x, None if y is None else labels.decode(y)


class _Codes:
    """A column's values, batch by batch, as one integer code per distinct value.

    Codes count from 0 in order of first appearance; a missing value is NaN.
    """

    def __init__(self):
        self.index: dict = {}
        self.parts: list[np.ndarray] = []

    def add(self, column: pd.Series) -> _Codes:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        known = np.array(
            [self.index.setdefault(v, len(self.index)) for v in uniques], dtype=float
        )
        mapped = known[np.maximum(codes, 0)] if len(known) else np.zeros(len(codes))
        self.parts.append(np.where(codes < 0, np.nan, mapped))
        return self

    def values(self) -> np.ndarray:
        """The distinct values, by code, in the dtype a whole column has."""
        return pd.Series(list(self.index)).to_numpy()

    def codes(self) -> np.ndarray:
        return np.concatenate(self.parts)

    def sorted_values(self) -> np.ndarray:
        return np.sort(self.values(), kind="stable")

    def ranks(self) -> np.ndarray:
        """Each row's value as its rank among the sorted distinct values."""
        rank = np.empty(len(self.index), dtype=np.int64)
        rank[pd.Series(self.values()).argsort(kind="stable").to_numpy()] = np.arange(
            len(self.index)
        )
        return rank[self.codes().astype(np.int64)]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (NaN: missing) back to the values."""
        values = self.values()
        found = ~pd.isna(codes)
        if found.all():
            return values[codes.astype(np.int64)]
        decoded = np.full(len(codes), np.nan, dtype=object)
        decoded[found] = values[codes[found].astype(np.int64)]
        return decoded
