"""Mixed bfloat16 on a CPU: inputs with a large offset keep their signal.

Under `mixed_bfloat16` a Normalization computing in bf16 cannot tell 1000
from 1001 (bf16 steps by 4 there), so a series whose classes differ by one
unit above an offset of 1e3 would train to chance. Normalization and NaN
masking compute in float32 under any policy (issue 15 item 6).
"""

from pathlib import Path

import keras
import numpy as np
import pytest

from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline

# Two full runs (~75 s): `make test-slow`, which CI runs.
pytestmark = pytest.mark.slow


def _offset_series(path: Path) -> Path:
    """300 series of 24 steps x 2 channels at 1e3, classes one unit apart."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    x = 1000.0 + y[:, None, None] + rng.normal(0.0, 0.15, size=(300, 24, 2))
    np.savez(path, x=x.astype("float32"), y=y)
    return path


def _run(tmp_path: Path, precision: str) -> tuple[float, Path]:
    config = PipelineConfig(
        name=f"offset-{precision.replace('_', '-')}",
        data={
            "source": str(_offset_series(tmp_path / "series.npz")),
            "kind": "sequence",
        },
        search={
            "families": ["cnn"],
            "tuner": "random",
            "validation": "holdout",
            "max_trials": 1,
            "epochs": 10,
            "patience": 10,
        },
        train={"precision": precision},
        output_dir=str(tmp_path / precision),
    )
    result = automl_pipeline(config)
    return result.metrics["accuracy"], Path(result.publish.path)


@pytest.mark.filterwarnings("ignore")
def test_offset_series_train_as_well_under_bf16_on_a_cpu(tmp_path):
    float32_accuracy, _ = _run(tmp_path, "float32")
    bf16_accuracy, published = _run(tmp_path, "mixed_bfloat16")
    assert float32_accuracy > 0.9  # the signal is there to learn
    assert abs(bf16_accuracy - float32_accuracy) <= 0.01
    model = keras.saving.load_model(published / "model.keras", safe_mode=True)
    assert "bfloat16" in _compute_dtypes(model)  # the bf16 path really ran
    assert (published / "export").is_dir()  # the SavedModel passed its check


def _compute_dtypes(layer) -> set[str]:
    found = {layer.dtype_policy.compute_dtype}
    for inner in getattr(layer, "layers", []):
        found |= _compute_dtypes(inner)
    return found
