"""Shared fixtures: seeded Keras, tiny generated data, a real Prefect harness."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tasks  # noqa: F401  (sets the quiet, offline environment defaults)
from tests.helpers import tiny_image_arrays


@pytest.fixture(autouse=True)
def seeded_keras():
    """Every test starts from the same seed and an empty Keras session."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture
def tiny_images() -> tuple[np.ndarray, np.ndarray]:
    """48 8x8x1 images in 3 classes, each class a different bright region."""
    return tiny_image_arrays()


@pytest.fixture(scope="session")
def prefect_harness():
    """A real, temporary Prefect server (SQLite) for the flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def publish_tiny_model(tmp_path):
    """Publish an untrained model the way the pipeline does; returns a function.

    `publish(name, x_train, y_train, data)` fits the preprocessing on
    `x_train`, builds raw input -> preprocessing -> CNN body, and publishes
    it with `config.json` and `metrics.json` (labels: the sorted originals)
    into `tmp_path / "registry"`. Returns the model and the version folder.
    """
    from pathlib import Path

    import keras_tuner as kt

    from flows.config import PipelineConfig
    from model_builders import BUILDERS
    from tasks.preprocess import fit_preprocessing
    from tasks.publish import publish_version

    def publish(name, x_train, y_train, data, score=0.5):
        labels = np.unique(y_train).tolist()
        kind = data["kind"]
        preprocessing = fit_preprocessing(x_train, kind=kind, text_length=8)
        spec = preprocessing.input_spec
        body = BUILDERS["cnn"](kt.HyperParameters(), spec, len(labels))
        inputs = preprocessing.inputs()
        model = keras.Model(inputs, body(preprocessing.layer()(inputs)))
        config = PipelineConfig(name=name, data=data, output_dir=str(tmp_path))
        result = publish_version(
            tmp_path / "registry",
            name,
            model,
            {"f1_macro": score, "labels": labels},
            documents={"config.json": config.model_dump(mode="json")},
        )
        return model, Path(result.path)

    return publish
