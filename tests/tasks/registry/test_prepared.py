"""The chief's prepared run data, read back by a worker: the same splits,
preprocessing and training batches, without loading, validating or decoding."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from tasks.augment import make_datasets
from tasks.errors import ConfigError, DataError
from tasks.load import Examples, load_dataset, to_examples
from tasks.preprocess import fit_preprocessing
from tasks.registry.prepared import (
    PREPARED_DIR,
    has_prepared,
    read_prepared,
    write_prepared,
)
from tasks.registry.run_data import DataChangedError, data_fingerprint
from tasks.split import Splits, split_examples


def _image_folder(root, count=6, size=(6, 5)):
    rng = np.random.default_rng(0)
    for label in ("ant", "bee", "cat"):
        (root / label).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i:02d}.png")
    return root


def _prepare(raw, kind):
    splits = split_examples(to_examples(raw), seed=1)
    return splits, fit_preprocessing(splits.x_train, kind=kind)


def _assert_same(read, splits, preprocessing):
    assert read.membership().equals(splits.membership())
    assert data_fingerprint(read) == data_fingerprint(splits)
    assert read.labels == splits.labels and read.duplicates == splits.duplicates
    for key in ("train", "val", "test"):
        np.testing.assert_array_equal(
            getattr(read, f"y_{key}"), getattr(splits, f"y_{key}")
        )
    streams = make_datasets(read, 8, seed=3), make_datasets(splits, 8, seed=3)
    for (x, y), (x_ref, y_ref) in zip(*(s.train for s in streams), strict=True):
        np.testing.assert_array_equal(x.numpy(), x_ref.numpy())
        np.testing.assert_array_equal(y.numpy(), y_ref.numpy())


def test_an_image_folder_reads_back_as_files_without_a_decode_pass(tmp_path, caplog):
    folder = _image_folder(tmp_path / "images")
    raw = load_dataset(str(folder), kind="image")
    splits, preprocessing = _prepare(raw, "image")
    written = write_prepared(tmp_path / "run", splits, preprocessing)
    assert written == tmp_path / "run" / PREPARED_DIR
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [PREPARED_DIR]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tasks.load"):
        prepared = read_prepared(tmp_path / "run")
    assert "decoded" not in caplog.text
    read = prepared.splits
    assert read.x_train.store is None and splits.x_train.store is not None
    assert read.x_train.paths.tolist() == splits.x_train.paths.tolist()
    assert prepared.preprocessing == preprocessing and prepared.num_examples == 18
    assert prepared.report is None
    np.testing.assert_array_equal(read.x_val.to_array(), splits.x_val.to_array())
    _assert_same(read, splits, preprocessing)
    # The statistics are the chief's: the same moments, no pixels needed.
    for mine, chiefs in zip(
        read.x_train.channel_moments(), splits.x_train.channel_moments(), strict=True
    ):
        np.testing.assert_array_equal(mine, chiefs)


def test_a_worker_finds_the_folder_under_its_own_root_or_names_missing_files(
    tmp_path,
):
    raw = load_dataset(str(_image_folder(tmp_path / "chief")), kind="image")
    write_prepared(tmp_path / "run", *_prepare(raw, "image"))
    moved = (tmp_path / "chief").rename(tmp_path / "mounted")
    read = read_prepared(tmp_path / "run", image_root=moved).splits
    assert read.x_test.paths[0].startswith(str(moved) + "/")
    first = read.x_train.paths[0]  # always among the files a reader decodes
    Image.fromarray(np.zeros((6, 5, 3), dtype=np.uint8)).save(first)
    with pytest.raises(DataChangedError, match=r"image .* differs from the chief's"):
        read_prepared(tmp_path / "run", image_root=moved)
    (moved / "bee" / "03.png").unlink()
    with pytest.raises(DataError, match=r"1 of the chief's 18 image files are miss"):
        read_prepared(tmp_path / "run", image_root=moved)


def test_digits_arrays_and_a_rewrite_read_back_the_same(tmp_path):
    raw = load_dataset("sklearn:digits", kind="image")
    splits, preprocessing = _prepare(raw, "image")
    write_prepared(tmp_path, splits, preprocessing)
    write_prepared(tmp_path, splits, preprocessing)  # a chief's retry replaces it
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREPARED_DIR]
    prepared = read_prepared(tmp_path)
    assert prepared.splits.x_train.dtype == np.float32
    assert prepared.preprocessing == preprocessing
    _assert_same(prepared.splits, splits, preprocessing)


def test_texts_and_their_vocabularies_read_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    words = ["win", "cash", "now", "hello", "mum", "é€", "tea"]
    texts = [" ".join(rng.choice(words, size=5)) for _ in range(45)]
    texts[3] = "ends in a nul\x00"  # a NumPy unicode array would drop it
    examples = Examples(x=np.array(texts, dtype=object), y=np.repeat([0, 1, 2], 15))
    splits = split_examples(examples, seed=1)
    preprocessing = fit_preprocessing(splits.x_train, kind="text", max_tokens=50)
    write_prepared(tmp_path, splits, preprocessing)
    prepared = read_prepared(tmp_path)
    read = prepared.splits
    assert read.x_train.dtype == object and type(read.x_train[0]) is str
    assert sorted(np.concatenate([read.x_train, read.x_val, read.x_test])) == sorted(
        texts
    )
    assert prepared.preprocessing == preprocessing
    assert prepared.preprocessing.ngram_idf == preprocessing.ngram_idf
    _assert_same(read, splits, preprocessing)


def test_sequences_keep_their_reference_series(tmp_path):
    x = np.random.default_rng(0).normal(size=(30, 12, 2)).astype("float32")
    x[0, 9:] = np.nan  # padding
    splits = split_examples(Examples(x=x, y=np.repeat([0, 1, 2], 10)), seed=1)
    preprocessing = fit_preprocessing(splits.x_train, kind="sequence")
    write_prepared(tmp_path, splits, preprocessing)
    read = read_prepared(tmp_path)
    np.testing.assert_array_equal(
        read.preprocessing.reference_series, preprocessing.reference_series
    )
    assert read.preprocessing.input_shape == (12, 2)
    _assert_same(read.splits, splits, preprocessing)


def test_no_prepared_data_and_unkeepable_examples_are_refused(tmp_path):
    assert not has_prepared(tmp_path)
    with pytest.raises(ConfigError, match=r"holds no prepared data"):
        read_prepared(tmp_path)
    ragged = np.empty(3, dtype=object)
    ragged[:] = [np.zeros(2), np.zeros(3), np.zeros(4)]
    splits = Splits(ragged, np.zeros(3, "int64"), *(ragged[:0], np.zeros(0)) * 2, [0])
    preprocessing = fit_preprocessing(np.zeros((3, 4, 1)), kind="sequence")
    with pytest.raises(DataError, match=r"x_train as an object array.*not all str"):
        write_prepared(tmp_path, splits, preprocessing)
    assert list(tmp_path.iterdir()) == []  # the staging folder is removed
