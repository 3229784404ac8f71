"""MiniRocket's transform as a frozen Keras layer: random-convolution features.

Dempster, Schmidt and Webb (KDD 2021, github.com/angus924/minirocket): 84
fixed kernels of length 9 (weights -1, and 2 at three of the nine taps),
dilated on an exponential scale up to the series length, each output
compared with biases drawn from quantiles of one training example's
convolution output; a feature is the proportion of positive values (PPV).
Half the kernel/dilation pairs count every step, the other half only the
steps whose kernel did not reach into the padding, as in the reference.
Multivariate series get, per kernel and dilation, a random subset of the
channels summed (the reference's multivariate variant).

Nothing is trained: the biases come from `fit_minirocket` on a sample of
training series, and the features are standardised with the sample's mean
and standard deviation, so a linear head sees unit-scale inputs. The kernel
weights follow from the config's `seed`; biases and statistics are
non-trainable weights and save with the model.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
from keras import ops

KERNEL_LENGTH = 9
# The 84 ways to choose the three taps of weight 2 among nine.
TAPS = np.array(list(itertools.combinations(range(KERNEL_LENGTH), 3)), dtype="int32")
NUM_KERNELS = len(TAPS)
MAX_DILATIONS = 32  # per kernel, as the reference
MAX_CHANNELS = 9  # the most channels one multivariate kernel sums


def plan_dilations(length: int, num_features: int) -> tuple[list[int], list[int]]:
    """Dilations up to the series length and how many features each gets.

    The reference's `_fit_dilations`: `num_features // 84` features per
    kernel, spread over at most 32 dilations on a base-2 exponential scale
    from 1 to (length - 1) / 8, so the widest kernel spans the series.
    """
    per_kernel = max(1, num_features // NUM_KERNELS)
    count = min(per_kernel, MAX_DILATIONS)
    multiplier = per_kernel / count
    max_exponent = np.log2(max(length - 1, 1) / (KERNEL_LENGTH - 1))
    scale = np.logspace(0, max(max_exponent, 0.0), count, base=2).astype("int32")
    dilations, repeats = np.unique(scale, return_counts=True)
    features = (repeats * multiplier).astype("int32")
    for i in range(per_kernel - int(features.sum())):
        features[i % len(features)] += 1
    return [int(d) for d in dilations], [int(f) for f in features]


def quantiles(n: int) -> np.ndarray:
    """The reference's low-discrepancy sequence of `n` quantiles in (0, 1)."""
    golden = (np.sqrt(5.0) + 1.0) / 2.0
    return ((np.arange(1, n + 1) * golden) % 1).astype("float32")


def kernel_weights(channels: int, num_dilations: int, seed: int) -> np.ndarray:
    """Conv weights (dilations, 9, channels, 84): each kernel's taps on the
    channels it sums at that dilation (all of them for one channel)."""
    rng = np.random.default_rng(seed)
    base = -np.ones((KERNEL_LENGTH, NUM_KERNELS), dtype="float32")
    for kernel, taps in enumerate(TAPS):
        base[taps, kernel] = 2.0
    weights = np.zeros((num_dilations, KERNEL_LENGTH, channels, NUM_KERNELS), "float32")
    max_exponent = np.log2(min(channels, MAX_CHANNELS) + 1)
    for dilation in range(num_dilations):
        for kernel in range(NUM_KERNELS):
            size = int(2 ** rng.uniform(0, max_exponent)) if channels > 1 else 1
            chosen = rng.choice(channels, size=min(size, channels), replace=False)
            weights[dilation, :, chosen, kernel] = base[:, kernel]
    return weights


