"""Export stage: a TensorFlow SavedModel for serving, checked against Keras.

The published Keras model takes raw inputs (floats, or one string per
example), so its SavedModel does too: TensorFlow Serving, `tf.saved_model.load`
or any TF runtime can call it without this project's code. An export is only
kept when its serving signature reproduces `model.predict` on a sample.

The tolerance follows the dtype policy the model computes in: 1e-5 for
float32, and 8 machine epsilons of the lowest compute dtype under a mixed
policy (2**-7 for float16, 2**-4 for bfloat16), because the Keras and
serving graphs may round 16-bit intermediates differently (fused or XLA
kernels). Every probability must be within it, so the two agree on the
predicted label wherever Keras' top two probabilities differ by more than
twice the tolerance; an export that drops a preprocessing step or keeps
training-only behaviour moves probabilities by far more.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from tasks.errors import ExportError
from tasks.stage import stage

SIGNATURE = "serving_default"
DEFAULT_TOLERANCE = 1e-5  # float32
# 8 machine epsilons (2**-10 and 2**-7) of each 16-bit compute dtype.
POLICY_TOLERANCES = {"float16": 2.0**-7, "bfloat16": 2.0**-4}
BATCH_SIZE = 256


@dataclass(frozen=True)
class ExportCheck:
    """Where the SavedModel went, how to call it, and how closely it matches.

    Attributes:
        path: the SavedModel folder.
        signature: the serving signature's name.
        input_name: the signature's keyword argument.
        input_dtype: `float32` or `string`.
        input_shape: per-batch shape; None where any size is accepted.
        max_difference: the largest absolute difference from `model.predict`.
        num_examples: how many examples the check compared.
        tolerance: the largest difference the check accepted.
    """

    path: str
    signature: str
    input_name: str
    input_dtype: str
    input_shape: tuple[int | None, ...]
    max_difference: float
    num_examples: int
    tolerance: float = DEFAULT_TOLERANCE

    def to_dict(self) -> dict:
        return asdict(self)


def export_saved_model(
    model: keras.Model,
    directory: str | Path,
    x_sample: np.ndarray,
    tolerance: float | None = None,
) -> ExportCheck:
    """Write `model` as a SavedModel and check it serves the same predictions.

    The SavedModel is written to a hidden sibling folder, reloaded with
    `tf.saved_model.load`, and its `serving_default` signature is run on
    `x_sample`; only when every probability is finite and within `tolerance`
    of `model.predict` is the folder renamed to `directory`.

    Args:
        model: a built Keras model with one raw input named `inputs`.
        directory: where the SavedModel goes; must not exist yet.
        x_sample: raw inputs to compare on (the test split, say).
        tolerance: the largest absolute difference accepted; by default
            `policy_tolerance(model)` (see the module docstring).

    Returns:
        An `ExportCheck` naming the signature, its input and the difference.

    Raises:
        ExportError: `directory` exists, the model cannot be exported, or the
            SavedModel's outputs differ from Keras (nothing is left behind).

    Example:
        `export_saved_model(model, version_dir / "export", splits.x_test)`
    """
    directory = Path(directory)
    if directory.exists():
        raise ExportError(
            f"Received export folder {directory}, which already exists; expected "
            "a new path (exports are never overwritten). Remove it or export to "
            "another folder."
        )
    if len(x_sample) == 0:
        raise ExportError(
            "Received an empty x_sample; expected at least one example to check "
            "the SavedModel against Keras. Pass the test split."
        )
    if tolerance is None:
        tolerance = policy_tolerance(model)
    staging = directory.with_name(f".{directory.name}-tmp-{uuid.uuid4().hex}")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        check = _export_and_compare(model, staging, x_sample, tolerance, directory)
        os.rename(staging, directory)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, ExportError) or not isinstance(exc, Exception):
            raise
        raise ExportError(
            f"Exporting the model to {directory} failed ({type(exc).__name__}: "
            f"{exc}); expected a SavedModel with raw inputs. Nothing was left "
            "behind; run with --debug for the traceback."
        ) from exc
    return check


def _export_and_compare(
    model: keras.Model,
    staging: Path,
    x_sample: np.ndarray,
    tolerance: float,
    directory: Path,
) -> ExportCheck:
    """Write the SavedModel to `staging`, reload it, compare it with Keras."""
    import tensorflow as tf

    model.export(staging, format="tf_saved_model", verbose=False)
    # Keep the loaded object alive: it owns the variables the signature reads.
    loaded = tf.saved_model.load(str(staging))
    serve = loaded.signatures[SIGNATURE]
    input_name, spec = _only_input(serve)
    if spec.dtype == tf.string:
        # Keras reads strings from object arrays, not numpy's '<U' arrays.
        x_sample = np.asarray([str(value) for value in x_sample], dtype=object)
    served = _serve_in_batches(serve, input_name, spec.dtype, x_sample)
    expected = np.asarray(model.predict(x_sample, batch_size=BATCH_SIZE, verbose=0))
    _check_outputs(served, expected, directory)
    difference = float(np.max(np.abs(served.astype("float64") - expected)))
    if not difference <= tolerance:
        raise ExportError(
            f"The SavedModel's serving signature differs from model.predict by "
            f"up to {difference:.3g} on {len(x_sample)} examples; expected at "
            f"most {tolerance:g} (the tolerance for its dtype policy). Nothing "
            f"was exported to {directory}. Check custom layers for "
            "training-only behaviour, and export again."
        )
    return ExportCheck(
        path=str(directory),
        signature=SIGNATURE,
        input_name=input_name,
        input_dtype=spec.dtype.name,
        input_shape=tuple(spec.shape.as_list()),
        max_difference=difference,
        num_examples=len(x_sample),
        tolerance=tolerance,
    )


def policy_tolerance(model: keras.Model) -> float:
    """The export check's tolerance for the lowest precision `model` computes in.

    Example: a model built under `mixed_bfloat16` gets 2**-4; under float32, 1e-5.
    """
    dtypes = {layer.dtype_policy.compute_dtype for layer in _layers(model)}
    return max(
        [POLICY_TOLERANCES.get(dtype, DEFAULT_TOLERANCE) for dtype in dtypes],
        default=DEFAULT_TOLERANCE,
    )


def _layers(layer: keras.layers.Layer):
    """`layer` and every layer inside it, nested models included."""
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _layers(inner)


def _only_input(serve) -> tuple[str, object]:
    """The signature's single keyword input: its name and `tf.TensorSpec`."""
    _, keyword_specs = serve.structured_input_signature
    if len(keyword_specs) != 1:
        raise ExportError(
            f"The serving signature takes the inputs {sorted(keyword_specs)}; "
            "expected exactly one raw input. Export a model with one input."
        )
    return next(iter(keyword_specs.items()))


