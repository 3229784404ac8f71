"""Load stage: read a data source as it is, then turn it into examples.

Loading is tolerant on purpose: a table with a missing label column still
loads, so the data contract (not a loader crash) reports what is wrong.
`to_examples` runs after validation and turns the raw data into arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.profile import numeric_values
from tasks.errors import DataError
from tasks.readers import Examples
from tasks.readers.array_rows import ArrayRows
from tasks.readers.image_files import ImageFiles
from tasks.readers.image_index import index_image_folder
from tasks.readers.image_scan import CACHE_BYTES, scan_images
from tasks.readers.long_series import read_long_series
from tasks.readers.npz import read_npz
from tasks.readers.sequences import long_table_to_sequences
from tasks.readers.table_scan import ScannedTable, scan_table
from tasks.readers.tables import TABLE_SUFFIXES, read_table
from tasks.stage import stage

# Tables larger than this on disk (or than `data.cache_megabytes`, when
# smaller) are read a batch of rows at a time, never whole: a whole read
# holds the table several times over (pandas' columns, the profile, the
# contract's copy), a batched one holds the examples and one batch.
STREAM_BYTES = 64 * 2**20

SUPPORTED = (
    "sklearn:digits, a .csv, .tsv, .parquet or .npz file, or an image folder "
    "with one subfolder per class"
)


@dataclass(frozen=True)
class RawData:
    """A data source as read: a table, or arrays (maybe with a kept test split).

    `y` is None when the labels could not be found, so the contract says so.
    A table too large to read whole is `scanned` instead of a `table`.
    """

    source: str
    kind: str
    table: pd.DataFrame | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    scanned: ScannedTable | None = None

    @property
    def num_rows(self) -> int:
        if self.table is not None:
            return len(self.table)
        if self.scanned is not None:
            return len(self.scanned)
        return len(self.x) + (0 if self.x_test is None else len(self.x_test))


def load_dataset(
    source: str,
    kind: str = "image",
    label: str = "label",
    sequence_id: str | None = None,
    step: str | None = None,
    image_size: list[int] | None = None,
    cache_megabytes: float = CACHE_BYTES / 2**20,
    text_column: str = "text",
    image_shape: list[int] | None = None,
    keep_examples: bool = True,
) -> RawData:
    """Read `source` without judging its content (the contract does that).

    Args:
        source: `sklearn:digits`, a `.csv`/`.tsv`/`.parquet`/`.npz` file, or
            a folder of images with one subfolder per class.
        kind: `image`, `sequence` or `text`.
        label: the label column of tables.
        sequence_id: long-format sequence tables: the column naming each series.
        step: long-format sequence tables: the column ordering the steps.
        image_size: image folders: resize every image to (height, width).
        cache_megabytes: image folders: keep the decoded pixels in memory
            when they fit in this many MB (`tasks.readers.image_scan`);
            tables: read a batch of rows at a time when the file is larger
            than this or than `STREAM_BYTES` (`tasks.readers.table_scan`).
        text_column, image_shape: how a streamed table's examples are read
            (as `to_examples` reads them from a whole table).
        keep_examples: False: a streamed table keeps what the contract
            checks, not its examples (`automl validate`, `contract init`).

    Raises:
        DataError: the source does not exist, has an unsupported format,
            cannot be parsed, or is a long-format sequence table with no rows.
            Other empty sources load, and the contract's row count names them.
    """
    if source.startswith("sklearn:"):
        return _builtin(source, kind)
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"Data source {source!r} does not exist. Point data.source at an "
            f"existing file: {SUPPORTED}."
        )
    if path.is_dir():
        files, y = index_image_folder(path, image_size)
        files = scan_images(files, cache_bytes=int(cache_megabytes * 2**20))
        return RawData(source, kind, x=files, y=y)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = read_npz(path, kind)
        return RawData(
            str(path),
            kind,
            x=arrays.x,
            y=arrays.y,
            x_test=arrays.x_test,
            y_test=arrays.y_test,
        )
    if suffix in TABLE_SUFFIXES or suffix == ".parquet":
        cache_bytes = int(cache_megabytes * 2**20)
        streamed = path.stat().st_size > min(STREAM_BYTES, cache_bytes)
        return _table(
            source,
            kind,
            (label, sequence_id, step),
            streamed,
            cache_bytes=cache_bytes,
            text_column=text_column,
            image_shape=image_shape,
            keep_examples=keep_examples,
        )
    raise DataError(
        f"Data source {source!r} has the unsupported format {suffix or '(none)'!r}; "
        f"expected {SUPPORTED}. Convert the file, or rename it if the suffix is wrong."
    )


def _builtin(source: str, kind: str) -> RawData:
    """`sklearn:digits`, the one built-in dataset, or a DataError."""
    if source != "sklearn:digits":
        raise DataError(
            f"Received data.source {source!r}; the only built-in dataset is "
            f"'sklearn:digits'. Use it, or point data.source at {SUPPORTED}."
        )
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.images.astype("float32")[..., np.newaxis]
    return RawData(source, kind, x=x, y=digits.target.astype("int64"))


def _table(
    source: str,
    kind: str,
    columns: tuple,
    streamed: bool,
    cache_bytes: int,
    **options,
) -> RawData:
    """A table, read whole or (`streamed`) in batches by one scanning pass.

    `columns` are the label, sequence id and step columns; a long-format
    sequence table (the id is set) becomes NaN-padded series either way. A
    streamed table's numeric examples beyond `cache_bytes` go to a row file.
    """
    label, sequence_id, step = columns
    path = Path(source)
    long_format = kind == "sequence" and sequence_id is not None
    if streamed and long_format:
        x, y = read_long_series(path, sequence_id, step, label, cache_bytes=cache_bytes)
        return RawData(source, kind, x=x, y=y)
    if streamed:
        scanned = scan_table(path, kind, label, cache_bytes=cache_bytes, **options)
        return RawData(source, kind, scanned=scanned)
    table = read_table(path)
    if long_format:
        x, y = long_table_to_sequences(table, sequence_id, step, label, source)
        return RawData(source, kind, x=x, y=y)
    return RawData(source, kind, table=table)


def to_examples(
    raw: RawData,
    label: str = "label",
    text_column: str = "text",
    image_shape: list[int] | None = None,
) -> Examples:
    """Turn validated raw data into input arrays and label arrays.

    Args:
        raw: the loaded data.
        label: the label column, for tables.
        text_column: the text column, for text tables.
        image_shape: for tables of pixel columns, the (height, width, channels)
            each row is reshaped to.

    Raises:
        DataError: the table cannot become examples of its kind, or inputs
            and labels differ in number.
    """
    if raw.scanned is not None:
        return _scanned_examples(raw)
    if raw.table is not None:
        y = raw.table[label].to_numpy()
        if raw.kind == "text":
            texts = raw.table[text_column].astype(str).to_numpy(dtype=object)
            return Examples(x=texts, y=y)
        if raw.kind == "image" and image_shape is not None:
            pixels = numeric_values(raw.table.drop(columns=[label]))
            pixels = pixels.astype("float32")
            return Examples(x=pixels.reshape(-1, *image_shape), y=y)
        raise DataError(
            f"{raw.source} is a table, but the config does not say how to read "
            f"{raw.kind} examples from it. For images set data.image_shape; for "
            "sequences set data.sequence_id and data.step; for text set "
            "data.kind: text and data.text_column."
        )
    pairs = [(raw.x, raw.y, "x", "y")]
    if raw.x_test is not None:
        pairs.append((raw.x_test, raw.y_test, "x_test", "y_test"))
    for x, y, x_name, y_name in pairs:
        if len(x) != len(y):
            raise DataError(
                f"{raw.source}: {x_name} has {len(x)} examples but {y_name} has "
                f"{len(y)} labels; expected one label per example."
            )
    if isinstance(raw.x, ArrayRows):  # a large table's examples, in a file
        return Examples(x=raw.x, y=raw.y)
    if isinstance(raw.x, ImageFiles):
        if raw.x.size is None:
            raise DataError(
                f"{raw.source} holds images of different sizes; expected one "
                "size. Set data.image_size: [height, width] to resize them."
            )
        return Examples(x=raw.x, y=raw.y)
    dtype = object if raw.kind == "text" else "float32"
    return Examples(
        x=raw.x.astype(dtype),
        y=raw.y,
        x_test=None if raw.x_test is None else raw.x_test.astype(dtype),
        y_test=raw.y_test,
    )


def _scanned_examples(raw: RawData) -> Examples:
    """A streamed table's examples, kept by its pass (`load_dataset`)."""
    scanned = raw.scanned
    if scanned.x is None or scanned.y is None:
        raise DataError(
            f"{raw.source} is a table, but its {raw.kind} examples could not be "
            f"read from its columns {scanned.columns}. For images set "
            "data.image_shape (and keep only pixel columns and the label); for "
            "sequences set data.sequence_id and data.step; for text set "
            "data.kind: text and data.text_column; name the label column in "
            "data.label."
        )
    return Examples(x=scanned.x, y=scanned.y)


load_dataset_task = stage("load", retries=2, retry_delay_seconds=[1, 5])(load_dataset)
to_examples_task = stage("to-examples")(to_examples)
