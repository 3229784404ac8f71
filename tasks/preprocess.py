"""Preprocess stage: statistics and vocabularies fitted on the training split only.

They become layers inside the model (a `Normalization`, or a
`TextVectorization` for text), so the published model takes raw inputs and
serving needs no separate preprocessing step. The `Normalization` computes in
float32 under every dtype policy: under `mixed_bfloat16` it would round raw
inputs to 8 significant bits first (1001 and 1000 become one value), so a
series offset by 1e3 would lose everything below 4. The family's first layer
casts the small normalised values to the policy's compute dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from model_builders import InputSpec
from tasks.stage import stage


@dataclass(frozen=True)
class Preprocessing:
    """What the model does to raw inputs before a family's body sees them.

    Attributes:
        kind: the data kind.
        input_shape: the raw per-example shape (`()` for a text string).
        mean, variance: per-channel or per-feature statistics (images, sequences).
        vocabulary: the tokens learnt from the training texts (text).
        text_length: tokens kept per text (text).
    """

    kind: str
    input_shape: tuple[int, ...]
    mean: list[float] | None = None
    variance: list[float] | None = None
    vocabulary: list[str] | None = None
    text_length: int | None = None

    def inputs(self) -> keras.KerasTensor:
        """The model's raw input: floats, or one string per example."""
        dtype = "string" if self.kind == "text" else "float32"
        return keras.Input(shape=self.input_shape, dtype=dtype, name="inputs")

    def layer(self) -> keras.layers.Layer:
        """A fresh, serialisable layer applying the fitted preprocessing."""
        if self.kind == "text":
            return keras.layers.TextVectorization(
                vocabulary=self.vocabulary,
                output_sequence_length=self.text_length,
                name="vectorize",
            )
        return keras.layers.Normalization(
            axis=-1,
            mean=self.mean,
            variance=self.variance,
            name="normalize",
            dtype="float32",  # whatever the global policy: see the module doc
        )

    @property
    def input_spec(self) -> InputSpec:
        """What a family's body receives after this preprocessing."""
        if self.kind == "text":
            # Token ids: 0 is padding, 1 out-of-vocabulary, then the vocabulary.
            return InputSpec(
                kind="text",
                shape=(self.text_length,),
                vocab_size=len(self.vocabulary) + 2,
            )
        return InputSpec(kind=self.kind, shape=self.input_shape)


def fit_preprocessing(
    x_train: np.ndarray,
    kind: str = "image",
    max_tokens: int = 20000,
    text_length: int | None = None,
) -> Preprocessing:
    """Fit preprocessing on the training inputs.

    Images and sequences get mean and variance over every axis but the last
    (NaN padding ignored; a constant channel gets variance 1, not a division
    by zero). Texts get a vocabulary of at most `max_tokens` tokens, and are
    cut or padded to `text_length` tokens (None: `covering_length`).
    """
    input_shape = tuple(x_train.shape[1:])
    if kind == "text":
        vectorizer = keras.layers.TextVectorization(max_tokens=max_tokens)
        vectorizer.adapt(np.asarray(x_train, dtype=object))
        vocabulary = [str(token) for token in vectorizer.get_vocabulary()[2:]]
        return Preprocessing(
            kind,
            input_shape,
            vocabulary=vocabulary,
            text_length=text_length or covering_length(x_train),
        )
    flat = x_train.reshape(-1, x_train.shape[-1]).astype("float64")
    mean = np.nan_to_num(np.nanmean(flat, axis=0))
    variance = np.nan_to_num(np.nanvar(flat, axis=0))
    variance[variance < 1e-12] = 1.0
    return Preprocessing(
        kind, input_shape, mean=mean.tolist(), variance=variance.tolist()
    )


# Texts are cut to the length that covers this share of training texts whole.
TEXT_LENGTH_QUANTILE = 0.95
TEXT_LENGTH_RANGE = (8, 512)


def covering_length(texts: np.ndarray) -> int:
    """Tokens that hold `TEXT_LENGTH_QUANTILE` of `texts` whole.

    Counted as whitespace-separated words, rounded up to a multiple of 8 and
    kept within `TEXT_LENGTH_RANGE`: SMS messages get 48 tokens, reviews a
    few hundred, and no example is padded to a length nobody needs.
    """
    words = [len(str(text).split()) for text in np.asarray(texts, dtype=object)]
    length = int(np.ceil(np.quantile(words, TEXT_LENGTH_QUANTILE) / 8.0) * 8)
    low, high = TEXT_LENGTH_RANGE
    return max(low, min(high, length))


fit_preprocessing_task = stage("preprocess")(fit_preprocessing)
