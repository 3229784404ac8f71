"""Preprocess stage: statistics and vocabularies fitted on the training split only.

They become layers inside the model (a `Normalization`, or a
`TextVectorization` for text), so the published model takes raw inputs and
serving needs no separate preprocessing step. The `Normalization` computes in
float32 under every dtype policy: under `mixed_bfloat16` it would round raw
inputs to 8 significant bits first (1001 and 1000 become one value), so a
series offset by 1e3 would lose everything below 4. The family's first layer
casts the small normalised values to the policy's compute dtype.

Texts also get word and character n-gram vocabularies with their inverse
document frequencies, for families that read the raw strings and build their
own TF-IDF layers (`model_builders.ngram`); they are lowercased only, so
currency signs, digits and punctuation stay features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from model_builders import InputSpec
from model_builders.ngram import NGRAM_SETTINGS
from tasks.readers.stored import StoredExamples
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
        ngram_vocabulary, ngram_idf: word 1- and 2-grams and their inverse
            document frequencies (text; no special tokens).
        char_vocabulary, char_idf: character 1- to 4-grams and theirs (text).
        reference_series: a seeded sample of at most `REFERENCE_SERIES` raw
            training series (sequences), for frozen feature layers.
    """

    kind: str
    input_shape: tuple[int, ...]
    mean: list[float] | None = None
    variance: list[float] | None = None
    vocabulary: list[str] | None = None
    text_length: int | None = None
    # Tens of thousands of entries each: kept out of the repr.
    ngram_vocabulary: list[str] | None = field(default=None, repr=False)
    ngram_idf: list[float] | None = field(default=None, repr=False)
    char_vocabulary: list[str] | None = field(default=None, repr=False)
    char_idf: list[float] | None = field(default=None, repr=False)
    reference_series: np.ndarray | None = field(default=None, repr=False, compare=False)

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
                ngram_vocabulary=_tuple(self.ngram_vocabulary),
                ngram_idf=_tuple(self.ngram_idf),
                char_vocabulary=_tuple(self.char_vocabulary),
                char_idf=_tuple(self.char_idf),
            )
        return InputSpec(
            kind=self.kind,
            shape=self.input_shape,
            reference_series=self._normalised_reference(),
        )

    def _normalised_reference(self) -> np.ndarray | None:
        """The reference series as the family's body sees them: normalised."""
        if self.reference_series is None:
            return None
        std = np.sqrt(np.asarray(self.variance, dtype="float64"))
        scaled = (self.reference_series - np.asarray(self.mean)) / std
        return scaled.astype("float32")


def fit_preprocessing(
    x_train: np.ndarray | StoredExamples,
    kind: str = "image",
    max_tokens: int = 20000,
    text_length: int | None = None,
) -> Preprocessing:
    """Fit preprocessing on the training inputs.

    Images and sequences get mean and variance over every axis but the last
    (NaN padding ignored; a constant channel gets variance 1, not a division
    by zero). Texts get a vocabulary of at most `max_tokens` tokens, and are
    cut or padded to `text_length` tokens (None: `covering_length`), and
    word and character n-gram vocabularies with idf weights (`fit_ngrams`).
    Vocabularies are counted on at most `ADAPT_TEXTS` training texts
    (`adapt_sample`).
    """
    input_shape = tuple(x_train.shape[1:])
    if kind == "text":
        vectorizer = keras.layers.TextVectorization(max_tokens=max_tokens)
        vectorizer.adapt(adapt_sample(x_train))
        vocabulary = [str(token) for token in vectorizer.get_vocabulary()[2:]]
        ngram_vocabulary, ngram_idf = fit_ngrams(x_train, "words")
        char_vocabulary, char_idf = fit_ngrams(x_train, "chars")
        return Preprocessing(
            kind,
            input_shape,
            vocabulary=vocabulary,
            text_length=text_length or covering_length(x_train),
            ngram_vocabulary=ngram_vocabulary,
            ngram_idf=ngram_idf,
            char_vocabulary=char_vocabulary,
            char_idf=char_idf,
        )
    if isinstance(x_train, StoredExamples):  # sums from the reading pass
        mean, variance = x_train.channel_moments()
    else:
        flat = x_train.reshape(-1, x_train.shape[-1]).astype("float64")
        mean = np.nan_to_num(np.nanmean(flat, axis=0))
        variance = np.nan_to_num(np.nanvar(flat, axis=0))
    variance[variance < 1e-12] = 1.0
    reference = None
    if kind == "sequence":
        rng = np.random.default_rng(0)
        count = min(len(x_train), REFERENCE_SERIES)
        chosen = np.sort(rng.choice(len(x_train), size=count, replace=False))
        picked = x_train[chosen]
        if isinstance(picked, StoredExamples):
            picked = picked.to_array()
        reference = np.asarray(picked, dtype="float32")
    return Preprocessing(
        kind,
        input_shape,
        mean=mean.tolist(),
        variance=variance.tolist(),
        reference_series=reference,
    )


