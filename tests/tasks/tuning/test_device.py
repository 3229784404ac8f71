"""Device settings: precision and XLA resolved per machine and family."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, capabilities
from tasks.errors import ConfigError
from tasks.preprocess import fit_preprocessing
from tasks.tuning.device import precision_policy, resolve_precision, resolve_xla


def test_auto_is_float32_and_no_xla_on_a_cpu():
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("float32") == "float32"
    assert not any(resolve_xla("auto", f) for f in ("cnn", "lstm", "transformer"))
    assert resolve_xla("on", "lstm") and not resolve_xla("off", "cnn")


def test_mixed_float16_on_a_cpu_is_refused():
    with pytest.raises(ConfigError, match="without a GPU"):
        resolve_precision("mixed_float16")


def test_mixed_bfloat16_can_be_forced_on_a_cpu(caplog):
    assert resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    assert "slowly" in caplog.text


def test_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="expected 'auto' or one of"):
        resolve_precision("float8")


@pytest.mark.parametrize(
    "family", sorted(f for f in BUILDERS if "image" in capabilities(f).kinds)
)
def test_mixed_bfloat16_models_keep_float32_outputs(tiny_images, family):
    x, y = tiny_images
    preprocessing = fit_preprocessing(x)
    with precision_policy("mixed_bfloat16"):
        body = BUILDERS[family](kt.HyperParameters(), preprocessing.input_spec, 3)
        inputs = preprocessing.inputs()
        model = keras.Model(inputs, body(preprocessing.layer()(inputs)))
    assert keras.config.dtype_policy().name == "float32"  # restored
    compute = {layer.dtype_policy.compute_dtype for layer in body.layers}
    assert "bfloat16" in compute
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    probabilities = model.predict(x[:4], verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)


def test_the_hypermodel_builds_under_its_policy_after_a_session_reset(tiny_images):
    """Keras Tuner clears the Keras session before each trial's build, which
    resets the global dtype policy: the hypermodel must apply its own."""
    from tasks.tuning.hypermodel import PipelineHyperModel

    x, _ = tiny_images
    hypermodel = PipelineHyperModel(
        fit_preprocessing(x), 3, ["cnn"], dtype_policy="mixed_bfloat16"
    )
    with precision_policy("mixed_bfloat16"):
        keras.backend.clear_session()  # what Keras Tuner's _try_build does
        model = hypermodel.build(kt.HyperParameters())
    body = model.get_layer("cnn")
    assert "bfloat16" in {layer.dtype_policy.compute_dtype for layer in body.layers}
