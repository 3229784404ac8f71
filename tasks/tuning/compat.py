"""Every use of a Keras Tuner or TensorFlow internal, in one place.

Each workaround below names what it works around upstream and the version it
was written against. When the installed version differs, a warning says so
once (check whether the workaround is still needed); when the internal it
relies on is missing, a warning says what stops working, never silence.
Nothing outside this module imports `keras_tuner.src` or `tensorflow.python`.
"""

from __future__ import annotations

import functools
import importlib
import logging
from typing import Any

import keras_tuner as kt
import tensorflow as tf

logger = logging.getLogger(__name__)

# The versions these workarounds were written and tested against.
KERAS_TUNER_TESTED = "1.4.8"
TENSORFLOW_TESTED = "2.21"


@functools.cache
def check_version(package: str, installed: str, tested: str) -> bool:
    """Whether `installed` is the `tested` release line; warns once when not."""
    if installed.startswith(tested):
        return True
    logger.warning(
        "%s %s is installed; the workarounds in tasks.tuning.compat were written "
        "for %s. Check that each internal they use still exists and that the "
        "upstream issue each names is still open.",
        package,
        installed,
        tested,
    )
    return False


def find_internal(module: str, name: str | None, why: str) -> Any | None:
    """`module.name` (the module itself when `name` is None), or None with a
    warning saying what stops working."""
    if module.startswith("keras_tuner"):
        check_version("keras_tuner", kt.__version__, KERAS_TUNER_TESTED)
    else:
        check_version("tensorflow", tf.__version__, TENSORFLOW_TESTED)
    try:
        found = importlib.import_module(module)
        return found if name is None else getattr(found, name)
    except (ImportError, AttributeError) as exc:
        logger.warning("%s.%s is missing (%s): %s", module, name, exc, why)
        return None


# Keras Tuner saves the best epoch's weights through a callback it appends to
# every trial (keras_tuner/src/engine/tuner_utils.py, 1.4.8; not exported).
# `tasks.tuning.callbacks.BestEpochInMemory` replaces it with one that writes
# the file once per trial instead of at every improving epoch.
SaveBestEpoch = find_internal(
    "keras_tuner.src.engine.tuner_utils",
    "SaveBestEpoch",
    "trials keep Keras Tuner's own best-epoch checkpoint, written at every "
    "improving epoch (slower, same result)",
)
if SaveBestEpoch is None:  # the replacement then has nothing to replace

    class SaveBestEpoch:  # noqa: N801 - stands in for the missing class
        def __init__(self, objective, filepath):
            self.objective, self.filepath, self.best_value = objective, filepath, None


# Keras Tuner's per-trial callback that forwards epochs to the tuner's hooks
# (not exported); only the benchmarks time it.
TunerCallback = find_internal(
    "keras_tuner.src.engine.tuner_utils",
    "TunerCallback",
    "benchmarks cannot time Keras Tuner's per-batch callback",
)


# Keras Tuner's chief stops only once every worker that ever connected has
# said goodbye, so a dead worker stalls it (keras-team/keras-tuner#915).
# `tasks.tuning.distributed.chief` serves the oracle with Keras Tuner's own
# servicer and gRPC messages, and ends on its own terms.
protos = find_internal(
    "keras_tuner.src.protos",
    None,
    "a distributed search cannot serve or reach the chief",
)
OracleServicer = find_internal(
    "keras_tuner.src.distribute.oracle_chief",
    "OracleServicer",
    "a distributed search cannot serve the oracle",
)
OracleClient = find_internal(
    "keras_tuner.src.distribute.oracle_client",
    "OracleClient",
    "a worker cannot be driven without a tuner (tests)",
)


def grpc_service():
    """Keras Tuner's gRPC message classes (CreateTrialResponse, GetTrialRequest)."""
    return protos.get_service()


def add_oracle_servicer(servicer, server) -> None:
    """Register `servicer` on the gRPC `server`, as Keras Tuner's chief does."""
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


