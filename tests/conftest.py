"""Shared fixtures: seeded Keras, tiny generated data, a real Prefect harness."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tasks  # noqa: F401  (sets the quiet, offline environment defaults)


@pytest.fixture(autouse=True)
def seeded_keras():
    """Every test starts from the same seed and an empty Keras session."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture
def tiny_images() -> tuple[np.ndarray, np.ndarray]:
    """48 8x8x1 images in 3 classes, each class a different bright region."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, size=(48, 8, 8, 1)).astype("float32")
    y = np.repeat(np.arange(3), 16)
    for label in range(3):
        x[y == label, label * 2 : label * 2 + 3, :, 0] += 12.0
    return x, y


@pytest.fixture(scope="session")
def prefect_harness():
    """A real, temporary Prefect server (SQLite) for the flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
