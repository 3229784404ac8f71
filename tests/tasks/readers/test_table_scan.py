"""Tables read a batch of rows at a time give what a whole read gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_contracts import ContractViolation, default_contract
from data_contracts.contract import ColumnSpec
from tasks.augment import make_datasets
from tasks.errors import DataError
from tasks.load import RawData, load_dataset, to_examples
from tasks.preprocess import fit_preprocessing
from tasks.readers.array_rows import ArrayRows
from tasks.readers.long_series import read_long_series
from tasks.readers.sequences import long_table_to_sequences
from tasks.readers.table_scan import scan_table
from tasks.readers.tables import read_table, table_batches
from tasks.registry.prepared import read_prepared, write_prepared
from tasks.split import split_examples
from tasks.validate import bootstrap_contract, validate_data

ROWS = 7  # rows per batch: every table below spans several batches


def _texts(rows: int = 30) -> pd.DataFrame:
    """Texts with quoted newlines, a duplicate, a missing one; labels that
    read as numbers in the first batches and as words in the last."""
    texts = [f"message {i}\nsecond line, with a comma" for i in range(rows)]
    texts[5] = texts[4]  # a duplicate
    labels = [str(i % 2) for i in range(rows)]
    labels[-1] = "spam"
    frame = pd.DataFrame({"id": range(rows), "label": labels, "text": texts})
    frame.loc[9, "text"] = None
    return frame


def _report(raw: RawData, contract, **options):
    try:
        return validate_data(raw, contract, None, **options)
    except ContractViolation as violation:
        return violation.report


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_streamed_text_table_profiles_validates_and_trains_as_a_whole_read(
    tmp_path, suffix
):
    path = tmp_path / f"texts{suffix}"
    table = _texts()
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)
    whole = RawData(str(path), "text", table=read_table(path))
    streamed = RawData(str(path), "text", scanned=scan_table(path, "text", rows=ROWS))
    assert len(list(table_batches(path, ROWS))) == 5
    contract = default_contract("t", "text", text_column="text").model_copy(
        update={
            "columns": {
                "text": ColumnSpec(nullable=False),
                "id": ColumnSpec(max_value=20),
            }
        }
    )
    reports = [_report(raw, contract) for raw in (whole, streamed)]
    assert reports[0] == reports[1]
    found = {o.column: o.observed for o in reports[1].outcomes}
    assert found["id"] == "9 of 30 rows unexpected"  # counted over every batch
    assert found["text"] == "1 of 30 rows unexpected"
    examples = [to_examples(raw) for raw in (whole, streamed)]
    assert pd.Series(examples[1].x).equals(pd.Series(examples[0].x))  # NaN too
    assert examples[1].y.tolist() == examples[0].y.tolist()
    assert examples[1].y[0] == "0"  # strings, as the whole read parsed them
    assert bootstrap_contract(whole, "t", text_column="text") == bootstrap_contract(
        streamed, "t", text_column="text"
    )


def test_a_streamed_pixel_table_names_a_huge_value_and_keeps_float32_pixels(
    tmp_path,
):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(40, 12)).astype(float)
    pixels[33, 5] = 1e39  # beyond float32, in the fifth batch
    table = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(12)])
    table.insert(0, "label", np.arange(40) % 3)
    path = tmp_path / "pixels.csv"
    table.to_csv(path, index=False)
    options = {"image_shape": [2, 2, 3]}
    whole = RawData(str(path), "image", table=read_table(path))
    streamed = RawData(
        str(path), "image", scanned=scan_table(path, "image", rows=ROWS, **options)
    )
    contract = default_contract("p", "image", example_shape=[2, 2, 3])
    reports = [_report(raw, contract, **options) for raw in (whole, streamed)]
    assert reports[0] == reports[1]
    assert not reports[1].success
    assert any("column 'p5', row 33" in str(o) for o in reports[1].outcomes)
    examples = [to_examples(raw, **options) for raw in (whole, streamed)]
    np.testing.assert_array_equal(examples[0].x, examples[1].x)
    assert examples[1].x.dtype == np.float32 and examples[1].x.shape == (40, 2, 2, 3)


def test_long_series_read_in_batches_equal_the_whole_tables_pivot(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for series in range(6):
        for step in range(3 + series):
            rows.append((f"s{series}", step, series % 2, *rng.normal(size=2)))
    frame = pd.DataFrame(rows, columns=["sid", "t", "label", "a", "b"])
    frame = frame.sample(frac=1.0, random_state=0)  # steps spread over batches
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    x, y = long_table_to_sequences(read_table(path), "sid", "t", "label")
    streamed_x, streamed_y = read_long_series(path, "sid", "t", "label", rows=ROWS)
    np.testing.assert_array_equal(streamed_x, x)
    assert streamed_y.tolist() == y.tolist()
    assert x.shape == (6, 8, 2)


def test_load_dataset_streams_a_table_larger_than_its_budget(tmp_path):
    path = tmp_path / "texts.tsv"  # TSV has no quoting: no newlines in texts
    table = _texts()
    table["text"] = table["text"].str.replace("\n", " ")
    table.to_csv(path, index=False, sep="\t")
    small = load_dataset(str(path), kind="text")
    streamed = load_dataset(str(path), kind="text", cache_megabytes=0)
    assert small.table is not None and streamed.scanned is not None
    assert streamed.num_rows == small.num_rows == 30
    assert to_examples(streamed).x.tolist() == to_examples(small).x.tolist()
    unkept = load_dataset(
        str(path), kind="text", cache_megabytes=0, keep_examples=False
    )
    assert unkept.scanned.x is None and unkept.scanned.profile is not None


def test_a_bad_row_in_a_later_batch_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    lines = ["label,text"] + [f"{i % 2},ok {i}" for i in range(20)] + ["1,a,b"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="Expected 2 fields in line 22, saw 3"):
        read_table(path)
    with pytest.raises(DataError, match="Expected 2 fields in line 22, saw 3"):
        scan_table(path, "text", rows=ROWS)


def _pixel_table(path, rows: int = 40):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 17, size=(rows, 12)).astype(float)
    pixels[3] = pixels[2]  # a duplicate
    table = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(12)])
    table.insert(0, "label", np.arange(rows) % 3)
    table.to_csv(path, index=False)


def test_pixels_over_the_budget_go_to_a_row_file_and_train_as_the_array(tmp_path):
    path = tmp_path / "pixels.csv"
    _pixel_table(path)
    options = {"image_shape": [2, 2, 3]}
    held = scan_table(path, "image", rows=ROWS, **options)
    filed = scan_table(path, "image", rows=ROWS, cache_bytes=500, **options)
    assert isinstance(held.x, np.ndarray) and isinstance(filed.x, ArrayRows)
    np.testing.assert_array_equal(filed.x.to_array(), held.x)
    pair = [
        split_examples(to_examples(RawData(str(path), "image", scanned=s), **options))
        for s in (held, filed)
    ]
    assert pair[0].membership().equals(pair[1].membership())
    assert pair[1].duplicates == pair[0].duplicates == 1
    batches = [
        [b[0].numpy() for b in make_datasets(p, batch_size=8, seed=3).train]
        for p in pair
    ]
    for held_batch, filed_batch in zip(*batches, strict=True):
        np.testing.assert_array_equal(held_batch, filed_batch)
    moments = [fit_preprocessing(p.x_train, kind="image") for p in pair]
    np.testing.assert_allclose(moments[1].mean, moments[0].mean, rtol=1e-12)
    np.testing.assert_allclose(moments[1].variance, moments[0].variance, rtol=1e-9)


def test_long_series_over_the_budget_profile_and_read_back_as_the_array(tmp_path):
    rng = np.random.default_rng(3)
    rows = [
        (f"s{s}", t, s % 2, *rng.normal(size=2)) for s in range(9) for t in range(2 + s)
    ]
    frame = pd.DataFrame(rows, columns=["sid", "t", "label", "a", "b"])
    frame.loc[7, "a"] = 1e39  # beyond float32: the contract names where
    path = tmp_path / "long.csv"
    frame.sample(frac=1.0, random_state=1).to_csv(path, index=False)
    held_x, held_y = read_long_series(path, "sid", "t", "label", rows=ROWS)
    held = RawData(str(path), "sequence", x=held_x, y=held_y)
    filed_x, filed_y = read_long_series(
        path, "sid", "t", "label", rows=ROWS, cache_bytes=100
    )
    assert isinstance(filed_x, ArrayRows)
    np.testing.assert_array_equal(filed_x.to_array(), held.x)
    filed = RawData(str(path), "sequence", x=filed_x, y=filed_y)
    contract = default_contract("s", "sequence")
    reports = [_report(raw, contract) for raw in (held, filed)]
    assert reports[0] == reports[1] and not reports[1].success


def test_prepared_run_data_keeps_a_row_file(tmp_path):
    path = tmp_path / "pixels.csv"
    _pixel_table(path)
    options = {"image_shape": [2, 2, 3]}
    scanned = scan_table(path, "image", rows=ROWS, cache_bytes=0, **options)
    splits = split_examples(to_examples(RawData(str(path), "image", scanned=scanned)))
    preprocessing = fit_preprocessing(splits.x_train, kind="image")
    write_prepared(tmp_path / "run", splits, preprocessing, None)
    read = read_prepared(tmp_path / "run").splits
    assert isinstance(read.x_test, ArrayRows)
    np.testing.assert_array_equal(read.x_test.to_array(), splits.x_test.to_array())
    assert read.membership().equals(splits.membership())


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_header_without_rows_is_one_empty_batch(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    empty = pd.DataFrame({"label": pd.Series(dtype="int64"), "text": []})
    empty.to_csv(path, index=False) if suffix == ".csv" else empty.to_parquet(path)
    batches = list(table_batches(path, ROWS))
    assert [list(b.columns) for b in batches] == [["label", "text"]]
    assert len(batches[0]) == 0
    assert len(scan_table(path, "text", rows=ROWS)) == 0


def test_streamed_long_series_name_a_series_with_two_labels_by_its_id(tmp_path):
    frame = pd.DataFrame(
        {
            "sid": ["b"] * 4 + ["a"] * 4 + ["c"] * 4,
            "t": [0, 1, 2, 3] * 3,
            "label": ["x"] * 4 + ["y", "y", "z", "y"] + ["x"] * 4,
            "v": np.arange(12.0),
        }
    )
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"Series \['a'\] carry more than one label"):
        read_long_series(path, "sid", "t", "label", rows=ROWS)
    with pytest.raises(DataError, match=r"Series \['a'\] carry more than one label"):
        long_table_to_sequences(read_table(path), "sid", "t", "label")
