"""Fitting a model whose body starts with a frozen feature layer.

A family such as `rocket` computes fixed features (MiniRocket's random
convolutions) and trains only a head on them. Fitted like any model, the
features would be recomputed for every batch of every epoch: on OSULeaf
that is seconds an epoch, for a head that trains in milliseconds. Here the
features of the training and validation data are computed once per `fit`
and the head is trained on them; its layers are the model's own, so the
model ends up trained, and every callback still sees the whole model (the
best epoch's weights, early stopping, TensorBoard), through
`_WholeModelCallback`.

The model must be the pipeline's chain: input, preprocessing layers, then
the family's body, a nested model whose first layer after its input is the
stem (a layer with `frozen_stem = True`) and whose last is the head, a
nested model taking the stem's features.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


@dataclass(frozen=True)
class FrozenStem:
    """Where a model's frozen features end and its trained head begins."""

    model: keras.Model
    prefix: tuple[keras.layers.Layer, ...]  # preprocessing, then the stem
    head: keras.Model

    def features(self, x):
        """The stem's features of a batch of raw inputs."""
        for layer in self.prefix:
            x = layer(x, training=False)
        return x


def find_frozen_stem(model: keras.Model) -> FrozenStem | None:
    """The frozen stem and head of `model`, or None when it has no stem."""
    prefix: list[keras.layers.Layer] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            inner = [
                sub
                for sub in layer.layers
                if not isinstance(sub, keras.layers.InputLayer)
            ]
            if not inner or not getattr(inner[0], "frozen_stem", False):
                return None
            if len(inner) != 2 or not isinstance(inner[1], keras.Model):
                raise ValueError(
                    f"The body {layer.name!r} starts with the frozen stem "
                    f"{inner[0].name!r} but holds {[s.name for s in inner]}; "
                    "expected the stem, then one nested head model."
                )
            return FrozenStem(model, (*prefix, inner[0]), inner[1])
        prefix.append(layer)
    return None


def fit(model: keras.Model, x=None, y=None, validation_data=None, **kwargs):
    """`model.fit`, computing frozen features once when the model has a stem.

    Takes `model.fit`'s arguments; `x` is a `tf.data.Dataset` of (inputs,
    labels) batches (or (inputs, labels, sample weights)), or arrays with
    `y`. Returns the History of the head's training, with the whole model's
    metric names.
    """
    stem = find_frozen_stem(model)
    train = validation = None
    if stem is not None:
        train = _feature_dataset(stem, x if y is None else (x, y), shuffle_seed=0)
    if train is not None and validation_data is not None:
        validation = _feature_dataset(stem, validation_data, shuffle_seed=None)
    if train is None or (validation is None and validation_data is not None):
        # No stem, or features too large to hold: the whole model trains,
        # computing the (frozen) features of every batch as it goes.
        return model.fit(x, y, validation_data=validation_data, **kwargs)
    stem.head.compile_from_config(model.get_compile_config())
    # No backup: a trial on computed features lasts seconds, and a resume
    # would restore the whole model's optimizer, which never trains here.
    callbacks = [
        _WholeModelCallback(c, model)
        for c in kwargs.pop("callbacks", ())
        if not isinstance(c, keras.callbacks.BackupAndRestore)
    ]
    return stem.head.fit(
        train, validation_data=validation, callbacks=callbacks, **kwargs
    )


# Computed features are held in memory up to this many bytes; beyond it
# (a large dataset) the whole model trains instead, in bounded memory.
FEATURE_BYTES = 1 << 30


def _feature_dataset(stem: FrozenStem, data, shuffle_seed: int | None):
    """The features of every batch of `data`, batched as `data` was, or None
    when they outgrow `FEATURE_BYTES`.

    Augmentation in `data` is applied once, to the pass computed here.
    """
    if not isinstance(data, tf.data.Dataset):
        data = tf.data.Dataset.from_tensor_slices(tuple(data)).batch(32)
    transform = tf.function(stem.features)
    parts: list[list[np.ndarray]] = []
    batch_size, held = 1, 0
    for batch in data:
        inputs, *rest = batch
        batch_size = max(batch_size, int(tf.shape(inputs)[0]))
        row = [transform(inputs).numpy(), *(np.asarray(r) for r in rest)]
        held += row[0].nbytes
        if held > FEATURE_BYTES:
            return None
        parts.append(row)
    arrays = tuple(np.concatenate(column) for column in zip(*parts, strict=True))
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(
            len(arrays[0]), seed=shuffle_seed, reshuffle_each_iteration=True
        )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class _WholeModelCallback(keras.callbacks.Callback):
    """Runs `callback` against the whole model while only its head trains.

    The head's layers are the model's own, so the whole model's weights
    are the trained ones: best-epoch checkpoints and backups save a model
    that reloads as built. Early stopping sets the whole model's
    `stop_training`, passed on to the head's training loop.
    """

    def __init__(self, callback: keras.callbacks.Callback, whole: keras.Model):
        super().__init__()
        self.callback = callback
        self.whole = whole
        for hook in _HOOKS:
            setattr(self, hook, getattr(callback, hook))

    def set_model(self, model):
        super().set_model(model)
        self.whole.stop_training = False
        self.callback.set_model(self.whole)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)

    def on_epoch_end(self, epoch, logs=None):
        self.callback.on_epoch_end(epoch, logs)
        if self.whole.stop_training:
            self.model.stop_training = True
