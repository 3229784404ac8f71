"""Convolution blocks for images (2-D) and token ids (1-D): the CNN body.

A trial picks a block type (`plain` VGG-style, `residual` ResNet basic block
or `separable` MobileNet/Xception-style), the number of blocks, the width of
the first block (doubled per block), the kernel size, the global pooling and
a dense head. Whatever it picks, the body stays within `MAX_PARAMETERS`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import keras
import keras_tuner as kt

from model_builders.input_spec import InputSpec

logger = logging.getLogger(__name__)

# The largest body (convolutions and dense head) a trial may build. Two million
# weights is ResNet-18-on-CIFAR territory divided by five: enough for the
# small datasets the CNN family is tuned on (digits, 28x28, 64x64, a few
# thousand 224x224 images), it trains a trial on a CPU in minutes, and it
# rules out the 25M-weight Dense that flattening a 56x56 map used to build.
MAX_PARAMETERS = 2_000_000
# "flatten" keeps where things are, which helps only on a small final map; on
# a larger one the Dense after it grows with the number of positions.
MAX_FLATTEN_POSITIONS = 16
# Larger images are first downsampled by strided convolutions to at most this
# side, so the blocks never run at full resolution on 224x224 inputs.
MAX_STEM_SIDE = 32
# Shrinking halves the filters down to this width, no further.
MIN_FILTERS = 8


@dataclass(frozen=True)
class _Body:
    """The sampled shape of one trial's body."""

    block: str
    num_blocks: int
    filters: int
    kernel_size: int
    pooling: str
    dense_units: int
    dropout: float


def image_features(hp: kt.HyperParameters, inputs, input_spec: InputSpec):
    """Pooled features of a stack of convolution blocks over images or token ids.

    Texts are embedded first (`cnn/embedding_dim`). Images whose smaller side
    exceeds `MAX_STEM_SIDE` pass a stem of stride-2 convolutions first. Each
    block is followed by max pooling while the map can still be halved; then
    global average or max pooling, or flattening when the last map has at most
    `MAX_FLATTEN_POSITIONS` positions (on a larger map "flatten" falls back to
    average pooling); then dropout, a ReLU dense layer and dropout.

    Parameter budget: if the body (everything after the embedding, before the
    classifier that `cnn.build` adds) would have more than `MAX_PARAMETERS`
    weights, it is shrunk deterministically: "flatten" becomes "avg" first,
    then the filters are halved until it fits, so every sampled configuration
    trains. The trial's hyperparameters still show the sampled values; the
    shrink is logged. The embedding table is not counted: its size is set by
    the vocabulary, and it is a lookup, not computation.

    Args:
        hp: the trial's hyperparameters; names are `cnn/block`,
            `cnn/num_blocks`, `cnn/filters`, `cnn/kernel_size`,
            `cnn/pooling`, `cnn/dense_units`, `cnn/dropout` and, for text,
            `cnn/embedding_dim`.
        inputs: the model's input tensor, shaped as `input_spec.shape`.
        input_spec: an `"image"` or `"text"` (token ids) spec.

    Returns:
        A tensor of shape (batch, `cnn/dense_units`).

    Raises:
        keras_tuner.errors.FailedTrialError: when even `MIN_FILTERS` filters
            exceed the budget (only for inputs with thousands of channels).
    """
    x = inputs
    if input_spec.kind == "text":
        embed_dim = hp.Choice("cnn/embedding_dim", [32, 64, 128], default=64)
        x = keras.layers.Embedding(input_spec.vocab_size, embed_dim)(x)
    two_d = input_spec.kind == "image"
    body = _fit_budget(_sample(hp), tuple(x.shape[1:]), two_d)
    return _build_body(body, x, two_d)


def _sample(hp: kt.HyperParameters) -> _Body:
    return _Body(
        block=hp.Choice(
            "cnn/block", ["plain", "residual", "separable"], default="plain"
        ),
        num_blocks=hp.Int("cnn/num_blocks", 1, 3, default=2),
        filters=hp.Choice("cnn/filters", [16, 32, 64], default=32),
        kernel_size=hp.Choice("cnn/kernel_size", [3, 5], default=3),
        pooling=hp.Choice("cnn/pooling", ["avg", "max", "flatten"], default="avg"),
        dense_units=hp.Choice("cnn/dense_units", [64, 128, 256], default=128),
        dropout=hp.Float("cnn/dropout", 0.0, 0.5, step=0.1, default=0.3),
    )


