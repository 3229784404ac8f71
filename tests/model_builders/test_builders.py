"""Every registered family builds, compiles and trains a step on every kind."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec
from tasks.search import compile_model

KINDS = {
    "image": InputSpec(kind="image", shape=(8, 8, 1)),
    "sequence": InputSpec(kind="sequence", shape=(12, 3)),
    "text": InputSpec(kind="text", shape=(10,), vocab_size=50),
}


def _batch(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.kind == "text":
        return rng.integers(0, spec.vocab_size, size=(16, *spec.shape))
    return rng.normal(size=(16, *spec.shape)).astype("float32")


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_trains_one_step_on_every_kind(family, kind):
    spec = KINDS[kind]
    model = BUILDERS[family](kt.HyperParameters(), spec, 3)
    assert model.output_shape == (None, 3)
    compile_model(model, learning_rate=1e-3)
    rng = np.random.default_rng(0)
    x = _batch(spec, rng)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_hyperparameters_are_scoped_by_family(family):
    hp = kt.HyperParameters()
    BUILDERS[family](hp, KINDS["image"], 3)
    assert hp.space and all(p.name.startswith(f"{family}/") for p in hp.space)


def test_input_spec_rejects_a_wrong_rank():
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        InputSpec(kind="image", shape=(8, 8))
    with pytest.raises(ValueError, match="vocab_size"):
        InputSpec(kind="text", shape=(10,))
