"""Convolution blocks for images (2-D) and token ids (1-D): the CNN body."""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.input_spec import InputSpec


def image_features(hp: kt.HyperParameters, inputs, input_spec: InputSpec):
    """Pooled features of a VGG-style stack over an image or token ids.

    Blocks of convolution, batch normalisation and pooling, the width of the
    first block (doubled per block), the kernel size, global pooling, a dense
    head and dropout; texts are embedded first.
    """
    x = inputs
    if input_spec.kind == "text":
        embed_dim = hp.Choice("cnn/embedding_dim", [32, 64, 128], default=64)
        x = keras.layers.Embedding(input_spec.vocab_size, embed_dim)(x)
    return _vgg(hp, x, two_d=input_spec.kind == "image")


def _vgg(hp: kt.HyperParameters, x, two_d: bool):
    """Blocks of two convolutions and pooling, a global pool, a dense head."""
    num_blocks = hp.Int("cnn/num_blocks", 1, 3, default=2)
    filters = hp.Choice("cnn/filters", [16, 32, 64], default=32)
    kernel_size = hp.Choice("cnn/kernel_size", [3, 5], default=3)
    pooling = hp.Choice("cnn/pooling", ["avg", "max", "flatten"], default="flatten")
    dense_units = hp.Choice("cnn/dense_units", [64, 128, 256], default=128)
    dropout = hp.Float("cnn/dropout", 0.0, 0.5, step=0.1, default=0.3)
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
    else:
        suffix = "2D" if two_d else "1D"
        name = "GlobalAveragePooling" if pooling == "avg" else "GlobalMaxPooling"
        x = getattr(keras.layers, name + suffix)()(x)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    return keras.layers.Dropout(dropout)(x)
