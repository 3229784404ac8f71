import numpy as np
import pandas as pd
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
        ("d.csv", b"a,b\n", "no rows"),
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
