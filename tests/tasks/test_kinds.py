"""Sequences and texts through load, validate, preprocess and augment."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from data_contracts import ContractViolation, default_contract
from tasks.augment import build_augmenter
from tasks.errors import DataError
from tasks.load import load_dataset, to_examples
from tasks.preprocess import fit_preprocessing
from tasks.validate import profile_raw, validate_data


def _padded_sequences() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 12, 3)).astype("float32")
    x[::2, 8:] = np.nan  # every other series is 8 steps long
    return x, np.repeat(["up", "down", "flat"], 8)


def test_nan_padding_is_not_missing_data(tmp_path):
    x, y = _padded_sequences()
    np.savez(tmp_path / "s.npz", x=x, y=y)
    raw = load_dataset(str(tmp_path / "s.npz"), kind="sequence")
    profile = profile_raw(raw)
    assert profile["length"].tolist()[:2] == [8, 12]
    assert profile["nan_count"].sum() == 0
    contract = default_contract("s", "sequence")
    validate_data(raw, contract, tmp_path / "docs")
    x[1, 3, 0] = np.nan  # a hole inside a series is missing data
    np.savez(tmp_path / "s.npz", x=x, y=y)
    raw = load_dataset(str(tmp_path / "s.npz"), kind="sequence")
    with pytest.raises(ContractViolation, match="nan_count"):
        validate_data(raw, contract, tmp_path / "docs")


def test_univariate_series_get_a_feature_axis(tmp_path):
    np.savez(tmp_path / "u.npz", x=np.zeros((4, 10)), y=np.array([0, 1, 0, 1]))
    raw = load_dataset(str(tmp_path / "u.npz"), kind="sequence")
    assert raw.x.shape == (4, 10, 1)


def test_long_format_table_becomes_padded_sequences(tmp_path):
    rows = [
        {"series": s, "t": t, "a": float(t), "b": -float(t), "label": s % 2}
        for s in range(4)
        for t in range(3 + s)
    ]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # any row order
    frame.to_csv(tmp_path / "long.csv", index=False)
    raw = load_dataset(
        str(tmp_path / "long.csv"), kind="sequence", sequence_id="series", step="t"
    )
    assert raw.x.shape == (4, 6, 2)
    np.testing.assert_array_equal(raw.x[0, :3, 0], [0.0, 1.0, 2.0])
    assert np.isnan(raw.x[0, 3:]).all()
    assert raw.y.tolist() == [0, 1, 0, 1]
    with pytest.raises(DataError, match=r"no column\(s\) \['step'\]"):
        load_dataset(
            str(tmp_path / "long.csv"),
            kind="sequence",
            sequence_id="series",
            step="step",
        )


def test_text_table_profile_and_examples(tmp_path):
    frame = pd.DataFrame(
        {
            "msg": ["win cash now", "see you at 5", None, "free prize"],
            "y": ["spam", "ham", "ham", "spam"],
        }
    )
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    raw = load_dataset(str(tmp_path / "t.tsv"), kind="text", label="y")
    profile = profile_raw(raw, label="y", text_column="msg")
    assert profile["nan_count"].tolist() == [0, 0, 1, 0]
    with pytest.raises(ContractViolation, match="nan_count"):
        validate_data(
            raw,
            default_contract("t", "text", label="y"),
            tmp_path / "d",
            label="y",
            text_column="msg",
        )
    with pytest.raises(ContractViolation, match="expect_column_to_exist on 'body'"):
        validate_data(
            raw,
            default_contract("t", "text", label="y", text_column="body"),
            None,
            label="y",
            text_column="body",
        )


def test_tsv_quotes_are_text(tmp_path):
    (tmp_path / "q.tsv").write_text('label\ttext\nham\t"quoted\nspam\tplain "x"\n')
    raw = load_dataset(str(tmp_path / "q.tsv"), kind="text")
    examples = to_examples(raw)
    assert examples.x.tolist() == ['"quoted', 'plain "x"']


def test_text_preprocessing_learns_a_vocabulary_from_train():
    texts = np.array(["free cash", "free prize now", "lunch at noon"], dtype=object)
    prep = fit_preprocessing(texts, kind="text", max_tokens=100, text_length=4)
    assert prep.vocabulary[0] == "free"
    assert prep.input_spec.shape == (4,)
    assert prep.input_spec.vocab_size == len(prep.vocabulary) + 2
    ids = prep.layer()(tf.constant(["free lunch zebra"])).numpy()
    assert ids[0, 0] == 2 and ids[0, 2] == 1 and ids[0, 3] == 0  # word, OOV, pad


def test_image_folder_is_read_and_resized(tmp_path):
    for label, value in [("cat", 30), ("dog", 200)]:
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("L", (10 + i, 12), color=value).save(
                tmp_path / label / f"{i}.png"
            )
    raw = load_dataset(str(tmp_path), kind="image", image_size=[8, 8])
    assert raw.x.shape == (6, 8, 8, 1) and raw.y.tolist()[:1] == ["cat"]
    assert raw.x.to_array()[0].max() == 30 and raw.x.to_array()[-1].min() == 200
    ragged = load_dataset(str(tmp_path), kind="image")
    assert ragged.x.size is None  # the contract's shape check reports it:
    assert profile_raw(ragged)["shape"].tolist()[:3] == [
        "12x10x1",
        "12x11x1",
        "12x12x1",
    ]
    (tmp_path / "dog" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataError, match="bad.png is not a readable image"):
        load_dataset(str(tmp_path), kind="image", image_size=[8, 8])


def test_sequence_augmentation_keeps_padding_and_changes_values():
    x, _ = _padded_sequences()
    augment = build_augmenter(
        "sequence", jitter=0.1, scaling=0.1, feature_std=[1.0, 1.0, 1.0], seed=1
    )
    out = augment(tf.constant(x)).numpy()
    assert np.isnan(out[0, 8:]).all()
    assert not np.allclose(out[1], x[1])
    shifted = build_augmenter("sequence", shift=0.25, seed=2)(tf.constant(x)).numpy()
    assert shifted.shape == x.shape


def test_token_dropout_drops_words():
    augment = build_augmenter("text", token_dropout=0.5, seed=0)
    texts = tf.constant(["a b c d e f g h i j k l m n o p"])
    kept = augment(texts).numpy()[0].decode().split()
    assert 0 < len(kept) < 16
    assert build_augmenter("text") is None
