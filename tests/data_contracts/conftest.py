"""Tiny generated image data for the data contract tests: 48 8x8x1 images, 3 classes."""

import numpy as np
import pytest

from data_contracts import DataContract


@pytest.fixture
def images() -> tuple[np.ndarray, np.ndarray]:
    """48 images with integer pixel values 0..16 and labels 0, 1, 2 (16 each)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, size=(48, 8, 8, 1)).astype(float)
    y = np.repeat([0, 1, 2], 16)
    return x, y


@pytest.fixture
def contract() -> DataContract:
    return DataContract(
        name="tiny",
        kind="image",
        labels=[0, 1, 2],
        min_rows=10,
        min_examples_per_class=5,
        example_shape=[8, 8, 1],
        min_value=0,
        max_value=16,
        source="tests/tiny.yaml",
    )


@pytest.fixture(autouse=True)
def seeded_keras():
    """Overrides the shared Keras fixture: these tests never touch Keras.

    Clearing the Keras session costs ~0.25 s per test, most of this module's time.
    """
    yield
