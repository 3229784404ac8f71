"""Each data kind through the real flow; the published model reloads in a fresh
process with safe_mode=True and predicts from raw inputs."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline

# Each kind through the real flow and a fresh process (~40 s): `make test-slow`.
pytestmark = pytest.mark.slow

PREDICT = """
import json, sys
import numpy as np
import keras
import model_builders  # registers the custom layers (MaskNaN, PositionEmbedding)
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
data = np.load(sys.argv[2], allow_pickle=False)
x = data["x"].astype(object) if data["x"].dtype.kind == "U" else data["x"]
print(json.dumps(model.predict(x, verbose=0).tolist()))
"""


def _run(tmp_path: Path, name: str, data: dict, families=("cnn",)) -> Path:
    config = PipelineConfig(
        name=name,
        data=data,
        search={
            "families": list(families),
            "tuner": "random",
            "validation": "holdout",
            "max_trials": 1,
            "epochs": 3,
            "patience": 3,
        },
        output_dir=str(tmp_path / "out"),
    )
    result = automl_pipeline(config)
    return Path(result.publish.path)


def _predict_in_fresh_process(version: Path, x: np.ndarray, tmp_path: Path) -> list:
    """Predicted class indices from the published model, in a fresh process."""
    return _probabilities_in_fresh_process(version, x, tmp_path).argmax(axis=1).tolist()


def _probabilities_in_fresh_process(
    version: Path, x: np.ndarray, tmp_path: Path
) -> np.ndarray:
    """Class probabilities from the published model, in a fresh process."""
    np.savez(tmp_path / "inputs.npz", x=x)
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            PREDICT,
            str(version / "model.keras"),
            str(tmp_path / "inputs.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return np.array(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_text_model_predicts_raw_strings(prefect_harness, tmp_path):
    rng = np.random.default_rng(0)
    words = {
        "spam": "win cash prize free offer claim",
        "ham": "see you lunch home later",
        "news": "market report weather sport election",
    }
    rows = [
        {"text": " ".join(rng.choice(vocab.split(), size=6)), "kind": label}
        for label, vocab in words.items()
        for _ in range(20)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "texts.csv", index=False)
    version = _run(
        tmp_path,
        "texts",
        {
            "source": str(tmp_path / "texts.csv"),
            "kind": "text",
            "label": "kind",
            "text_column": "text",
            "text_length": 8,
        },
    )
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["labels"] == ["ham", "news", "spam"]
    raw = np.array(["free cash prize now", "weather report sport"])
    predicted = _predict_in_fresh_process(version, raw, tmp_path)
    assert len(predicted) == 2 and set(predicted) <= {0, 1, 2}


def test_sequence_model_predicts_nan_padded_arrays(prefect_harness, tmp_path):
    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, 12)
    x = np.stack([np.sin(t * (1 + label)) for label in np.repeat([0, 1, 2], 16)])
    x = (x[..., None] + rng.normal(0, 0.1, size=(48, 12, 1))).astype("float32")
    x[::3, 9:] = np.nan
    y = np.repeat(["slow", "mid", "fast"], 16)
    np.savez(tmp_path / "seq.npz", x=x, y=y)
    version = _run(
        tmp_path, "seq", {"source": str(tmp_path / "seq.npz"), "kind": "sequence"}
    )
    predicted = _predict_in_fresh_process(version, x[:6], tmp_path)
    assert len(predicted) == 6


def test_image_model_predicts_unscaled_pixels(prefect_harness, tmp_path, tiny_images):
    x, y = tiny_images
    pixels = (x * 16).astype("float32")  # raw 0..255-like values, not scaled
    np.savez(tmp_path / "img.npz", x=pixels, y=y)
    version = _run(
        tmp_path, "img", {"source": str(tmp_path / "img.npz"), "kind": "image"}
    )
    fresh = _probabilities_in_fresh_process(version, pixels, tmp_path)
    # The point is that the published model reloads and predicts the same, not
    # how well a 3-epoch, 1-trial search learned (that depends on chance).
    model = keras.saving.load_model(version / "model.keras", safe_mode=True)
    here = model.predict(pixels, verbose=0)
    assert fresh.shape == (len(y), 3)
    assert np.all(np.isfinite(fresh)), "raw pixels gave non-finite outputs"
    np.testing.assert_allclose(fresh.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(fresh, here, rtol=1e-5, atol=1e-6)
