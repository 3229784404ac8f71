"""Load stage: read a data source as it is, then turn it into examples.

Loading is tolerant on purpose: a table with a missing label column still
loads, so the data contract (not a loader crash) reports what is wrong.
`to_examples` runs after validation and turns the raw data into arrays.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.profile import numeric_values
from tasks.errors import DataError, raise_if_transient
from tasks.readers.images import read_image_folder
from tasks.readers.tables import TABLE_SUFFIXES, read_table
from tasks.stage import stage

SUPPORTED = (
    "sklearn:digits, a .csv, .tsv, .parquet or .npz file, or an image folder "
    "with one subfolder per class"
)


@dataclass(frozen=True)
class RawData:
    """A data source as read: a table, or arrays (maybe with a kept test split).

    `y` is None when the labels could not be found, so the contract says so.
    """

    source: str
    kind: str
    table: pd.DataFrame | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def num_rows(self) -> int:
        if self.table is not None:
            return len(self.table)
        return len(self.x) + (0 if self.x_test is None else len(self.x_test))


@dataclass(frozen=True)
class Examples:
    """Arrays ready to split: inputs and original labels, maybe a kept test split."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def load_dataset(
    source: str,
    kind: str = "image",
    label: str = "label",
    sequence_id: str | None = None,
    step: str | None = None,
    image_size: list[int] | None = None,
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

    Raises:
        DataError: the source does not exist, has an unsupported format, or
            cannot be parsed.
    """
    if source == "sklearn:digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = digits.images.astype("float32")[..., np.newaxis]
        return RawData(source, kind, x=x, y=digits.target.astype("int64"))
    if source.startswith("sklearn:"):
        raise DataError(
            f"Received data.source {source!r}; the only built-in dataset is "
            f"'sklearn:digits'. Use it, or point data.source at {SUPPORTED}."
        )
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"Data source {source!r} does not exist. Point data.source at an "
            f"existing file: {SUPPORTED}."
        )
    if path.is_dir():
        x, y = read_image_folder(path, image_size)
        return RawData(source, kind, x=x, y=y)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, kind)
    if suffix in TABLE_SUFFIXES or suffix == ".parquet":
        table = read_table(path)
        if kind == "sequence" and sequence_id is not None:
            x, y = long_table_to_sequences(table, sequence_id, step, label)
            return RawData(source, kind, x=x, y=y)
        return RawData(source, kind, table=table)
    raise DataError(
        f"Data source {source!r} has the unsupported format {suffix or '(none)'!r}; "
        f"expected {SUPPORTED}. Convert the file, or rename it if the suffix is wrong."
    )


# What numpy and zipfile raise for a damaged archive; zipfile reports odd
# entries (unknown compression or version, encryption) as NotImplementedError
# and RuntimeError.
BROKEN_ARCHIVE = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)


def _read_npz(path: Path, kind: str) -> RawData:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except BROKEN_ARCHIVE as exc:
        raise_if_transient(exc, "Reading", path)
        raise DataError(
            f"{path} could not be read as an .npz archive ({exc}). Save it with "
            "numpy.savez(path, x=..., y=...) using numeric or string arrays "
            "(object arrays need pickle, which is refused)."
        ) from None
    keys = set(arrays)
    if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        _check_pair(path, arrays, "x_train", "y_train")
        _check_pair(path, arrays, "x_test", "y_test")
        return RawData(
            str(path),
            kind,
            x=_with_channel_axis(arrays["x_train"], kind),
            y=arrays["y_train"],
            x_test=_with_channel_axis(arrays["x_test"], kind),
            y_test=arrays["y_test"],
        )
    if {"x", "y"} <= keys:
        _check_pair(path, arrays, "x", "y")
        x = _with_channel_axis(arrays["x"], kind)
        return RawData(str(path), kind, x=x, y=arrays["y"])
    raise DataError(
        f"{path} holds the arrays {sorted(keys)}; expected 'x' and 'y', or "
        "'x_train', 'y_train', 'x_test' and 'y_test'. Re-save it with those names."
    )


def _check_pair(path: Path, arrays: dict, x_name: str, y_name: str) -> None:
    """Inputs with an example axis and one label per example, or a DataError.

    Checked here, not left to the contract: the profile needs to pair each
    example with its label before any expectation can run.
    """
    x, y = arrays[x_name], arrays[y_name]
    for name, array in ((x_name, x), (y_name, y)):
        if not isinstance(array, np.ndarray):
            raise DataError(
                f"{path}: {name!r} is a plain {type(array).__name__} member, not "
                "a .npy array; expected arrays saved by numpy.savez. Re-save it "
                "with numpy.savez(path, x=..., y=...)."
            )
    if x.ndim == 0:
        raise DataError(
            f"{path}: {x_name!r} is a single value (shape ()); expected examples "
            f"along axis 0, shape (N, ...). Re-save {x_name!r} as an array with "
            "one example per row."
        )
    if y.ndim != 1:
        raise DataError(
            f"{path}: {y_name!r} has shape {y.shape}; expected one label per "
            f"example, shape ({len(x)},). Save integer or string class labels, "
            "not one-hot vectors or a single value."
        )
    if len(x) != len(y):
        raise DataError(
            f"{path}: {x_name} has {len(x)} examples but {y_name} has {len(y)} "
            "labels; expected one label per example. Re-save the arrays with "
            "matching lengths."
        )


def _with_channel_axis(x: np.ndarray, kind: str) -> np.ndarray:
    """Grey images (N, H, W) get a channel axis; univariate series (N, T) a feature."""
    if (kind == "image" and x.ndim == 3) or (kind == "sequence" and x.ndim == 2):
        return x[..., np.newaxis]
    return x


def long_table_to_sequences(
    table: pd.DataFrame, sequence_id: str, step: str | None, label: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pivot a long table (one row per step) to NaN-padded arrays (N, T, F).

    Every column but the id, the step and the label is a feature. Labels come
    from each series' first row; None when the label column is absent.

    Raises:
        DataError: the id or step column is missing or has missing values, or
            a series has two labels.
    """
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
    dtype = object if raw.kind == "text" else "float32"
    return Examples(
        x=raw.x.astype(dtype),
        y=raw.y,
        x_test=None if raw.x_test is None else raw.x_test.astype(dtype),
        y_test=raw.y_test,
    )


load_dataset_task = stage("load", retries=2, retry_delay_seconds=[1, 5])(load_dataset)
to_examples_task = stage("to-examples")(to_examples)
