"""1-D convolution networks for series: the CNN family's body on sequences."""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.layers import MaskNaN

# The FCN's batch-norm statistics follow the weights within ~10 steps (Keras's
# 0.99 needs ~100: PyTorch's default is this 0.9). A 40-series set takes 5
# steps an epoch, and with 0.99 the validation loss of GunPoint's folds spiked
# to 6 at epoch 50 and early stopping kept epoch 0-13 (mean fold loss 0.66);
# with 0.9 the folds reached 0.0005-0.046 at epochs 140-299.
FCN_MOMENTUM = 0.9


def series_features(hp: kt.HyperParameters, inputs):
    """Pooled features of a fully convolutional network (FCN) over a series.

    Wang et al. 2017's FCN: three convolution, batch-norm, ReLU blocks with
    kernels 8, 5 and 3, global average pooling; the strongest simple
    baseline in Ismail Fawaz et al.'s 2019 review.
    """
    # NaN-padded steps become zeros. Convolutions cannot use a mask, so
    # none is emitted (Keras would warn that Conv1D drops it).
    x = MaskNaN(emit_mask=False)(inputs)
    architecture = hp.Choice("cnn/architecture", ["fcn"], default="fcn")
    with hp.conditional_scope("cnn/architecture", [architecture]):
        return _fcn(hp, x)


def _fcn(hp: kt.HyperParameters, x):
    """Wang et al.'s FCN on series: widths f, 2f, f; kernels 8, 5, 3; GAP."""
    filters = hp.Choice("cnn/fcn_filters", [32, 64, 128], default=64)
    for width, kernel in ((filters, 8), (2 * filters, 5), (filters, 3)):
        x = keras.layers.Conv1D(width, kernel, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=FCN_MOMENTUM)(x)
        x = keras.layers.Activation("relu")(x)
    return keras.layers.GlobalAveragePooling1D()(x)
