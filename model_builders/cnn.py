"""Convolutional family: 1-D nets on series, 2-D on images, 1-D on tokens.

The family's body depends on the data kind: series get the strong 1-D
convolution networks of the time-series literature (`series_cnn`), images
and token ids a stack of convolution blocks (`image_cnn`). Hyperparameter
names are scoped `cnn/...` in both.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.image_cnn import image_features
from model_builders.input_spec import InputSpec
from model_builders.series_cnn import series_features

# Convolutions compile well with XLA on GPU.
CAPABILITIES = Capabilities(xla=True)


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled CNN classifier ending in a softmax.

    Args:
        hp: the trial's hyperparameters; names are scoped `cnn/...`.
        input_spec: the preprocessed input the model receives.
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model`.
    """
    inputs = keras.Input(shape=input_spec.shape, name="cnn_input")
    if input_spec.kind == "sequence":
        x = series_features(hp, inputs)
    else:
        x = image_features(hp, inputs, input_spec)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probs", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="cnn")
