"""Tables: .csv, .tsv and .parquet files, read whole or a batch of rows at a time.

`read_table` reads a table into one DataFrame; `table_batches` yields the
same rows as DataFrames of at most `rows` rows each, parsed by the same
parser with the same options (pandas' C parser for CSV and TSV, pyarrow for
Parquet), so a table streamed in batches holds the values a whole read
holds. Rows keep their position in the file as their index, across
batches. Quoted fields may hold newlines (CSV).
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa

from tasks.errors import DataError, raise_if_transient

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
BATCH_ROWS = 50_000


def read_table(path: Path) -> pd.DataFrame:
    """Read a .csv, .tsv or .parquet table as it is (the contract judges it).

    Raises:
        DataError: the file is empty, has no rows, cannot be parsed, or has
            a shape no pipeline table has (rows longer than the header,
            repeated column names, nested cells), named with the fix.
    """
    suffix = path.suffix.lower()
    with _read_errors(path, suffix):
        if suffix == ".parquet":
            _check_parquet_schema(path)
            return pd.read_parquet(path)
        # A header without rows is readable: the contract's row count reports it.
        with _longer_rows_refused():
            return pd.read_csv(path, **_delimited_options(suffix))


def table_batches(path: Path, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """The table's rows, at most `rows` at a time, as `read_table` parses them.

    A table without rows yields one empty batch (its columns). Each batch's
    index is its rows' positions in the whole table.

    Raises:
        DataError: as `read_table`, when the batch holding the problem is read.
    """
    suffix = path.suffix.lower()
    with _read_errors(path, suffix):
        if suffix == ".parquet":
            yield from _parquet_batches(path, rows)
            return
        with pd.read_csv(path, chunksize=rows, **_delimited_options(suffix)) as reader:
            while True:  # a header without rows is one empty batch
                with _longer_rows_refused():  # per batch: never across a yield
                    batch = next(reader, None)
                if batch is None:
                    return
                yield batch


def read_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only `columns` of the table, whole, parsed as `read_table` parses them."""
    suffix = path.suffix.lower()
    with _read_errors(path, suffix):
        if suffix == ".parquet":
            return pd.read_parquet(path, columns=columns)
        with _longer_rows_refused():
            return pd.read_csv(path, usecols=columns, **_delimited_options(suffix))


def _parquet_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    _check_parquet_schema(path)
    start = 0
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=rows):
        # Through a Table, so the stored pandas metadata (string dtype,
        # categories) applies as in `pd.read_parquet`; the index is positions.
        frame = pa.Table.from_batches([batch]).to_pandas()
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame
    if start == 0:
        yield parquet.schema_arrow.empty_table().to_pandas()


@contextmanager
def _read_errors(path: Path, suffix: str):
    """Reading errors as a DataError naming the file, the reason and the fix."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} is empty; expected a header row and at least one example."
        ) from None
    except pd.errors.ParserWarning:
        raise DataError(
            f"{path} has rows with more fields than its header has column "
            "names; expected one field per column. Name every column in the "
            "header, and quote fields that contain the delimiter."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise_if_transient(exc, "Reading", path)
        advice = (
            "Check that it is a complete Parquet file (re-export it)."
            if suffix == ".parquet"
            else "Check the delimiter, quoting and encoding (UTF-8)."
        )
        reason = " ".join(str(exc).split())[:300]  # one line, however long
        raise DataError(
            f"{path} could not be read as a {suffix} table ({reason}). {advice}"
        ) from None


@contextmanager
def _longer_rows_refused():
    """Rows with more fields than the header raise (`_read_errors` names them).

    By default pandas reads such a file with its first column as the index,
    shifting every value one column left; `index_col=False` makes it warn,
    and here the warning is an error.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        yield


def _delimited_options(suffix: str) -> dict:
    """pandas' options for a CSV or TSV table (see `_longer_rows_refused`)."""
    # TSV has no quoting convention: a quote is part of the text.
    quoting = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
    return {"sep": TABLE_SUFFIXES[suffix], "quoting": quoting, "index_col": False}


def _check_parquet_schema(path: Path) -> None:
    """One plain value per cell and each column name once, or a DataError.

    Repeated names and nested cells (lists, structs, maps) are refused here:
    no pipeline table has them, and pandas cannot group or compare them.
    """
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = schema.names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path} has repeated column names {repeated}; expected each column "
            "name once. Rename or drop the repeated columns."
        )
    nested = {f.name: str(f.type) for f in schema if pa.types.is_nested(f.type)}
    if nested:
        raise DataError(
            f"{path} has columns of nested values {nested}; expected one number "
            "or text per cell. Flatten them into plain columns, or drop them."
        )
