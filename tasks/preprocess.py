"""Preprocess stage: statistics fitted on the training split only.

They become a `Normalization` layer inside the model, so the published model
takes raw inputs and serving needs no separate preprocessing step.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from tasks.stage import stage


@dataclass(frozen=True)
class Preprocessing:
    """Per-channel (images) or per-feature (sequences) mean and variance."""

    mean: list[float]
    variance: list[float]

    def layer(self) -> keras.layers.Layer:
        """A fresh, serialisable normalisation layer with the fitted statistics."""
        return keras.layers.Normalization(
            axis=-1, mean=self.mean, variance=self.variance, name="normalize"
        )


def fit_preprocessing(x_train: np.ndarray) -> Preprocessing:
    """Fit normalisation statistics over every axis but the last.

    NaN (padding) is ignored; a constant channel gets variance 1 so it is not
    divided by zero.
    """
    flat = x_train.reshape(-1, x_train.shape[-1]).astype("float64")
    mean = np.nan_to_num(np.nanmean(flat, axis=0))
    variance = np.nan_to_num(np.nanvar(flat, axis=0))
    variance[variance < 1e-12] = 1.0
    return Preprocessing(mean=mean.tolist(), variance=variance.tolist())


fit_preprocessing_task = stage("preprocess")(fit_preprocessing)
