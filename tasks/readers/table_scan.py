"""One pass over a table too large to read whole: profile, labels, examples.

A table whose file is larger than 64 MB, or than the memory budget
(`data.cache_megabytes`) when that is smaller (`tasks.load.STREAM_BYTES`),
is read a batch of rows at a time (`tables.table_batches`) and never held
whole. The pass keeps per row only what later stages need: the contract's
profile row (the same columns and digests a whole read gives), the label,
each row's largest |value| and its column (pixel tables, for the magnitude
check), a mergeable summary of every column (for `automl contract init`)
and, when training follows, the example in its training form: the text, or
the float32 pixels (in a row file beyond the budget: `array_rows`). The
contract's checks of the table's own columns run over the batches again
(`ScannedTable.batches`), a batch at a time.

A long-format sequence table streams the same way into NaN-padded series
(`tasks.readers.long_series`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.columns import ColumnSummary, merge_summaries, summarise_columns
from data_contracts.magnitude import column_magnitudes, largest_values
from data_contracts.profile import numeric_values, profile_pixel_values, profile_texts
from tasks.readers.array_rows import ArrayRows, ExampleSink
from tasks.readers.tables import BATCH_ROWS, read_columns, table_batches


@dataclass(frozen=True, eq=False)
class ScannedTable:
    """What one pass over a table keeps (see the module docstring).

    Attributes:
        path: the table's file, for the column checks' second pass.
        columns: the header, in order.
        profile: one profile row per table row (None for a sequence table
            without `data.sequence_id`, which cannot be profiled).
        summaries: each column summarised (`data_contracts.columns`).
        x: the examples in training form, or None (not kept, or the table
            lacks what its kind needs).
        y: the label column's values, or None when it is absent.
        largest, position: pixel tables: each row's largest |value| and the
            position of its column among `features`.
        features: pixel tables: the columns holding values.
    """

    path: Path
    columns: list[str]
    profile: pd.DataFrame | None
    summaries: dict[str, ColumnSummary]
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    largest: np.ndarray | None = None
    position: np.ndarray | None = None
    features: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return 0 if self.profile is None else len(self.profile)

    def batches(self) -> Iterator[pd.DataFrame]:
        """The table again, a batch of rows at a time."""
        return table_batches(self.path)

    def magnitudes(self, limit: float) -> pd.DataFrame:
        """`table_magnitudes` of the whole table, from the pass's numbers."""
        if self.largest is None:
            return pd.DataFrame()
        index = pd.RangeIndex(len(self.largest))
        return column_magnitudes(
            self.largest, self.position, self.features, index, limit
        )


def scan_table(
    path: Path,
    kind: str,
    label: str = "label",
    text_column: str = "text",
    image_shape: list[int] | None = None,
    keep_examples: bool = True,
    rows: int = BATCH_ROWS,
    cache_bytes: int | None = None,
) -> ScannedTable:
    """One pass over the table at `path`, a batch of `rows` rows at a time.

    A pixel table's examples are an array while they fit in `cache_bytes`
    (None: always), else an `ArrayRows` over a row file.

    Raises:
        DataError: the table cannot be read (named, as `read_table` names it).
    """
    profiles, xs, ys, largest, position = [], [], [], [], []
    pixels = ExampleSink(cache_bytes)
    summaries, columns, dtypes = None, [], {}
    for batch in table_batches(path, rows):
        columns = [str(c) for c in batch.columns]
        for column in (label, text_column):
            if column in batch.columns:
                dtypes.setdefault(column, set()).add(str(batch[column].dtype))
        found = summarise_columns(batch)
        summaries = found if summaries is None else merge_summaries(summaries, found)
        labels = batch[label] if label in batch.columns else None
        if labels is not None:
            ys.append(labels.to_numpy())
        if kind == "text":
            profiles.append(_text_profile(batch, labels, label, text_column))
            if keep_examples and text_column in batch.columns:
                xs.append(batch[text_column].astype(str).to_numpy(dtype=object))
        elif kind != "sequence":
            values = numeric_values(batch.drop(columns=[label], errors="ignore"))
            shape = image_shape or []
            profiles.append(
                profile_pixel_values(values, labels, label, shape, batch.index)
            )
            top, where = largest_values(values)
            largest.append(top)
            position.append(where)
            if keep_examples and _fits(values, image_shape):
                with np.errstate(over="ignore"):  # the contract names such values
                    examples = values.astype("float32").reshape(-1, *image_shape)
                pixels.add(examples, profiles[-1]["digest"].to_numpy())
    if kind not in ("text", "sequence"):
        xs = [] if (kept := pixels.finish()) is None else [kept]
    y = join_parts(ys) if ys else None
    table = ScannedTable(
        path,
        columns,
        pd.concat(profiles, ignore_index=True) if profiles else None,
        summaries or {},
        x=join_parts(xs) if xs else None,
        y=y,
        largest=np.concatenate(largest) if largest else None,
        position=np.concatenate(position) if position else None,
        features=[c for c in columns if c != label],
    )
    drifted = [c for c, found in dtypes.items() if len(found) > 1]
    return _consistent(table, drifted, label, text_column, kind)


def _text_profile(
    batch: pd.DataFrame, labels: pd.Series | None, label: str, text_column: str
) -> pd.DataFrame:
    """`profile_raw`'s rows for a batch of a text table."""
    if text_column not in batch.columns:
        # The contract reports the missing column (and the label's).
        return labels.to_frame() if labels is not None else pd.DataFrame()
    return profile_texts(batch[text_column], labels, label=label)


def _fits(values: np.ndarray, image_shape: list[int] | None) -> bool:
    return image_shape is not None and values.shape[1] == int(np.prod(image_shape))


def join_parts(parts: list) -> np.ndarray | ArrayRows:
    """Per-batch arrays as one; object when batches parsed to different types."""
    if len(parts) == 1:
        return parts[0]
    if len({part.dtype.kind for part in parts}) > 1:
        parts = [part.astype(object) for part in parts]
    return np.concatenate(parts)


def _consistent(
    table: ScannedTable, drifted: list[str], label: str, text_column: str, kind: str
) -> ScannedTable:
    """`table` with its label and text columns as a whole read parses them.

    pandas infers each batch's types from its rows: a label column of digits
    in one batch and of words in another is integers, then strings, where a
    whole read makes every value a string. Such a column is read again,
    alone and whole (one column of the table in memory).
    """
    if kind != "text":
        drifted = [c for c in drifted if c == label]
    if not drifted:
        return table
    if kind == "text":  # the text profile is of both columns
        drifted = [c for c in (label, text_column) if c in table.columns]
    whole = read_columns(table.path, drifted)
    changes = {}
    if label in drifted:
        changes["y"] = whole[label].to_numpy()
    if kind == "text" and text_column in whole.columns:
        texts = whole[text_column]
        labels = whole[label] if label in whole.columns else None
        changes["profile"] = profile_texts(texts, labels, label=label)
        if table.x is not None:
            changes["x"] = texts.astype(str).to_numpy(dtype=object)
    elif label in drifted and table.profile is not None:
        profile = table.profile.copy()
        profile[label] = whole[label].to_numpy()
        changes["profile"] = profile
    return replace(table, **changes)