@functools.cache
def silence_parent_condition_print() -> bool:
    """Remove the debug `print` Keras Tuner 1.4.8 left in `Parent.to_proto`.

    keras_tuner/src/engine/conditions.py (1.4.8; no upstream issue found)
    prints a condition's first value (the family name) every time a trial is
    sent over gRPC, so a chief's log fills with heartbeats. The method is
    replaced process-wide by the same code without the print; calling this
    again does nothing. Returns whether the patch is in place.
    """
    conditions = find_internal(
        "keras_tuner.src.engine.conditions",
        None,
        "distributed logs show a family name per gRPC message",
    )
    parent = getattr(conditions, "Parent", None)
    if parent is None or not hasattr(parent, "to_proto"):
        logger.warning(
            "keras_tuner %s has no conditions.Parent.to_proto; its debug print "
            "is left as it is",
            kt.__version__,
        )
        return False
    parent.to_proto = _parent_to_proto
    return True


def _parent_to_proto(self):
    proto = protos.get_proto()
    first = self.values[0]
    kind = (
        "string_value"
        if isinstance(first, str)
        else "boolean_value"
        if isinstance(first, bool)
        else "int_value"
        if isinstance(first, int)
        else "float_value"
    )
    values = [proto.Value(**{kind: value}) for value in self.values]
    return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))


# Tracing a train step registers a `tf.custom_gradient` (Keras's optimizer
# all-reduces gradients through one) in a global registry that is never
# emptied; its closure holds the traced graph, so every trial's train and
# test graphs outlived its model: about 16 MB a trial on digits
# (tensorflow/tensorflow#97697).
GRADIENT_REGISTRY = "_gradient_registry"


def gradient_registry(attribute: str = GRADIENT_REGISTRY) -> dict | None:
    """TensorFlow's global gradient-function registry; None, with a warning, if gone.

    Args:
        attribute: where `tensorflow.python.framework.ops` keeps it.
    """
    ops = find_internal("tensorflow.python.framework.ops", None, "see below")
    registry = getattr(getattr(ops, attribute, None), "_registry", None)
    if isinstance(registry, dict):
        return registry
    logger.warning(
        "tensorflow %s has no gradient registry at ops.%s._registry; each trial's "
        "training graphs stay in memory (about 16 MB a trial, "
        "tensorflow/tensorflow#97697). Update tasks.tuning.compat.",
        tf.__version__,
        attribute,
    )
    return None


def custom_gradients(attribute: str = GRADIENT_REGISTRY) -> frozenset[str]:
    """Names of the `tf.custom_gradient` functions registered so far."""
    registry = gradient_registry(attribute)
    if registry is None:
        return frozenset()
    return frozenset(k for k in registry if k.startswith("CustomGradient-"))


def release_custom_gradients(
    before: frozenset[str], attribute: str = GRADIENT_REGISTRY
) -> int:
    """Unregister the custom gradients registered since `before`; return how many.

    The registry is read only while a graph is traced, so once a trial has
    ended its entries serve nothing. Warns (through `gradient_registry`) when
    there is no registry to release from.
    """
    registry = gradient_registry(attribute)
    if registry is None:
        return 0
    stale = frozenset(k for k in registry if k.startswith("CustomGradient-")) - before
    for name in stale:
        registry.pop(name, None)
    return len(stale)


def func_graph_class() -> type | None:
    """TensorFlow's `FuncGraph`, to count traced graphs (tests, benchmarks)."""
    return find_internal(
        "tensorflow.python.framework.func_graph",
        "FuncGraph",
        "traced graphs cannot be counted",
    )


def checkpoint_path(tuner: kt.Tuner, trial_id: str) -> str | None:
    """Where Keras Tuner keeps `trial_id`'s best weights; None, warned, if unknown.

    Keras Tuner has no public name for the file (its `Tuner` private method
    `_get_checkpoint_fname`, 1.4.8); the pipeline deletes all but the best
    trial's, so a long search does not fill the disk.
    """
    check_version("keras_tuner", kt.__version__, KERAS_TUNER_TESTED)
    locate = getattr(tuner, "_get_checkpoint_fname", None)
    if locate is None:
        logger.warning(
            "keras_tuner %s has no Tuner._get_checkpoint_fname; every trial's "
            "checkpoint stays on disk. Update tasks.tuning.compat.",
            kt.__version__,
        )
        return None
    return locate(trial_id)