# Training series sampled for frozen feature layers (the rocket family fits
# its biases and feature statistics on them): enough for stable quantiles,
# few enough to transform in seconds.
REFERENCE_SERIES = 128


# Most frequent n-grams kept per branch (words, characters), as in Google's
# text classification guide (its top 20,000 features).
NGRAM_TOKENS = 20000
_BATCH_SIZE = 256


def fit_ngrams(
    texts: np.ndarray, branch: str, max_tokens: int = NGRAM_TOKENS
) -> tuple[list[str], list[float]]:
    """The `max_tokens` most frequent n-grams of `texts` and their idf weights.

    `branch` is "words" or "chars" (`model_builders.ngram.NGRAM_SETTINGS`).
    Keras adapts the vocabulary (on `adapt_sample(texts)`); the document
    frequencies come from a `multi_hot` pass of the same layer over every
    text, and the weights from Keras's own formula, `log(1 + num_documents
    / (1 + document_frequency))` in float32, so `TextVectorization(
    output_mode="tf_idf", vocabulary=..., idf_weights=...)` computes what a
    `tf_idf` layer adapted on `texts` computes (up to `ADAPT_TEXTS` texts;
    beyond, its vocabulary is the sample's), many times faster than adapting
    one.

    Returns:
        The vocabulary without special tokens, most frequent first, and one
        idf weight per entry.
    """
    texts = np.asarray([str(text) for text in texts], dtype=object)
    vectorizer = keras.layers.TextVectorization(
        output_mode="multi_hot", max_tokens=max_tokens, **NGRAM_SETTINGS[branch]
    )
    vectorizer.adapt(adapt_sample(texts), batch_size=_BATCH_SIZE)
    # Column 0 counts out-of-vocabulary n-grams; the vocabulary follows.
    vocabulary = [str(token) for token in vectorizer.get_vocabulary()[1:]]
    if not vocabulary:  # blank texts: nothing to count, and Keras cannot look up
        return [], []
    frequency = np.zeros(len(vocabulary) + 1, dtype="int64")
    for start in range(0, len(texts), _BATCH_SIZE):
        present = vectorizer(texts[start : start + _BATCH_SIZE])
        frequency += keras.ops.convert_to_numpy(present).sum(axis=0).astype("int64")
    idf = np.log(1.0 + len(texts) / (1.0 + frequency[1:])).astype("float32")
    return vocabulary, [float(weight) for weight in idf]


# Vocabularies are counted on at most this many training texts. Keras keeps
# a count for every distinct token while it adapts, and character n-grams
# are many: on 140,000 generated texts of 5-40 words, the character branch
# took 3.3 GB adapted on all of them, 1.1 GB on 50,000 and 0.5 GB on 20,000
# (`benchmarks/scale_tables.py`'s table). A sample this size still ranks the
# most frequent n-grams of a corpus, and document frequencies are counted
# over every text (`fit_ngrams`).
ADAPT_TEXTS = 20_000


def adapt_sample(texts) -> np.ndarray:
    """`texts`, or a seeded sample of `ADAPT_TEXTS` of them in their order."""
    texts = np.asarray(texts, dtype=object)
    if len(texts) <= ADAPT_TEXTS:
        return texts
    chosen = np.random.default_rng(0).choice(len(texts), ADAPT_TEXTS, replace=False)
    return texts[np.sort(chosen)]


def _tuple(values: list | None) -> tuple | None:
    return None if values is None else tuple(values)


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
