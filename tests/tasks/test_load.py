import struct
import zipfile
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.errors import DataError
from tasks.load import load_dataset, to_examples


def test_digits_are_raw_8x8x1_pixels():
    raw = load_dataset("sklearn:digits")
    assert raw.x.shape == (1797, 8, 8, 1)
    assert raw.x.max() == 16.0
    assert set(np.unique(raw.y)) == set(range(10))


def test_npz_with_x_and_y(tmp_path, tiny_images):
    x, y = tiny_images
    np.savez(tmp_path / "d.npz", x=x, y=y)
    examples = to_examples(load_dataset(str(tmp_path / "d.npz")))
    assert examples.x.shape == x.shape and examples.x_test is None


def test_npz_keeps_a_published_test_split(tmp_path, tiny_images):
    x, y = tiny_images
    labels = np.array(["a", "b", "c"])[y]
    np.savez(
        tmp_path / "d.npz", x_train=x, y_train=labels, x_test=x[:6], y_test=labels[:6]
    )
    examples = to_examples(load_dataset(str(tmp_path / "d.npz")))
    assert examples.x_test.shape == (6, 8, 8, 1)
    assert list(examples.y_test[:2]) == ["a", "a"]


def test_pixel_table_is_reshaped(tmp_path, tiny_images):
    x, y = tiny_images
    table = pd.DataFrame(x.reshape(48, -1), columns=[f"p{i}" for i in range(64)])
    table["label"] = y
    table.to_csv(tmp_path / "d.csv", index=False)
    raw = load_dataset(str(tmp_path / "d.csv"))
    examples = to_examples(raw, label="label", image_shape=[8, 8, 1])
    np.testing.assert_allclose(examples.x, x, rtol=1e-6)
    assert list(examples.y) == list(y)


def test_a_table_without_the_label_column_still_loads(tmp_path):
    pd.DataFrame({"p0": [1.0, 2.0]}).to_csv(tmp_path / "d.csv", index=False)
    raw = load_dataset(str(tmp_path / "d.csv"))
    assert list(raw.table.columns) == ["p0"]


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("d.csv", b"", "is empty"),
        ("d.npz", b"not a zip", "could not be read as an .npz"),
        ("d.json", b"{}", "unsupported format"),
    ],
)
def test_unreadable_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_dataset(str(path))


def test_missing_source_and_wrong_npz_keys(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match="only built-in dataset"):
        load_dataset("sklearn:iris")
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"expected 'x' and 'y'"):
        load_dataset(str(tmp_path / "d.npz"))


def test_mismatched_counts(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2, 2, 1)), y=np.zeros(3))
    with pytest.raises(DataError, match="4 examples but y has 3 labels"):
        to_examples(load_dataset(str(tmp_path / "d.npz")))


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"x": np.zeros(0), "y": np.array(["a"])}, "x has 0 examples but y has 1"),
        ({"x": np.float32(3.0), "y": np.array([0])}, r"'x' is a single value"),
        ({"x": np.zeros((2, 4)), "y": np.zeros((2, 3))}, r"'y' has shape \(2, 3\)"),
        (
            {
                "x_train": np.zeros((2, 4)),
                "y_train": np.zeros(2),
                "x_test": np.zeros((2, 4)),
                "y_test": np.zeros(1),
            },
            "x_test has 2 examples but y_test has 1",
        ),
    ],
)
def test_npz_arrays_that_do_not_pair_up_are_refused_at_load(tmp_path, arrays, match):
    # Regression: these reached the profile, which raised a bare ValueError.
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=match):
        load_dataset(str(tmp_path / "d.npz"))


def test_npz_of_plain_zip_members_is_refused(tmp_path):
    # Regression: np.load returns such members as bytes (AttributeError: ndim).
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x", b"1,2,3")
        archive.writestr("y", b"a")
    with pytest.raises(DataError, match=r"'x' is a plain bytes member"):
        load_dataset(str(tmp_path / "d.npz"))


def test_rows_longer_than_the_header_are_refused_not_shifted(tmp_path):
    # Regression: pandas took the first column as the index, so every value
    # moved one column left and 'label' silently held the pixel values.
    (tmp_path / "d.csv").write_text("label,p0\n0,5,7\n1,6,8\n")
    with pytest.raises(DataError, match="more fields than its header has column"):
        load_dataset(str(tmp_path / "d.csv"))


def test_parquet_with_repeated_or_nested_columns_is_refused(tmp_path):
    # Regression: nested labels crashed the contract's class count (TypeError:
    # unhashable), repeated names gave pyarrow's schema dump as the reason.
    nested = pa.table({"label": [[1], [2]], "p0": [1.0, 2.0]})
    pq.write_table(nested, tmp_path / "nested.parquet")
    with pytest.raises(DataError, match=r"nested values \{'label': 'list<"):
        load_dataset(str(tmp_path / "nested.parquet"))
    repeated = pa.Table.from_arrays(
        [pa.array([0, 1]), pa.array([1.0, 2.0]), pa.array([3.0, 4.0])],
        names=["label", "p0", "p0"],
    )
    pq.write_table(repeated, tmp_path / "repeated.parquet")
    with pytest.raises(DataError, match=r"repeated column names \['p0'\]"):
        load_dataset(str(tmp_path / "repeated.parquet"))


def test_long_table_rows_without_a_series_id_are_refused(tmp_path):
    # Regression: such rows were dropped silently, and when every id was
    # missing numpy raised "zero-size array to reduction operation".
    frame = pd.DataFrame({"sid": [0, None, 0], "t": [0, 0, 1], "a": [1.0, 2.0, 3.0]})
    frame.to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(DataError, match=r"1 row\(s\) with no value in column 'sid'"):
        load_dataset(
            str(tmp_path / "long.csv"), kind="sequence", sequence_id="sid", step="t"
        )


def test_image_claiming_a_huge_size_is_named(tmp_path):
    # Regression: PIL's DecompressionBombError is not an OSError and escaped.
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "huge.png").write_bytes(png)
    with pytest.raises(DataError, match=r"huge\.png is not a readable image"):
        load_dataset(str(tmp_path))


def test_pixel_table_examples_use_the_profiled_numbers(tmp_path):
    # Regression: dates were read as nanoseconds, so a missing date (NaT)
    # became -9.2e18 and passed the no-NaN check. Profile and examples now
    # share one reading: text numbers parsed, dates NaN.
    frame = pd.DataFrame(
        {
            "label": [0, 1],
            "p0": ["1.5", "2"],
            "p1": pd.to_datetime(["2020-01-01", None]),
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    raw = load_dataset(str(tmp_path / "d.parquet"))
    examples = to_examples(raw, image_shape=[2, 1, 1])
    np.testing.assert_array_equal(examples.x[:, 0, 0, 0], [1.5, 2.0])
    assert np.isnan(examples.x[:, 1, 0, 0]).all()
