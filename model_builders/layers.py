"""Custom layers the families share, registered so saved models reload.

Every class is registered under the `automl` package, so a `.keras` file
loads with `keras.saving.load_model(path, safe_mode=True)` in any process
that has imported `model_builders`. Only `keras.ops` is used, so the layers
run on every backend and under XLA.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="automl")
class MaskNaN(keras.layers.Layer):
    """Zero-fills NaN and masks the steps where every feature is NaN.

    The pipeline pads series shorter than the longest one with NaN at the end.
    This layer turns those steps into zeros, so no NaN reaches a weight, and
    emits a Keras mask (True where a step has any non-NaN feature) that
    recurrent layers, attention and masked pooling honour. A step with only
    some NaN features stays visible, its missing features read as 0 (the mean
    after normalisation).

    It computes in float32 whatever the global dtype policy (unless a
    `dtype` is passed): under a mixed policy it would first round its input
    to 16 bits, and it should hand the next layer exactly what normalisation
    produced; that layer casts to its own compute dtype.

    Args:
        emit_mask: whether to attach the mask. Families whose next layer
            cannot use a mask (convolutions) pass `False`: Keras would
            otherwise warn that the convolution drops it.

    Example: on `[[[1.0], [nan]]]` it returns `[[[1.0], [0.0]]]` with the
    mask `[[True, False]]`.
    """

    def __init__(self, emit_mask: bool = True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.emit_mask = emit_mask
        self.supports_masking = True

    def call(self, inputs):
        # `where`, not a multiplication: NaN * 0 is still NaN.
        return ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)

    def compute_mask(self, inputs, mask=None):
        if not self.emit_mask:
            return None
        return ops.any(ops.logical_not(ops.isnan(inputs)), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "emit_mask": self.emit_mask}


@keras.saving.register_keras_serializable(package="automl")
class StepPatches(keras.layers.Layer):
    """Groups every `patch_size` consecutive steps into one, keeping the mask.

    (steps, features) becomes (ceil(steps / patch_size), patch_size * features):
    a parameter-free strided front that shortens long series before an LSTM or
    attention (a following Dense makes it a strided Conv1D with kernel equal
    to stride). The end is zero-padded to a whole patch. A patch is masked
    only when all its steps are masked; a partly padded patch stays visible,
    and its padded steps are the zeros `MaskNaN` wrote, so their original
    values still cannot reach the model.

    Args:
        patch_size: how many steps form one patch.
    """

    def __init__(self, patch_size: int, **kwargs):
        super().__init__(**kwargs)
        if patch_size < 1:
            raise ValueError(
                f"StepPatches received patch_size={patch_size}; expected an "
                "integer >= 1."
            )
        self.patch_size = patch_size
        self.supports_masking = True

    def _pad_steps(self, x, value):
        steps = ops.shape(x)[1]
        extra = (-steps) % self.patch_size
        padding = [[0, 0], [0, extra]] + [[0, 0]] * (len(x.shape) - 2)
        return ops.pad(x, padding, constant_values=value)

    def call(self, inputs):
        x = self._pad_steps(inputs, 0)
        num_patches = ops.shape(x)[1] // self.patch_size
        return ops.reshape(x, (-1, num_patches, self.patch_size * inputs.shape[-1]))

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        mask = self._pad_steps(ops.cast(mask, "bool"), False)
        num_patches = ops.shape(mask)[1] // self.patch_size
        return ops.any(ops.reshape(mask, (-1, num_patches, self.patch_size)), -1)

    def compute_output_shape(self, input_shape):
        batch, steps, features = input_shape
        if steps is not None:
            steps = -(-steps // self.patch_size)
        return (batch, steps, self.patch_size * features)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="automl")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each step's position to a (steps, dim) input.

    Keras core has no position embedding; attention alone is blind to order.
    The table has one row per position up to `sequence_length`; a shorter
    input uses the first rows. The input's mask passes through unchanged.

    Args:
        sequence_length: the most steps an input may have.
        initializer: how the table starts.
    """

    def __init__(
        self,
        sequence_length: int,
        initializer: str = "glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        positions = ops.slice(
            self.position_embeddings, (0, 0), (steps, ops.shape(inputs)[-1])
        )
        return inputs + ops.cast(positions, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@keras.saving.register_keras_serializable(package="automl")
class MaskedGlobalAveragePooling1D(keras.layers.Layer):
    """Averages features over the steps where the raw series has data.

    Convolutions cannot carry a Keras mask, so this layer rebuilds it from
    the raw, NaN-padded input instead: a step is valid when any of its
    features is not NaN (as `MaskNaN` decides). Called as
    `layer([features, raw_inputs])` with features `(batch, steps, channels)`
    and raw inputs `(batch, steps, features)`, it returns
    `(batch, channels)`: the mean over valid steps only, so padding is never
    averaged in. Without padding it equals `GlobalAveragePooling1D`; a
    series with no valid step pools to zeros rather than NaN.

    It computes in float32 whatever the global dtype policy (unless a
    `dtype` is passed): a 16-bit sum over hundreds of steps loses the digits
    that tell classes apart.

    Example: features `[[[1.0], [3.0], [7.0]]]` with raw inputs
    `[[[0.5], [0.2], [nan]]]` pool to `[[2.0]]`.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "MaskedGlobalAveragePooling1D received "
                f"{len(input_shape)} inputs; expected [features, raw_inputs]. "
                "Pass the raw series as the second input."
            )
        features, raw = input_shape
        if features[1] is not None and raw[1] is not None and features[1] != raw[1]:
            raise ValueError(
                "MaskedGlobalAveragePooling1D received features with "
                f"{features[1]} steps and raw inputs with {raw[1]}; expected "
                'the same number. Keep `padding="same"` and stride 1 in every '
                "layer before the pooling."
            )

    def call(self, inputs):
        features, raw = inputs
        features = ops.cast(features, self.compute_dtype)
        valid = ops.any(ops.logical_not(ops.isnan(raw)), axis=-1, keepdims=True)
        # `where`, not a multiplication by the mask: a NaN feature on a
        # padded step would survive NaN * 0.
        total = ops.sum(ops.where(valid, features, 0.0), axis=1)
        # max(count, 1): an all-padding series averages to 0, not 0 / 0.
        count = ops.sum(ops.cast(valid, self.compute_dtype), axis=1)
        return total / ops.maximum(count, 1.0)

    def compute_output_shape(self, input_shape):
        features, _ = input_shape
        return (features[0], features[2])
