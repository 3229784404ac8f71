"""Long-format sequence tables pivoted to NaN-padded (N, T, F) arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli.main import app
from tasks.errors import DataError
from tasks.readers.sequences import long_table_to_sequences


def test_series_are_ordered_padded_and_labelled_by_their_first_row():
    table = pd.DataFrame(
        {
            "sid": ["b", "a", "a", "b", "a"],
            "t": [0, 1, 0, 1, 2],
            "label": ["down", "up", "up", "down", "up"],
            "f": [10.0, 2.0, 1.0, 20.0, 3.0],
        }
    )
    x, y = long_table_to_sequences(table, "sid", "t", "label")
    assert x.shape == (2, 3, 1)
    np.testing.assert_array_equal(x[0, :, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x[1, :2, 0], [10.0, 20.0])
    assert np.isnan(x[1, 2, 0])
    assert list(y) == ["up", "down"]


def test_without_the_label_column_labels_are_none():
    table = pd.DataFrame({"sid": [0, 0], "t": [0, 1], "f": [1.0, 2.0]})
    x, y = long_table_to_sequences(table, "sid", "t", "label")
    assert x.shape == (1, 2, 1) and y is None


@pytest.mark.parametrize(
    "columns",
    [
        {"sid": [], "t": [], "label": []},  # no types at all, as Parquet's nulls
        {
            "sid": pd.Series([], dtype="int64"),
            "t": pd.Series([], dtype="int64"),
            "f": pd.Series([], dtype="float64"),
        },
    ],
    ids=["untyped", "typed"],
)
def test_a_table_without_rows_is_a_data_error(columns):
    # Regression: numpy raised "zero-size array to reduction operation maximum".
    table = pd.DataFrame(columns)
    with pytest.raises(DataError) as error:
        long_table_to_sequences(table, "sid", "t", "label", source="long.csv")
    message = str(error.value)
    assert message.startswith("The long-format sequence table long.csv has no rows")
    assert "expected at least one series" in message
    assert "'sid'" in message and "'t'" in message and "data.source" in message


def test_missing_columns_are_named_before_the_row_count():
    table = pd.DataFrame({"sid": [], "label": []})
    with pytest.raises(DataError, match=r"no column\(s\) \['t'\]"):
        long_table_to_sequences(table, "sid", "t", "label")


def test_a_series_with_two_labels_is_refused():
    table = pd.DataFrame({"sid": [0, 0], "t": [0, 1], "label": ["a", "b"]})
    with pytest.raises(DataError, match=r"Series \[0\] carry more than one label"):
        long_table_to_sequences(table, "sid", "t", "label")


def test_the_cli_reports_a_table_without_rows_as_unreadable_data(tmp_path):
    # What a user sees: one paragraph and exit code 2 (unreadable data), as
    # for every DataError; `validate` runs the same loader as `run`.
    path = tmp_path / "long.parquet"
    pq.write_table(pa.Table.from_arrays([pa.nulls(0)] * 3, ["label", "sid", "t"]), path)
    data = {"source": str(path), "kind": "sequence", "sequence_id": "sid", "step": "t"}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"name": "empty", "data": data}))

    result = CliRunner().invoke(app, ["validate", str(config)])

    assert result.exit_code == 2, result.output
    error = " ".join(result.stderr.split())
    assert error.startswith(f"error: The long-format sequence table {path} has no")
    assert "Traceback" not in result.output
