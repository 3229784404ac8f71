"""Recurrent family: LSTMs over image rows, series steps or tokens."""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec
from model_builders.layers import MaskNaN, StepPatches
from model_builders.stems import MAX_RECURRENT_STEPS, choose_sequence_patch_size

# Keras runs LSTMs on cuDNN on GPU, which XLA cannot compile.
CAPABILITIES = Capabilities(xla=False)


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled LSTM classifier ending in a softmax.

    The search space: one or two (optionally bidirectional) LSTM layers, their
    width, dropout and a dense head; for text the embedding width; for series
    how many steps form one patch. Images are read row by row. NaN-padded
    steps of a series and padding tokens of a text are masked, so the LSTM
    skips them (its state carries over); a series patch is masked only when
    all its steps are padding. Defaults are strong on small data.

    Args:
        hp: the trial's hyperparameters; names are scoped `lstm/...`.
        input_spec: the preprocessed input the model receives.
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model`.
    """
    num_layers = hp.Int("lstm/num_layers", 1, 2, default=1)
    units = hp.Choice("lstm/units", [32, 64, 128], default=128)
    bidirectional = hp.Boolean("lstm/bidirectional", default=True)
    dropout = hp.Float("lstm/dropout", 0.0, 0.5, step=0.1, default=0.2)
    dense_units = hp.Choice("lstm/dense_units", [64, 128, 256], default=128)

    inputs = keras.Input(shape=input_spec.shape, name="lstm_input")
    x = _steps(hp, input_spec, inputs)
    for layer in range(num_layers):
        last = layer == num_layers - 1
        recurrent = keras.layers.LSTM(units, return_sequences=not last)
        if bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent)
        x = recurrent(x)
        x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probs", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="lstm")


def _steps(hp: kt.HyperParameters, input_spec: InputSpec, inputs):
    """Turn any input kind into (steps, features), masked where padded."""
    if input_spec.kind == "image":
        height, width, channels = input_spec.shape
        return keras.layers.Reshape((height, width * channels))(inputs)
    if input_spec.kind == "text":
        embed_dim = hp.Choice("lstm/embedding_dim", [32, 64, 128], default=64)
        return keras.layers.Embedding(input_spec.vocab_size, embed_dim, mask_zero=True)(
            inputs
        )
    x = MaskNaN()(inputs)
    patch_size = choose_sequence_patch_size(
        hp, "lstm/patch_size", input_spec.shape[0], max_tokens=MAX_RECURRENT_STEPS
    )
    if patch_size > 1:
        x = StepPatches(patch_size)(x)
    return x