@keras.saving.register_keras_serializable(package="automl")
class MiniRocketFeatures(keras.layers.Layer):
    """(batch, steps, channels) series -> (batch, features) standardised PPVs.

    NaN steps (the pipeline's padding) are zero-filled and never counted:
    a series' PPV is taken over its own steps, and the "valid" half of the
    features over the steps the kernel reads without padding.

    Args:
        dilations: the dilation of each group of kernels.
        features_per_dilation: biases (features) per kernel at each dilation.
        seed: chooses the channels of multivariate kernels.
    """

    frozen_stem = True  # read by the search: features are computed once per fit

    def __init__(self, dilations, features_per_dilation, seed: int = 0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.dilations = [int(d) for d in dilations]
        self.features_per_dilation = [int(f) for f in features_per_dilation]
        self.seed = int(seed)
        self.num_features = NUM_KERNELS * sum(self.features_per_dilation)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.kernels = kernel_weights(channels, len(self.dilations), self.seed)
        self.biases = self.add_weight(
            name="biases",
            shape=(self.num_features,),
            initializer="zeros",
            trainable=False,
        )
        self.mean = self.add_weight(
            name="mean",
            shape=(self.num_features,),
            initializer="zeros",
            trainable=False,
        )
        self.std = self.add_weight(
            name="std",
            shape=(self.num_features,),
            initializer="ones",
            trainable=False,
        )

    def call(self, inputs):
        return (self.ppv(inputs) - self.mean) / self.std

    def ppv(self, inputs):
        """The raw proportions of positive values, before standardising."""
        valid = ops.any(ops.logical_not(ops.isnan(inputs)), axis=-1)  # (B, L)
        x = ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)
        length = ops.sum(ops.cast(valid, "int32"), axis=1, keepdims=True)
        steps = ops.arange(ops.shape(x)[1], dtype="int32")[None, :]
        out, start = [], 0
        for index, dilation in enumerate(self.dilations):
            count = self.features_per_dilation[index]
            conv = ops.conv(
                x, self.kernels[index], padding="same", dilation_rate=dilation
            )  # (B, L, 84)
            reach = (KERNEL_LENGTH // 2) * dilation
            inner = valid & (steps >= reach) & (steps < length - reach)
            # Kernels alternate between counting every step and inner ones.
            parity = (index + np.arange(NUM_KERNELS)) % 2 == 1
            mask = ops.cast(
                ops.where(parity[None, None, :], inner[..., None], valid[..., None]),
                "float32",
            )
            steps_counted = ops.maximum(ops.sum(mask, axis=1), 1.0)  # (B, 84)
            biases = ops.reshape(
                self.biases[start : start + NUM_KERNELS * count], (NUM_KERNELS, count)
            )
            start += NUM_KERNELS * count
            # One bias at a time: (B, L, 84) instead of (B, L, 84, count),
            # which on a series of 10,000 steps would not fit.
            for j in range(count):
                positive = ops.cast(conv > biases[:, j], "float32") * mask
                out.append(ops.sum(positive, axis=1) / steps_counted)
        # (B, 84, biases): the feature order `fit_minirocket`'s statistics use.
        return ops.reshape(ops.stack(out, axis=-1), (-1, self.num_features))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_features)

    def get_config(self):
        return {
            **super().get_config(),
            "dilations": self.dilations,
            "features_per_dilation": self.features_per_dilation,
            "seed": self.seed,
        }


def fit_minirocket(layer: MiniRocketFeatures, series: np.ndarray, seed: int = 0):
    """Set `layer`'s biases and feature statistics from training `series`.

    Each kernel/dilation pair takes its biases from the quantiles of one
    randomly chosen series' convolution output over that series' own steps
    (the reference's `_fit_biases`); then the features of every series give
    the mean and standard deviation (a constant feature gets 1).

    Args:
        layer: a built `MiniRocketFeatures`.
        series: (examples, steps, channels) normalised training series,
            NaN-padded at the end.
        seed: chooses the example per pair.
    """
    rng = np.random.default_rng(seed)
    values = quantiles(layer.num_features)
    biases, start = [], 0
    for index, dilation in enumerate(layer.dilations):
        count = layer.features_per_dilation[index]
        for kernel in range(NUM_KERNELS):
            example = series[rng.integers(len(series))]
            output = _convolve(example, layer.kernels[index][:, :, kernel], dilation)
            # Row-major (kernel, bias j) order, as `ppv`'s reshape reads it.
            biases.append(np.quantile(output, values[start : start + count]))
            start += count
    layer.biases.assign(np.concatenate(biases).astype("float32"))
    ppv = np.concatenate(
        [
            ops.convert_to_numpy(layer.ppv(series[i : i + 32]))
            for i in range(0, len(series), 32)
        ]
    )
    std = ppv.std(axis=0)
    layer.mean.assign(ppv.mean(axis=0))
    layer.std.assign(np.where(std > 1e-6, std, 1.0).astype("float32"))


def _convolve(example: np.ndarray, weights: np.ndarray, dilation: int) -> np.ndarray:
    """One kernel's "same" convolution over one series' own (non-NaN) steps."""
    valid = ~np.isnan(example).all(axis=-1)
    x = np.nan_to_num(example[valid])  # (steps, channels)
    reach = (KERNEL_LENGTH // 2) * dilation
    padded = np.pad(x, ((reach, reach), (0, 0)))
    steps = len(x)
    taps = [padded[t * dilation : t * dilation + steps] for t in range(KERNEL_LENGTH)]
    return np.einsum("tlc,tc->l", np.stack(taps), weights)