def _serve_in_batches(serve, input_name: str, dtype, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    outputs = []
    for start in range(0, len(x), BATCH_SIZE):
        batch = x[start : start + BATCH_SIZE]
        if dtype == tf.string:
            tensor = tf.constant([str(value) for value in batch], dtype=tf.string)
        else:
            tensor = tf.constant(np.asarray(batch), dtype=dtype)
        result = serve(**{input_name: tensor})
        if len(result) != 1:
            raise ExportError(
                f"The serving signature returns {sorted(result)}; expected one "
                "output (the class probabilities). Export a single-output model."
            )
        outputs.append(next(iter(result.values())).numpy())
    return np.concatenate(outputs)


def _check_outputs(served: np.ndarray, expected: np.ndarray, directory: Path) -> None:
    """Outputs of the same shape, every one finite, from both paths."""
    if served.shape != expected.shape:
        raise ExportError(
            f"The SavedModel returned outputs of shape {served.shape}; expected "
            f"{expected.shape} as model.predict returns. Nothing was exported to "
            f"{directory}. Export a model with one softmax output."
        )
    for where, values in (("SavedModel", served), ("Keras model", expected)):
        bad = np.flatnonzero(~np.isfinite(values).all(axis=-1))
        if len(bad):
            raise ExportError(
                f"The {where} returned NaN or infinite outputs for {len(bad)} "
                f"example(s) (rows {bad[:5].tolist()}); expected finite "
                f"probabilities. Nothing was exported to {directory}. Check those "
                "inputs (only sequences may hold NaN, as end padding)."
            )


export_saved_model_task = stage("export")(export_saved_model)