def _count_body_parameters(body: _Body, shape: tuple[int, ...], two_d: bool) -> int:
    """Weights of `body` built on a fresh input of `shape` (batch axis excluded)."""
    probe = keras.Input(shape=shape)
    return keras.Model(probe, _build_body(body, probe, two_d)).count_params()


def _fit_budget(body: _Body, shape: tuple[int, ...], two_d: bool) -> _Body:
    """The sampled body, or the first smaller one within `MAX_PARAMETERS`."""
    sampled = body
    count = _count_body_parameters(body, shape, two_d)
    while count > MAX_PARAMETERS:
        if body.pooling == "flatten":
            body = replace(body, pooling="avg")
        elif body.filters > MIN_FILTERS:
            body = replace(body, filters=max(MIN_FILTERS, body.filters // 2))
        else:
            raise kt.errors.FailedTrialError(
                f"The CNN body for input shape {shape} has {count:,} weights even "
                f"with {MIN_FILTERS} filters; expected at most {MAX_PARAMETERS:,}. "
                "Reduce the number of input channels or the embedding size."
            )
        count = _count_body_parameters(body, shape, two_d)
    if body != sampled:
        logger.info(
            "CNN body over the %s-weight budget: built pooling=%s, filters=%s "
            "instead of the sampled pooling=%s, filters=%s (%s weights).",
            f"{MAX_PARAMETERS:,}",
            body.pooling,
            body.filters,
            sampled.pooling,
            sampled.filters,
            f"{count:,}",
        )
    return body


def _build_body(body: _Body, x, two_d: bool):
    """Stem, blocks with pooling between them, global pooling and dense head."""
    if two_d:
        x = _stem(x, body.filters)
    pool = keras.layers.MaxPooling2D if two_d else keras.layers.MaxPooling1D
    for index in range(body.num_blocks):
        width = body.filters * 2**index
        if body.block == "residual":
            x = _residual_block(x, width, body.kernel_size, two_d)
        elif body.block == "separable":
            x = _separable_block(x, width, body.kernel_size, two_d)
        else:
            x = _plain_block(x, width, body.kernel_size, two_d)
        # Pool only while the smallest spatial side can still be halved.
        if min(x.shape[1:-1]) >= 4:
            x = pool(2)(x)
    x = _global_pool(x, body.pooling, two_d)
    x = keras.layers.Dropout(body.dropout)(x)
    x = keras.layers.Dense(body.dense_units, activation="relu")(x)
    return keras.layers.Dropout(body.dropout)(x)


def _stem(x, filters: int):
    """Stride-2 conv-BN-ReLU layers until the smaller side is <= MAX_STEM_SIDE."""
    while min(x.shape[1:3]) > MAX_STEM_SIDE:
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(
            x
        )
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
    return x


def _global_pool(x, pooling: str, two_d: bool):
    positions = math.prod(x.shape[1:-1])
    if pooling == "flatten" and positions <= MAX_FLATTEN_POSITIONS:
        return keras.layers.Flatten()(x)
    # "flatten" on a larger map would feed positions x channels features to
    # the dense head (25M weights on a 224x224 image); average instead.
    suffix = "2D" if two_d else "1D"
    name = "GlobalMaxPooling" if pooling == "max" else "GlobalAveragePooling"
    return getattr(keras.layers, name + suffix)()(x)


def _conv_bn(x, layer, width: int, kernel_size: int, relu: bool = True):
    x = layer(width, kernel_size, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x) if relu else x


def _plain_block(x, width: int, kernel_size: int, two_d: bool):
    """VGG-style: conv-BN-ReLU, then conv-ReLU."""
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    x = _conv_bn(x, conv, width, kernel_size)
    return conv(width, kernel_size, padding="same", activation="relu")(x)


def _residual_block(x, width: int, kernel_size: int, two_d: bool):
    """ResNet basic block: two conv-BN, an identity or 1x1-projection shortcut."""
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    shortcut = x
    if x.shape[-1] != width:
        shortcut = _conv_bn(x, conv, width, 1, relu=False)
    x = _conv_bn(x, conv, width, kernel_size)
    x = _conv_bn(x, conv, width, kernel_size, relu=False)
    x = keras.layers.Add()([shortcut, x])
    return keras.layers.Activation("relu")(x)


def _separable_block(x, width: int, kernel_size: int, two_d: bool):
    """MobileNet/Xception-style: two depthwise-separable conv-BN-ReLU."""
    conv = keras.layers.SeparableConv2D if two_d else keras.layers.SeparableConv1D
    x = _conv_bn(x, conv, width, kernel_size)
    return _conv_bn(x, conv, width, kernel_size)
