"""Augment stage: train-only, seeded augmentation and the tf.data input pipeline.

The training set is cached once, then augmented per batch with Keras
preprocessing layers, so each epoch sees new variants while validation and
test data are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tasks.readers.stored import StoredExamples
from tasks.split import Splits
from tasks.stage import stage


@dataclass(frozen=True)
class Datasets:
    """Batched, prefetched datasets for the search; labels are one-hot."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    num_train: int


Augmenter = Callable[[tf.Tensor], tf.Tensor]


def build_augmenter(
    kind: str,
    flip: str = "none",
    rotation: float = 0.0,
    zoom: float = 0.0,
    translation: float = 0.0,
    contrast: float = 0.0,
    jitter: float = 0.0,
    scaling: float = 0.0,
    shift: float = 0.0,
    token_dropout: float = 0.0,
    feature_std: list[float] | None = None,
    seed: int = 0,
) -> Augmenter | None:
    """A batch transform for the enabled augmentations of `kind`, or None.

    Transforms are opt-in: a flip turns a 6 into a 9, so nothing is applied
    unless the config asks for it.

    Args:
        kind: `image`, `sequence` or `text`; options of other kinds are ignored.
        flip, rotation, zoom, translation, contrast: image transforms (Keras
            preprocessing layers; rotation in fractions of a full turn).
        jitter: sequences: Gaussian noise, in units of each feature's std.
        scaling: sequences: std of a per-series random gain around 1.
        shift: sequences: shift in time by up to this fraction of the steps,
            filling with NaN (padding, masked by the model).
        token_dropout: texts: the share of words dropped at random.
        feature_std: sequences: per-feature std of the training data.
        seed: seeds every random transform.
    """
    if kind == "image":
        return _image_augmenter(flip, rotation, zoom, translation, contrast, seed)
    if kind == "sequence" and (jitter or scaling or shift):
        std = tf.constant(feature_std or [1.0], dtype="float32")
        return lambda x: _augment_sequences(x, jitter, scaling, shift, std, seed)
    if kind == "text" and token_dropout:
        return lambda x: _drop_tokens(x, token_dropout, seed)
    return None


def _image_augmenter(
    flip: str,
    rotation: float,
    zoom: float,
    translation: float,
    contrast: float,
    seed: int,
) -> keras.Sequential | None:
    layers: list[keras.layers.Layer] = []
    if flip != "none":
        mode = "horizontal_and_vertical" if flip == "both" else flip
        layers.append(keras.layers.RandomFlip(mode, seed=seed))
    if rotation:
        layers.append(
            keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed + 1)
        )
    if zoom:
        layers.append(
            keras.layers.RandomZoom(zoom, fill_mode="constant", seed=seed + 2)
        )
    if translation:
        layers.append(
            keras.layers.RandomTranslation(
                translation, translation, fill_mode="constant", seed=seed + 3
            )
        )
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, seed=seed + 4))
    if not layers:
        return None
    model = keras.Sequential(layers, name="augment")
    return lambda x: model(x, training=True)


def _augment_sequences(
    x: tf.Tensor,
    jitter: float,
    scaling: float,
    shift: float,
    std: tf.Tensor,
    seed: int,
) -> tf.Tensor:
    """Jitter, scale and shift a batch (B, T, F); NaN padding stays NaN."""
    batch, steps = tf.shape(x)[0], tf.shape(x)[1]
    if jitter:
        x = x + tf.random.normal(tf.shape(x), seed=seed) * jitter * std
    if scaling:
        x = x * tf.random.normal([batch, 1, 1], 1.0, scaling, seed=seed + 1)
    if shift:
        max_shift = tf.maximum(1, tf.cast(tf.cast(steps, "float32") * shift, "int32"))
        offset = tf.random.uniform([], -max_shift, max_shift + 1, "int32", seed + 2)
        rolled = tf.roll(x, offset, axis=1)
        index = tf.range(steps)
        wrapped = tf.logical_or(index < offset, index >= steps + offset)
        x = tf.where(wrapped[None, :, None], tf.constant(np.nan, x.dtype), rolled)
    return x


def _drop_tokens(texts: tf.Tensor, rate: float, seed: int) -> tf.Tensor:
    """Drop each whitespace-separated word with probability `rate`."""
    words = tf.strings.split(texts)
    keep = tf.random.uniform(tf.shape(words.flat_values), seed=seed) >= rate
    kept = tf.ragged.boolean_mask(words, words.with_flat_values(keep))
    return tf.strings.reduce_join(kept, axis=-1, separator=" ")


def make_datasets(
    splits: Splits,
    batch_size: int = 32,
    augmenter: Augmenter | None = None,
    seed: int = 0,
) -> Datasets:
    """Build the train and validation pipelines once per run, not per trial."""
    num_classes = splits.num_classes

    def labels(y: np.ndarray) -> np.ndarray:
        return keras.utils.to_categorical(y, num_classes).astype("float32")

    def one_hot(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
        inputs = x.astype(str) if x.dtype.kind in "OUS" else x.astype("float32")
        return tf.data.Dataset.from_tensor_slices((inputs, labels(y)))

    if isinstance(splits.x_train, StoredExamples):
        # Files: shuffled as paths or rows, decoded (or gathered) per batch,
        # in the order an array shuffled with this seed would take.
        train = splits.x_train.batches(
            batch_size, labels(splits.y_train), shuffle_seed=seed
        )
        validation = splits.x_val.batches(
            splits.x_val.inference_batch, labels(splits.y_val)
        )
    else:
        train = (
            one_hot(splits.x_train, splits.y_train)
            .cache()
            .shuffle(len(splits.x_train), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
        )
        validation = one_hot(splits.x_val, splits.y_val).batch(256).cache()
    if augmenter is not None:
        train = train.map(
            lambda x, y: (augmenter(x), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return Datasets(
        train=train.prefetch(tf.data.AUTOTUNE),
        validation=validation.prefetch(tf.data.AUTOTUNE),
        num_train=len(splits.x_train),
    )


make_datasets_task = stage("augment")(make_datasets)
