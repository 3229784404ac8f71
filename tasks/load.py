"""Load stage: read a data source as it is, then turn it into examples.

Loading is tolerant on purpose: a table with a missing label column still
loads, so the data contract (not a loader crash) reports what is wrong.
`to_examples` runs after validation and turns the raw data into arrays.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import DataError
from tasks.stage import stage

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
SUPPORTED = "sklearn:digits, or a .csv, .tsv, .parquet or .npz file"


@dataclass(frozen=True)
class RawData:
    """A data source as read: a table, or arrays (with an optional kept test split)."""

    source: str
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


def load_dataset(source: str) -> RawData:
    """Read `source` without judging its content (the contract does that).

    Args:
        source: `sklearn:digits`, or a path to a `.csv`, `.tsv`, `.parquet` or
            `.npz` file.

    Raises:
        DataError: the source does not exist, has an unsupported format, or
            cannot be parsed.
    """
    if source == "sklearn:digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = digits.images.astype("float32")[..., np.newaxis]
        return RawData(source=source, x=x, y=digits.target.astype("int64"))
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
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in TABLE_SUFFIXES or suffix == ".parquet":
        return RawData(source=source, table=_read_table(path, suffix))
    raise DataError(
        f"Data source {source!r} has the unsupported format {suffix or '(none)'!r}; "
        f"expected {SUPPORTED}. Convert the file, or rename it if the suffix is wrong."
    )


def _read_table(path: Path, suffix: str) -> pd.DataFrame:
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, sep=TABLE_SUFFIXES[suffix])
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} is empty; expected a header row and at least one example."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(
            f"{path} could not be read as a {suffix} table ({exc}). "
            "Check the delimiter, quoting and encoding (UTF-8)."
        ) from None
    if table.empty:
        raise DataError(f"{path} has a header but no rows; expected examples.")
    return table


def _read_npz(path: Path) -> RawData:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"{path} could not be read as an .npz archive ({exc}). Save it with "
            "numpy.savez(path, x=..., y=...) using numeric or string arrays "
            "(object arrays need pickle, which is refused)."
        ) from None
    keys = set(arrays)
    if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        return RawData(
            source=str(path),
            x=arrays["x_train"],
            y=arrays["y_train"],
            x_test=arrays["x_test"],
            y_test=arrays["y_test"],
        )
    if {"x", "y"} <= keys:
        return RawData(source=str(path), x=arrays["x"], y=arrays["y"])
    raise DataError(
        f"{path} holds the arrays {sorted(keys)}; expected 'x' and 'y', or "
        "'x_train', 'y_train', 'x_test' and 'y_test'. Re-save it with those names."
    )


def to_examples(
    raw: RawData, label: str = "label", image_shape: list[int] | None = None
) -> Examples:
    """Turn validated raw data into input arrays and label arrays.

    Args:
        raw: the loaded data.
        label: the label column, for tables.
        image_shape: for tables of pixel columns, the (height, width, channels)
            each row is reshaped to.

    Raises:
        DataError: a table without `image_shape`, or arrays whose counts of
            inputs and labels differ.
    """
    if raw.table is not None:
        if image_shape is None:
            raise DataError(
                f"{raw.source} is a table of pixel columns, but data.image_shape "
                "is not set. Set it to [height, width, channels]."
            )
        y = raw.table[label].to_numpy()
        pixels = raw.table.drop(columns=[label]).to_numpy(dtype="float32")
        return Examples(x=pixels.reshape(-1, *image_shape), y=y)
    pairs = [(raw.x, raw.y, "x", "y")]
    if raw.x_test is not None:
        pairs.append((raw.x_test, raw.y_test, "x_test", "y_test"))
    for x, y, x_name, y_name in pairs:
        if len(x) != len(y):
            raise DataError(
                f"{raw.source}: {x_name} has {len(x)} examples but {y_name} has "
                f"{len(y)} labels; expected one label per example."
            )
    return Examples(
        x=raw.x.astype("float32"),
        y=raw.y,
        x_test=None if raw.x_test is None else raw.x_test.astype("float32"),
        y_test=raw.y_test,
    )


load_dataset_task = stage("load", retries=2, retry_delay_seconds=[1, 5])(load_dataset)
to_examples_task = stage("to-examples")(to_examples)
