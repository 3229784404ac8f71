"""Shared fixtures: seeded Keras, tiny generated data, a real Prefect harness."""

from __future__ import annotations

import gc
import os

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tasks  # noqa: F401  (sets the quiet, offline environment defaults)
from tests.helpers import tiny_image_arrays

# Hypothesis profiles. Property tests set no example count, seed or database of
# their own, so the profile alone decides how they run:
# - dev (the default): random examples, failures remembered in .hypothesis/.
# - ci (CI=true, which .ci/run sets): the same examples on every machine and
#   every run, no example database, a failure printed with its reproduce blob.
# - explore (HYPOTHESIS_PROFILE=explore, `make test-explore`): ten times the
#   examples, random, to hunt for new failures; FUZZ_EXAMPLES sets the count.
# A failure found by exploring becomes an @example or a plain test.
PROPERTY_DEFAULTS = {
    "deadline": None,  # loading and validating take seconds on a busy machine
    "suppress_health_check": [HealthCheck.too_slow],
}
# Hypothesis's own `default` profile is the parent, not whatever profile Hypothesis
# loaded on its own (it loads its built-in `ci` profile when it sees CI set).
BASE = settings.get_profile("default")
settings.register_profile("dev", BASE, max_examples=50, **PROPERTY_DEFAULTS)
settings.register_profile(
    "ci",
    BASE,
    max_examples=50,
    derandomize=True,
    database=None,
    print_blob=True,
    **PROPERTY_DEFAULTS,
)
settings.register_profile(
    "explore",
    BASE,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 500)),
    derandomize=False,
    **PROPERTY_DEFAULTS,
)


def hypothesis_profile() -> str:
    """HYPOTHESIS_PROFILE if set, else `ci` when CI=true, else `dev`."""
    if os.environ.get("HYPOTHESIS_PROFILE"):
        return os.environ["HYPOTHESIS_PROFILE"]
    return "ci" if os.environ.get("CI", "").lower() in ("true", "1") else "dev"


settings.load_profile(hypothesis_profile())


# `keras.backend.clear_session()` after every test runs `gc.collect()`, which
# walks every object alive: with TensorFlow, Prefect and Great Expectations
# loaded that is ~600,000 of them and 0.3-0.6 s, once per test, which was half
# of `make test`. So each test module starts with one full collection and then
# freezes what survives it (`gc.freeze()`): the collections after its tests
# walk only what the module made, and the next module's full collection frees
# what it left behind. What a test creates is still collected right after it.


@pytest.fixture(scope="module", autouse=True)
def collected_heap():
    """Each test module starts after a full collection, then freezes the rest."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def seeded_keras(collected_heap):
    """Every test starts from the same seed and an empty Keras session."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture
def bf16_policy():
    """Build under `mixed_bfloat16` (TensorFlow runs it on CPUs too), then restore."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy(previous)


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
