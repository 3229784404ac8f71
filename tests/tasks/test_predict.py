"""Batch prediction with real published models: digits, texts, padded series."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from tasks.errors import DataError, ModelReferenceError, RegistryError
from tasks.predict import (
    parse_model_reference,
    predict_batch,
    resolve_version,
    write_predictions,
)

DIGITS = {"source": "sklearn:digits", "kind": "image", "image_shape": [8, 8, 1]}


@pytest.fixture
def digits_version(publish_tiny_model):
    """A digits model published as v0001 (the champion); its model and folder."""
    digits = load_digits()
    x = digits.images.astype("float32")[..., np.newaxis]
    return publish_tiny_model("digits", x, digits.target, DIGITS)


def test_digits_npz_without_labels_predicts_like_the_model(digits_version, tmp_path):
    model, version_dir = digits_version
    x = load_digits().images[:1000]  # (N, 8, 8): no channel axis, no y
    np.savez(tmp_path / "inputs.npz", x=x)
    frame = predict_batch(version_dir, tmp_path / "inputs.npz")
    expected = model.predict(x[..., np.newaxis].astype("float32"), verbose=0)
    assert list(frame.columns) == ["prediction", "probability"] + [
        f"p_{digit}" for digit in range(10)
    ]
    assert len(frame) == 1000
    assert frame["prediction"].tolist() == expected.argmax(axis=1).tolist()
    probabilities = frame[[f"p_{digit}" for digit in range(10)]].to_numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    np.testing.assert_allclose(frame["probability"], expected.max(axis=1), atol=1e-6)


def test_text_table_without_label_column_names_original_labels(
    publish_tiny_model, tmp_path
):
    texts = np.array(["win cash now", "see you at lunch", "market report"] * 4, object)
    labels = np.array(["spam", "ham", "news"] * 4)
    data = {"source": "texts.csv", "kind": "text", "text_column": "body"}
    model, version_dir = publish_tiny_model("texts", texts, labels, data)
    pd.DataFrame({"body": ["free cash prize", "lunch later?"]}).to_csv(
        tmp_path / "new.csv", index=False
    )
    frame = predict_batch(version_dir, tmp_path / "new.csv", kind="text")
    assert list(frame.columns)[2:] == ["p_ham", "p_news", "p_spam"]
    new = np.array(["free cash prize", "lunch later?"], object)
    expected = model.predict(new, verbose=0)
    names = np.array(["ham", "news", "spam"])
    assert frame["prediction"].tolist() == names[expected.argmax(axis=1)].tolist()


def test_texts_stored_as_bytes_are_decoded_not_quoted(publish_tiny_model, tmp_path):
    texts = np.array(["win cash now", "see you at lunch", "market report"] * 4, object)
    labels = np.array(["spam", "ham", "news"] * 4)
    data = {"source": "texts.csv", "kind": "text", "text_column": "body"}
    model, version_dir = publish_tiny_model("texts", texts, labels, data)
    new = np.array(["free cash prize", "lunch later?"], object)
    np.savez(tmp_path / "new.npz", x=np.array([t.encode() for t in new]))  # dtype S
    frame = predict_batch(version_dir, tmp_path / "new.npz", kind="text")
    expected = model.predict(new, verbose=0)
    np.testing.assert_allclose(frame["probability"], expected.max(axis=1), atol=1e-6)


def test_short_series_get_the_pipelines_nan_padding(publish_tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 10, 2)).astype("float32")
    data = {"source": "series.npz", "kind": "sequence"}
    model, version_dir = publish_tiny_model("series", x, np.arange(12) % 3, data)
    np.savez(tmp_path / "short.npz", x=x[:4, :7])
    frame = predict_batch(version_dir, tmp_path / "short.npz")
    padded = np.full((4, 10, 2), np.nan, "float32")
    padded[:, :7] = x[:4, :7]
    expected = model.predict(padded, verbose=0)
    assert np.isfinite(frame[["p_0", "p_1", "p_2"]].to_numpy()).all()
    np.testing.assert_allclose(frame[["p_0", "p_1", "p_2"]], expected, atol=1e-6)


def test_wrong_image_shape_names_the_expected_shape(digits_version, tmp_path):
    _, version_dir = digits_version
    np.savez(tmp_path / "big.npz", x=np.zeros((3, 9, 9), "float32"))
    with pytest.raises(DataError, match=r"shape \(9, 9, 1\).*expects \(8, 8, 1\)"):
        predict_batch(version_dir, tmp_path / "big.npz")


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"images": np.zeros((2, 8, 8))}, r"holds the arrays \['images'\].*'x'"),
        ({"x": np.array(["a", "b"])}, "holds <U1 values.*numbers of shape"),
        ({"x": np.full((2, 8, 8), np.nan)}, r"2 image\(s\) with missing"),
        ({"x": np.zeros((0, 8, 8))}, "holds no examples"),
    ],
)
def test_inputs_the_model_cannot_take_are_data_errors(
    digits_version, tmp_path, arrays, match
):
    _, version_dir = digits_version
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        predict_batch(version_dir, tmp_path / "bad.npz")


def test_pixel_table_may_omit_the_label_column(digits_version, tmp_path):
    model, version_dir = digits_version
    pixels = load_digits().data[:5]
    pd.DataFrame(pixels, columns=[f"px{i}" for i in range(64)]).to_csv(
        tmp_path / "pixels.csv", index=False
    )
    frame = predict_batch(version_dir, tmp_path / "pixels.csv")
    expected = model.predict(pixels.reshape(-1, 8, 8, 1), verbose=0)
    assert frame["prediction"].tolist() == expected.argmax(axis=1).tolist()
    pd.DataFrame(pixels[:, :60]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match="has 60 pixel columns; expected 64"):
        predict_batch(version_dir, tmp_path / "short.csv")


def test_a_kind_other_than_the_models_is_refused(digits_version, tmp_path):
    _, version_dir = digits_version
    with pytest.raises(DataError, match="holds a image model"):
        predict_batch(version_dir, "sklearn:digits", kind="text")


def test_resolve_version_finds_the_champion_or_the_version_asked(digits_version):
    _, version_dir = digits_version
    registry = version_dir.parent.parent
    assert resolve_version(registry, "digits") == version_dir
    assert resolve_version(registry, "digits", "v0001") == version_dir
    assert parse_model_reference("digits:v0001") == ("digits", "v0001")
    assert parse_model_reference("digits") == ("digits", None)


@pytest.mark.parametrize(
    "name, version, match",
    [
        ("../digits", None, r"name '../digits'; expected lowercase"),
        ("digits", "../v0001", r"version '../v0001'; expected 'v' and at least"),
        ("digits", "v1", "version 'v1'"),
        (
            "letters",
            None,
            r"no published version of it; published pipelines: \['digits'\]",
        ),
        ("digits", "v0009", r"not published; expected one of \['v0001'\]"),
    ],
)
def test_bad_references_are_refused(digits_version, name, version, match):
    registry = digits_version[1].parent.parent
    with pytest.raises(ModelReferenceError, match=match) as caught:
        resolve_version(registry, name, version)
    assert isinstance(caught.value, RegistryError) and caught.value.exit_code == 2


def test_a_damaged_version_is_a_registry_error(digits_version, tmp_path):
    _, version_dir = digits_version
    (version_dir / "metrics.json").write_text(json.dumps({"labels": [0, 1]}))
    with pytest.raises(RegistryError, match="expected 10, one per model output"):
        predict_batch(version_dir, "sklearn:digits")


def test_write_predictions_replaces_the_file_atomically(tmp_path):
    out = tmp_path / "out" / "p.csv"
    write_predictions(pd.DataFrame({"prediction": [1, 2]}), out)
    write_predictions(pd.DataFrame({"prediction": [3]}), out)
    assert pd.read_csv(out)["prediction"].tolist() == [3]
    assert [p.name for p in out.parent.iterdir()] == ["p.csv"]
