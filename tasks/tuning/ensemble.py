"""Averaging several trained models into one model that serves like any other.

An ensemble is one functional `keras.Model`: the same single raw input named
`inputs` as its members, each member applied to it, and the mean of their
softmax probabilities as its float32 output. So it saves to one `.keras`
file, reloads with `safe_mode=True`, and exports to a SavedModel exactly as a
single model does; serving needs no knowledge that it is an ensemble.

Members built by the same family carry the same name (two `automl_cnn`),
which one functional model cannot hold twice; each is wrapped in a model
named `member_{i}_{original name}` (its layers are shared, not copied), and
those names are how `ensemble_members` recognises an ensemble, also after a
reload.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import keras

from tasks.tuning.hypermodel import compile_model

DEFAULT_NAME = "automl_ensemble"
MEAN_LAYER = "ensemble_mean"
LEARNING_RATE = 1e-3
_MEMBER_NAME = re.compile(r"^member_(\d+)_")


def ensemble_model(
    members: Sequence[keras.Model], name: str = DEFAULT_NAME
) -> keras.Model:
    """One model whose output is the mean of `members`' softmax outputs.

    The result is compiled with `compile_model` (Adam at 1e-3, the pipeline's
    loss and metrics) and its optimizer is built, so the saved file reloads
    without a "skipping optimizer variables" warning. A single member is
    returned unchanged.

    Args:
        members: trained pipeline models, each with one raw input and one
            softmax output, all with the same input and output shape and dtype.
            Their names may repeat.
        name: the ensemble's model name.

    Returns:
        A compiled functional `keras.Model` with one input named `inputs`.

    Raises:
        ValueError: no members, a member that is not a single-input,
            single-output Keras model, or members whose inputs or outputs
            differ in shape or dtype.

    Example:
        `model = ensemble_model(tuner.get_best_models(3))`
    """
    members = list(members)
    _check_members(members)
    if len(members) == 1:
        return members[0]
    first = members[0].inputs[0]
    inputs = keras.Input(shape=tuple(first.shape[1:]), dtype=first.dtype, name="inputs")
    outputs = [
        _renamed(member, f"member_{index}_{member.name}")(inputs)
        for index, member in enumerate(members)
    ]
    # float32 whatever the global policy: probabilities are averaged in full
    # precision, and the output keeps the members' dtype.
    mean = keras.layers.Average(dtype="float32", name=MEAN_LAYER)(outputs)
    model = keras.Model(inputs, mean, name=name)
    compile_model(model, learning_rate=LEARNING_RATE)
    model.optimizer.build(model.trainable_variables)
    return model


def ensemble_members(model: keras.Model) -> list[str]:
    """The names of the members inside an ensemble built by `ensemble_model`.

    They are the unique names inside the ensemble, `member_{i}_{original
    name}` in input order (e.g. `["member_0_automl_cnn",
    "member_1_automl_cnn"]`); each is `model.get_layer(name)`. A plain model
    (including a one-member "ensemble", which is the member itself) gives
    `[model.name]`.
    """
    found = [
        layer.name
        for layer in getattr(model, "layers", ())
        if isinstance(layer, keras.Model) and _MEMBER_NAME.match(layer.name)
    ]
    if not found:
        return [model.name]
    return sorted(found, key=lambda member: int(_MEMBER_NAME.match(member)[1]))


def _renamed(member: keras.Model, name: str) -> keras.Model:
    """`member` under another name: a functional model sharing its layers."""
    return keras.Model(member.inputs[0], member.outputs[0], name=name)


def _check_members(members: list) -> None:
    """Raise a ValueError unless `members` can be averaged into one model."""
    if not members:
        raise ValueError(
            "ensemble_model received no members; expected at least one trained "
            "Keras model. Pass the models to average, e.g. "
            "tuner.get_best_models(3)."
        )
    for index, member in enumerate(members):
        if not isinstance(member, keras.Model):
            raise ValueError(
                f"ensemble_model received member {index} of type "
                f"{type(member).__name__}; expected a keras.Model. Pass trained "
                "Keras models."
            )
        if len(member.inputs) != 1 or len(member.outputs) != 1:
            raise ValueError(
                f"ensemble_model received member {index} ({member.name!r}) with "
                f"{len(member.inputs)} inputs and {len(member.outputs)} outputs; "
                "expected one raw input and one softmax output. Pass models "
                "built by PipelineHyperModel."
            )
    expected = _signature(members[0])
    for index, member in enumerate(members[1:], start=1):
        received = _signature(member)
        if received != expected:
            raise ValueError(
                f"ensemble_model received member {index} ({member.name!r}) with "
                f"input {received[0]} and output {received[1]}; expected input "
                f"{expected[0]} and output {expected[1]} as member 0 "
                f"({members[0].name!r}) has. Average only models trained on the "
                "same data and classes."
            )


def _signature(member: keras.Model) -> tuple[str, str]:
    """The member's input and output, as `shape dtype` strings to compare."""
    (tensor_in,), (tensor_out,) = member.inputs, member.outputs
    return (
        f"{tuple(tensor_in.shape)} {tensor_in.dtype}",
        f"{tuple(tensor_out.shape)} {tensor_out.dtype}",
    )
