"""Attention family: a small pre-norm Transformer over patches, steps or tokens."""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec
from model_builders.layers import MaskNaN, PositionEmbedding, StepPatches
from model_builders.stems import choose_image_patch_size, choose_sequence_patch_size

# Attention and dense layers compile well with XLA on GPU.
CAPABILITIES = Capabilities(xla=True)


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled Transformer classifier ending in a softmax.

    The search space: the number of pre-norm blocks (self-attention and a
    feed-forward, each with a residual), heads, the embedding and feed-forward
    widths, dropout, a dense head, and the patch size for images and series.
    Images become patches, series steps (or patches of steps), texts tokens;
    a learned position embedding is added. The mask from NaN-padded steps or
    padding tokens reaches every attention layer (as query and value mask)
    and the average pooling, so padding is never attended to or averaged.

    Args:
        hp: the trial's hyperparameters; names are scoped `transformer/...`.
        input_spec: the preprocessed input the model receives.
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model`.
    """
    num_blocks = hp.Int("transformer/num_blocks", 1, 3, default=2)
    num_heads = hp.Choice("transformer/num_heads", [2, 4], default=4)
    embed_dim = hp.Choice("transformer/embed_dim", [32, 64], default=64)
    ff_dim = hp.Choice("transformer/ff_dim", [64, 128, 256], default=128)
    dropout = hp.Float("transformer/dropout", 0.0, 0.3, step=0.1, default=0.1)
    dense_units = hp.Choice("transformer/dense_units", [64, 128, 256], default=128)

    inputs = keras.Input(shape=input_spec.shape, name="transformer_input")
    x = _tokens(hp, input_spec, inputs, embed_dim)
    x = PositionEmbedding(x.shape[1])(x)
    x = keras.layers.Dropout(dropout)(x)
    for _ in range(num_blocks):
        x = _block(x, num_heads, embed_dim, ff_dim, dropout)
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    # Averages only the unmasked steps; the mask ends here, before the loss.
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(dense_units, activation="gelu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probs", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="transformer")


def _tokens(hp: kt.HyperParameters, input_spec: InputSpec, inputs, embed_dim: int):
    """Turn any input kind into (tokens, embed_dim), masked where padded."""
    if input_spec.kind == "image":
        height, width, _ = input_spec.shape
        patch_size = choose_image_patch_size(
            hp, "transformer/patch_size", height, width
        )
        x = keras.layers.Conv2D(embed_dim, patch_size, strides=patch_size)(inputs)
        num_patches = (height // patch_size) * (width // patch_size)
        return keras.layers.Reshape((num_patches, embed_dim))(x)
    if input_spec.kind == "text":
        return keras.layers.Embedding(input_spec.vocab_size, embed_dim, mask_zero=True)(
            inputs
        )
    x = MaskNaN()(inputs)
    patch_size = choose_sequence_patch_size(
        hp, "transformer/patch_size", input_spec.shape[0]
    )
    if patch_size > 1:
        x = StepPatches(patch_size)(x)
    # A Dense on patches is a Conv1D with kernel equal to stride; unlike a
    # Conv1D it keeps the mask.
    return keras.layers.Dense(embed_dim)(x)


def _block(x, num_heads: int, embed_dim: int, ff_dim: int, dropout: float):
    """One pre-norm block: x + attention(norm(x)), then x + mlp(norm(x))."""
    h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    # Called on the masked tensor as query and value, the layer builds the
    # attention mask from both masks itself.
    h = keras.layers.MultiHeadAttention(
        num_heads, key_dim=embed_dim // num_heads, dropout=dropout
    )(h, h)
    h = keras.layers.Dropout(dropout)(h)
    x = keras.layers.Add()([x, h])
    h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    h = keras.layers.Dense(ff_dim, activation="gelu")(h)
    h = keras.layers.Dropout(dropout)(h)
    h = keras.layers.Dense(embed_dim)(h)
    h = keras.layers.Dropout(dropout)(h)
    return keras.layers.Add()([x, h])
