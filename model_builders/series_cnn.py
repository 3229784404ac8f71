"""1-D convolution networks for series: the CNN family's body on sequences.

The three strongest deep baselines on small time-series sets (Ismail Fawaz
et al. 2019's review; InceptionTime, 2020): Wang et al.'s FCN and ResNet,
and InceptionTime's network. All keep `padding="same"` and stride 1, so
every layer has one output step per input step and the pooling can skip the
NaN-padded steps of the raw input.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.layers import MaskedGlobalAveragePooling1D, MaskNaN

# The FCN's batch-norm statistics follow the weights within ~10 steps (Keras's
# 0.99 needs ~100: PyTorch's default is this 0.9). A 40-series set takes 5
# steps an epoch, and with 0.99 the validation loss of GunPoint's folds spiked
# to 6 at epoch 50 and early stopping kept epoch 0-13 (mean fold loss 0.66);
# with 0.9 the folds reached 0.0005-0.046 at epochs 140-299. ResNet and
# Inception train on the same small sets, so they share it.
FCN_MOMENTUM = 0.9

ARCHITECTURES = ["fcn", "resnet", "inception"]
# InceptionTime's kernels: 40, 20 and 10 made odd, so "same" padding is
# symmetric about each step.
INCEPTION_KERNELS = (39, 19, 9)
INCEPTION_BOTTLENECK = 32


def series_features(hp: kt.HyperParameters, inputs):
    """Pooled features of a 1-D convolution network over a NaN-padded series.

    `cnn/architecture` picks the network; each one's hyperparameters are
    active only when it is chosen. The default, FCN, is the strongest simple
    baseline in Ismail Fawaz et al.'s 2019 review, so the first trial runs it.

    Args:
        hp: the trial's hyperparameters; names are scoped `cnn/...`.
        inputs: the raw series, `(batch, steps, features)`, padded at the end
            with all-NaN steps.

    Returns:
        The features averaged over each series' valid (non-padding) steps,
        `(batch, channels)`.
    """
    # NaN-padded steps become zeros. Convolutions cannot use a mask, so
    # none is emitted (Keras would warn that Conv1D drops it); the pooling
    # rebuilds it from `inputs`.
    x = MaskNaN(emit_mask=False)(inputs)
    architecture = hp.Choice("cnn/architecture", ARCHITECTURES, default="fcn")
    with hp.conditional_scope("cnn/architecture", [architecture]):
        if architecture == "fcn":
            x = _fcn(hp, x)
        elif architecture == "resnet":
            x = _resnet(hp, x)
        else:
            x = _inception(hp, x, steps=inputs.shape[1])
    return MaskedGlobalAveragePooling1D()([x, inputs])


def _conv_bn(x, width: int, kernel: int, relu: bool = True):
    """Convolution (no bias: the batch norm's offset replaces it), BN, ReLU."""
    x = keras.layers.Conv1D(width, kernel, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=FCN_MOMENTUM)(x)
    return keras.layers.Activation("relu")(x) if relu else x


def _fcn(hp: kt.HyperParameters, x):
    """Wang et al.'s FCN on series: widths f, 2f, f; kernels 8, 5, 3."""
    filters = hp.Choice("cnn/fcn_filters", [32, 64, 128], default=64)
    for width, kernel in ((filters, 8), (2 * filters, 5), (filters, 3)):
        x = _conv_bn(x, width, kernel)
    return x


def _resnet(hp: kt.HyperParameters, x):
    """Wang et al.'s ResNet: three residual blocks of widths f, 2f, 2f.

    Each block is three convolutions (kernels 8, 5, 3) with batch norm, the
    last without ReLU, added to a shortcut (a 1x1 convolution and batch
    norm where the width changes, batch norm alone where it does not), then
    ReLU. The reference uses f = 64; 32 is searched too for CPU budgets.
    """
    filters = hp.Choice("cnn/resnet_filters", [32, 64], default=64)
    for width in (filters, 2 * filters, 2 * filters):
        shortcut = x
        x = _conv_bn(x, width, 8)
        x = _conv_bn(x, width, 5)
        x = _conv_bn(x, width, 3, relu=False)
        if shortcut.shape[-1] != width:
            shortcut = keras.layers.Conv1D(width, 1, use_bias=False)(shortcut)
        shortcut = keras.layers.BatchNormalization(momentum=FCN_MOMENTUM)(shortcut)
        x = keras.layers.Add()([shortcut, x])
        x = keras.layers.Activation("relu")(x)
    return x


def inception_kernel_sizes(steps: int | None) -> list[int]:
    """InceptionTime's kernel sizes, capped by the series length.

    A kernel longer than the series only multiplies padding, so each size
    becomes min(size, steps), rounded down to odd, and at least 3.

    Args:
        steps: the number of steps in the series, or None when unknown.

    Returns:
        Three odd kernel sizes, longest first.

    Example: `inception_kernel_sizes(16)` is `[15, 15, 9]`.
    """
    if steps is None:
        return list(INCEPTION_KERNELS)
    capped = [min(kernel, steps) for kernel in INCEPTION_KERNELS]
    return [max(3, kernel if kernel % 2 else kernel - 1) for kernel in capped]


def _inception(hp: kt.HyperParameters, x, steps: int | None):
    """InceptionTime's network: inception modules, a shortcut every third.

    Each shortcut is a 1x1 convolution and batch norm of the input of the
    last three modules, added to their output, then ReLU.
    """
    filters = hp.Choice("cnn/inception_filters", [16, 32], default=32)
    depth = hp.Choice("cnn/inception_depth", [3, 6], default=6)
    kernels = inception_kernel_sizes(steps)
    residual = x
    for module in range(depth):
        x = _inception_module(x, filters, kernels)
        if module % 3 == 2:
            shortcut = keras.layers.Conv1D(x.shape[-1], 1, use_bias=False)(residual)
            shortcut = keras.layers.BatchNormalization(momentum=FCN_MOMENTUM)(shortcut)
            x = keras.layers.Add()([shortcut, x])
            x = keras.layers.Activation("relu")(x)
            residual = x
    return x


def _inception_module(x, filters: int, kernels: list[int]):
    """Bottleneck, three parallel convolutions and a max-pool branch; BN, ReLU.

    The bottleneck (a 1x1 convolution to 32 channels) is skipped on a
    single-channel input, which it could only rescale. The max-pool branch reads
    the module's input, not the bottleneck's output.
    """
    branch_input = x
    if x.shape[-1] > 1:
        branch_input = keras.layers.Conv1D(INCEPTION_BOTTLENECK, 1, use_bias=False)(x)
    branches = [
        keras.layers.Conv1D(filters, kernel, padding="same", use_bias=False)(
            branch_input
        )
        for kernel in kernels
    ]
    pooled = keras.layers.MaxPooling1D(3, strides=1, padding="same")(x)
    branches.append(keras.layers.Conv1D(filters, 1, use_bias=False)(pooled))
    x = keras.layers.Concatenate()(branches)
    x = keras.layers.BatchNormalization(momentum=FCN_MOMENTUM)(x)
    return keras.layers.Activation("relu")(x)
