"""`automl predict` and the `automl-predict` flow on a real published model."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image
from sklearn.datasets import load_digits
from typer.testing import CliRunner

# Imported here, not first inside CliRunner: Prefect binds its log handlers to
# the stderr of the moment it is imported, and CliRunner's closes after a call.
from flows.cli.main import app
from flows.predict import batch_predict
from tasks.readers.image_files import decode_image

DIGITS = {"source": "sklearn:digits", "kind": "image", "image_shape": [8, 8, 1]}


@pytest.fixture
def published(publish_tiny_model, tmp_path) -> tuple:
    """A digits champion in `tmp_path/registry`, and 50 unlabelled inputs."""
    digits = load_digits()
    x = digits.images.astype("float32")[..., np.newaxis]
    model, _ = publish_tiny_model("digits", x, digits.target, DIGITS)
    np.savez(tmp_path / "inputs.npz", x=digits.images[:50])
    return model, tmp_path


def _predict(output_dir: Path, *args: str):
    return CliRunner().invoke(app, ["predict", *args, "--output-dir", str(output_dir)])


@pytest.mark.parametrize("reference", ["digits", "digits:v0001"])
def test_predict_writes_one_row_per_input(published, reference):
    model, tmp_path = published
    out = tmp_path / "preds" / "out.csv"
    result = _predict(
        tmp_path, reference, str(tmp_path / "inputs.npz"), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote 50 predictions to {out}" in result.stdout
    assert "digits v0001" in result.stdout
    frame = pd.read_csv(out)
    expected = model.predict(load_digits().images[:50, ..., None], verbose=0)
    assert frame["prediction"].tolist() == expected.argmax(axis=1).tolist()
    assert list(frame.columns[:3]) == ["prediction", "probability", "p_0"]


@pytest.mark.parametrize(
    "reference, match",
    [
        ("letters", "no published version of it; published pipelines: ['digits']"),
        ("../x", "name '../x'; expected lowercase letters"),
        ("digits:../x", "version '../x'; expected 'v' and at least four digits"),
        ("digits:v0002", "not published; expected one of ['v0001']"),
    ],
)
def test_unknown_or_malformed_models_exit_2(published, reference, match):
    _, tmp_path = published
    out = tmp_path / "out.csv"
    result = _predict(
        tmp_path, reference, str(tmp_path / "inputs.npz"), "--out", str(out)
    )
    assert result.exit_code == 2
    assert match in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert not out.exists()


def test_inputs_of_the_wrong_image_shape_exit_2(published):
    _, tmp_path = published
    np.savez(tmp_path / "big.npz", x=np.zeros((3, 16, 16), "float32"))
    out = tmp_path / "out.csv"
    result = _predict(tmp_path, "digits", str(tmp_path / "big.npz"), "--out", str(out))
    assert result.exit_code == 2
    assert "shape (16, 16, 1) per example; the model expects (8, 8, 1)" in " ".join(
        result.stderr.split()
    )
    assert not out.exists()


def test_batch_predict_flow_writes_the_csv(prefect_harness, published):
    _, tmp_path = published
    result = batch_predict(
        "digits",
        str(tmp_path / "inputs.npz"),
        str(tmp_path / "flow.csv"),
        output_dir=str(tmp_path),
    )
    assert result.num_rows == 50 and result.version_dir.endswith("v0001")
    assert len(pd.read_csv(result.out_path)) == 50


def test_an_image_folder_predicts_as_the_model_does_in_process(published):
    """Files named in a `path` column, decoded as training decodes them."""
    model, tmp_path = published
    folder = tmp_path / "new-images"
    folder.mkdir()
    images = load_digits().images[:20].astype("uint8")  # 0-16: exact in a PNG
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    out = tmp_path / "folder.csv"
    result = _predict(tmp_path, "digits", str(folder), "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame["path"].tolist() == [str(folder / f"{i:02d}.png") for i in range(20)]
    decoded = np.stack(
        [decode_image(tf.constant(path), channels=1).numpy() for path in frame["path"]]
    )
    expected = model.predict(decoded.astype("float32"), verbose=0)
    probabilities = frame[[f"p_{label}" for label in range(10)]].to_numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert frame["prediction"].tolist() == expected.argmax(axis=1).tolist()
    np.testing.assert_array_equal(decoded[..., 0], images)  # no resize, no loss


def test_an_image_that_does_not_decode_exits_2(published):
    _, tmp_path = published
    folder = tmp_path / "broken-images"
    folder.mkdir()
    for i, image in enumerate(load_digits().images[:3].astype("uint8")):
        Image.fromarray(image).save(folder / f"{i}.png")
    broken = folder / "1.png"
    # Cut inside the pixel data: the header still reads, the pixels do not.
    broken.write_bytes(broken.read_bytes()[:-20])
    out = tmp_path / "broken.csv"
    result = _predict(tmp_path, "digits", str(folder), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert (
        "could not be decoded" in result.output and "automl validate" in result.output
    )
    assert not out.exists()
