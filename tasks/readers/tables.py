"""Tables: .csv, .tsv and .parquet files read into a DataFrame, or a DataError."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa

from tasks.errors import DataError, raise_if_transient

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a .csv, .tsv or .parquet table as it is (the contract judges it).

    Raises:
        DataError: the file is empty, has no rows, cannot be parsed, or has
            a shape no pipeline table has (rows longer than the header,
            repeated column names, nested cells), named with the fix.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table = _read_parquet(path)
        else:
            table = _read_delimited(path, suffix)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} is empty; expected a header row and at least one example."
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
    # A header without rows is readable: the contract's row count reports it.
    return table


def _read_delimited(path: Path, suffix: str) -> pd.DataFrame:
    """A CSV/TSV table, refusing rows with more fields than the header names.

    By default pandas reads such a file with its first column as the index,
    shifting every value one column left; `index_col=False` makes it warn.
    """
    # TSV has no quoting convention: a quote is part of the text.
    quoting = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                path, sep=TABLE_SUFFIXES[suffix], quoting=quoting, index_col=False
            )
        except pd.errors.ParserWarning:
            raise DataError(
                f"{path} has rows with more fields than its header has column "
                "names; expected one field per column. Name every column in the "
                "header, and quote fields that contain the delimiter."
            ) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet table whose columns each hold one plain value per row.

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
    return pd.read_parquet(path)
