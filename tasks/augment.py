"""Augment stage: train-only, seeded augmentation and the tf.data input pipeline.

The training set is cached once, then augmented per batch with Keras
preprocessing layers, so each epoch sees new variants while validation and
test data are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tasks.split import Splits
from tasks.stage import stage


@dataclass(frozen=True)
class Datasets:
    """Batched, prefetched datasets for the search; labels are one-hot."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    num_train: int


def build_augmenter(
    kind: str,
    flip: str = "none",
    rotation: float = 0.0,
    zoom: float = 0.0,
    translation: float = 0.0,
    contrast: float = 0.0,
    seed: int = 0,
) -> keras.Sequential | None:
    """Keras preprocessing layers for the enabled image transforms, or None.

    Transforms are opt-in: a flip turns a 6 into a 9, so nothing is applied
    unless the config asks for it. Sequences and text get their own
    augmentation in a later stage of the project; for them this returns None.
    """
    if kind != "image":
        return None
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
    return keras.Sequential(layers, name="augment")


def make_datasets(
    splits: Splits,
    batch_size: int = 32,
    augmenter: keras.Sequential | None = None,
    seed: int = 0,
) -> Datasets:
    """Build the train and validation pipelines once per run, not per trial."""
    num_classes = splits.num_classes

    def one_hot(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
        labels = keras.utils.to_categorical(y, num_classes).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x.astype("float32"), labels))

    train = (
        one_hot(splits.x_train, splits.y_train)
        .cache()
        .shuffle(len(splits.x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    if augmenter is not None:
        train = train.map(
            lambda x, y: (augmenter(x, training=True), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    validation = one_hot(splits.x_val, splits.y_val).batch(256).cache()
    return Datasets(
        train=train.prefetch(tf.data.AUTOTUNE),
        validation=validation.prefetch(tf.data.AUTOTUNE),
        num_train=len(splits.x_train),
    )


make_datasets_task = stage("augment")(make_datasets)
