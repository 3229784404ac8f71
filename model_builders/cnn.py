"""Convolutional family: 2-D convolutions on images, 1-D on sequences and tokens."""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec
from model_builders.layers import MaskNaN

# Convolutions compile well with XLA on GPU.
CAPABILITIES = Capabilities(xla=True)


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled CNN classifier ending in a softmax.

    The search space: blocks of convolution, batch normalisation and pooling,
    the width of the first block (doubled per block), the kernel size, global
    pooling, a dense head and dropout. Defaults are strong on small images.

    Args:
        hp: the trial's hyperparameters; names are scoped `cnn/...`.
        input_spec: the preprocessed input the model receives.
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model`.
    """
    num_blocks = hp.Int("cnn/num_blocks", 1, 3, default=2)
    filters = hp.Choice("cnn/filters", [16, 32, 64], default=32)
    kernel_size = hp.Choice("cnn/kernel_size", [3, 5], default=3)
    pooling = hp.Choice("cnn/pooling", ["avg", "max", "flatten"], default="flatten")
    dense_units = hp.Choice("cnn/dense_units", [64, 128, 256], default=128)
    dropout = hp.Float("cnn/dropout", 0.0, 0.5, step=0.1, default=0.3)

    inputs = keras.Input(shape=input_spec.shape, name="cnn_input")
    x = inputs
    if input_spec.kind == "text":
        embed_dim = hp.Choice("cnn/embedding_dim", [32, 64, 128], default=64)
        x = keras.layers.Embedding(input_spec.vocab_size, embed_dim)(x)
    elif input_spec.kind == "sequence":
        # NaN-padded steps become zeros. Convolutions cannot use a mask, so
        # none is emitted (Keras would warn that Conv1D drops it).
        x = MaskNaN(emit_mask=False)(x)
    two_d = input_spec.kind == "image"
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    pool = keras.layers.MaxPooling2D if two_d else keras.layers.MaxPooling1D
    for block in range(num_blocks):
        width = filters * 2**block
        x = conv(width, kernel_size, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
        x = conv(width, kernel_size, padding="same", activation="relu")(x)
        # Pool only while the smallest spatial side can still be halved.
        if min(x.shape[1:-1]) >= 4:
            x = pool(2)(x)
    if pooling == "flatten":
        x = keras.layers.Flatten()(x)
    elif pooling == "avg":
        x = (
            keras.layers.GlobalAveragePooling2D()
            if two_d
            else keras.layers.GlobalAveragePooling1D()
        )(x)
    else:
        x = (
            keras.layers.GlobalMaxPooling2D()
            if two_d
            else keras.layers.GlobalMaxPooling1D()
        )(x)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probs", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="cnn")
