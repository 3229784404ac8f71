"""Convolutional family: 2-D convolutions on images, 1-D on sequences and tokens."""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec
from model_builders.layers import MaskNaN

# Convolutions compile well with XLA on GPU.
CAPABILITIES = Capabilities(xla=True)

# The FCN's batch-norm statistics follow the weights within ~10 steps (Keras's
# 0.99 needs ~100: PyTorch's default is this 0.9). A 40-series set takes 5
# steps an epoch, and with 0.99 the validation loss of GunPoint's folds spiked
# to 6 at epoch 50 and early stopping kept epoch 0-13 (mean fold loss 0.66);
# with 0.9 the folds reached 0.0005-0.046 at epochs 140-299.
FCN_MOMENTUM = 0.9


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled CNN classifier ending in a softmax.

    Series choose an architecture: a fully convolutional network (FCN: three
    convolution, batch-norm, ReLU blocks with kernels 8, 5 and 3, global
    average pooling; Wang et al. 2017, the strongest simple baseline in
    Ismail Fawaz et al.'s 2019 review and the default here) or the VGG-style
    stack images and texts use: blocks of convolution, batch normalisation
    and pooling, the width of the first block (doubled per block), the kernel
    size, global pooling, a dense head and dropout.

    Args:
        hp: the trial's hyperparameters; names are scoped `cnn/...`.
        input_spec: the preprocessed input the model receives.
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model`.
    """
    inputs = keras.Input(shape=input_spec.shape, name="cnn_input")
    x = inputs
    architecture = "vgg"
    if input_spec.kind == "text":
        embed_dim = hp.Choice("cnn/embedding_dim", [32, 64, 128], default=64)
        x = keras.layers.Embedding(input_spec.vocab_size, embed_dim)(x)
    elif input_spec.kind == "sequence":
        # NaN-padded steps become zeros. Convolutions cannot use a mask, so
        # none is emitted (Keras would warn that Conv1D drops it).
        x = MaskNaN(emit_mask=False)(x)
        architecture = hp.Choice("cnn/architecture", ["fcn", "vgg"], default="fcn")
    if input_spec.kind != "sequence":
        x = _vgg(hp, x, two_d=input_spec.kind == "image")
    else:
        with hp.conditional_scope("cnn/architecture", [architecture]):
            x = _fcn(hp, x) if architecture == "fcn" else _vgg(hp, x, two_d=False)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probs", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="cnn")


def _fcn(hp: kt.HyperParameters, x):
    """Wang et al.'s FCN on series: widths f, 2f, f; kernels 8, 5, 3; GAP."""
    filters = hp.Choice("cnn/fcn_filters", [32, 64, 128], default=64)
    for width, kernel in ((filters, 8), (2 * filters, 5), (filters, 3)):
        x = keras.layers.Conv1D(width, kernel, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=FCN_MOMENTUM)(x)
        x = keras.layers.Activation("relu")(x)
    return keras.layers.GlobalAveragePooling1D()(x)


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
