"""Device settings for training: XLA per family and the numeric precision.

On a GPU, XLA (`jit_compile`) speeds up the families that declare it in
their module (`CAPABILITIES`, see `model_builders.capabilities`); the LSTM
family stays off it, because Keras picks the cuDNN kernel for LSTMs on GPU
and XLA cannot compile it. Mixed bfloat16 is used on GPUs that have
it (compute capability 8.0 and later); the softmax outputs stay float32. On
a CPU `auto` keeps both off (float32, no XLA); `mixed_bfloat16` may still be
forced there, slowly, to test the bf16 path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import keras
import tensorflow as tf

import model_builders
from tasks.errors import ConfigError

logger = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """The compute capability of each visible GPU; empty on a CPU machine."""
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append(tuple(details.get("compute_capability", (0, 0))))
    return found


def resolve_precision(precision: str) -> str:
    """The Keras dtype policy for `train.precision`.

    Raises:
        ConfigError: an unknown setting, or mixed float16 asked for on a CPU.
            Mixed bfloat16 may be forced on a CPU (slow, with a warning), so
            the bf16 path can be tested without a GPU.
    """
    gpus = gpu_compute_capabilities()
    if precision == "auto":
        bf16 = gpus and all(capability >= (8, 0) for capability in gpus)
        return "mixed_bfloat16" if bf16 else "float32"
    if precision not in PRECISIONS:
        raise ConfigError(
            f"train.precision received {precision!r}; expected 'auto' or one of "
            f"{list(PRECISIONS)}."
        )
    if precision == "mixed_float16" and not gpus:
        raise ConfigError(
            f"train.precision received {precision!r} on a machine without a GPU; "
            "float16 needs a GPU (CPUs lack its kernels). Use 'auto', 'float32', "
            "or 'mixed_bfloat16' to check the bf16 path on a CPU."
        )
    if precision == "mixed_bfloat16" and not gpus:
        logger.warning(
            "train.precision mixed_bfloat16 on a CPU: TensorFlow runs it, slowly; "
            "use it to check the bf16 path, and 'auto' for speed"
        )
    return precision


def resolve_xla(xla: str, family: str) -> bool:
    """Whether to compile `family`'s models with XLA for `train.xla`."""
    if xla == "on":
        return True
    if xla == "off":
        return False
    xla_capable = model_builders.capabilities(family).xla
    return xla_capable and bool(tf.config.list_physical_devices("GPU"))


def device_name() -> str:
    """`CPU`, or the GPUs with their compute capability."""
    gpus = gpu_compute_capabilities()
    if not gpus:
        return "CPU"
    return ", ".join(f"GPU (compute {major}.{minor})" for major, minor in gpus)


@contextlib.contextmanager
def precision_policy(policy: str) -> Iterator[None]:
    """Build models under `policy` inside the block; restore the old one after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
