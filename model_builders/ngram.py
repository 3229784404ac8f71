"""Bag-of-n-grams family: TF-IDF of word and character n-grams, then an MLP.

The strong baseline on small text sets. Google's text classification guide
(developers.google.com/machine-learning/guides/text-classification, step
2.5) finds that n-gram TF-IDF vectors and a small MLP beat sequence models
when there are few samples per word (samples / words per sample < 1500);
AutoKeras's `TextBlock(block_type="ngram")` builds the same model.

The family reads the raw strings (`CAPABILITIES.raw_text`) and only
lowercases them: the token-id families' default standardization strips ASCII
punctuation such as "!" and "$", and glues "£" to its amount ("£100"), while
character n-grams see each sign and digit on its own. Vocabularies and idf
weights are fitted on the training texts (`tasks.preprocess`) and reach the
builder through the `InputSpec`; they live in the layers' config, so the
model saves, reloads in safe mode and exports with them.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec

# How each branch splits and joins tokens; `tasks.preprocess` fits with these.
NGRAM_SETTINGS = {
    "words": {"standardize": "lower", "split": "whitespace", "ngrams": 2},
    "chars": {"standardize": "lower", "split": "character", "ngrams": (1, 2, 3, 4)},
}
FEATURES = ("words", "words+chars")
OOV_TOKEN = "[UNK]"  # Keras's; never a lowercased token

# String lookups run on the CPU and cannot be compiled by XLA.
CAPABILITIES = Capabilities(xla=False, raw_text=True, kinds=("text",))


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled TF-IDF n-gram classifier over raw strings.

    The search space: word n-grams alone or with character n-grams, the
    dropout on the TF-IDF vector and the hidden layer, and the hidden width
    (0: a multinomial logistic regression). The defaults (both branches, 64
    units, dropout 0.2) follow the guide's n-gram MLP. As in the guide's
    scikit-learn vectors, each branch's TF-IDF vector has unit length and
    n-grams never seen in training are ignored.

    Args:
        hp: the trial's hyperparameters; names are scoped `ngram/...`.
        input_spec: a text spec carrying the fitted n-gram vocabularies and
            idf weights (`tasks.preprocess.Preprocessing.input_spec`).
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model` taking one string per example.

    Raises:
        ValueError: the spec is not text, or carries no n-gram vocabularies.
    """
    _check_spec(input_spec)
    features = hp.Choice("ngram/features", list(FEATURES), default="words+chars")
    dropout = hp.Float("ngram/dropout", 0.0, 0.5, step=0.1, default=0.2)
    units = hp.Choice("ngram/units", [0, 64, 128], default=64)

    inputs = keras.Input(shape=(), dtype="string", name="ngram_input")
    x = _branch("words", input_spec.ngram_vocabulary, input_spec.ngram_idf, inputs)
    if features == "words+chars":
        chars = _branch(
            "chars", input_spec.char_vocabulary, input_spec.char_idf, inputs
        )
        x = keras.layers.Concatenate(name="ngram_concat")([x, chars])
    x = keras.layers.Dropout(dropout, name="ngram_dropout_in")(x)
    if units:
        x = keras.layers.Dense(units, activation="relu", name="ngram_hidden")(x)
        x = keras.layers.Dropout(dropout, name="ngram_dropout_hidden")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probs", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="ngram")


def tfidf_vectorizer(
    branch: str, vocabulary, idf_weights, name: str
) -> keras.layers.TextVectorization:
    """A TF-IDF `TextVectorization` for `branch` ("words" or "chars").

    Column 0, out-of-vocabulary n-grams, has idf weight 0, so unseen n-grams
    are ignored (as scikit-learn's `TfidfVectorizer` does). With Keras's
    default, the mean idf, that column is zero in training whenever the
    training texts did not fill the vocabulary, so its weights stay at
    their random start, and at prediction time it is the largest entry.
    The other columns are the vocabulary's, with `idf_weights`.
    """
    return keras.layers.TextVectorization(
        output_mode="tf_idf",
        vocabulary=[OOV_TOKEN, *vocabulary],
        idf_weights=[0.0, *idf_weights],
        name=name,
        **NGRAM_SETTINGS[branch],
    )


def _branch(branch: str, vocabulary, idf_weights, inputs):
    """TF-IDF of one branch, scaled to unit length as the guide's vectors are.

    Without it a text's vector grows with its length, and so would the
    model's confidence.
    """
    x = tfidf_vectorizer(branch, vocabulary, idf_weights, f"ngram_{branch}")(inputs)
    return keras.layers.UnitNormalization(name=f"ngram_{branch}_l2")(x)


def _check_spec(input_spec: InputSpec) -> None:
    if input_spec.kind != "text":
        raise ValueError(
            f"The ngram family received an InputSpec of kind {input_spec.kind!r}; "
            f"expected one of {list(CAPABILITIES.kinds)}. It reads texts only: "
            "leave 'ngram' out of search.families for image or sequence data."
        )
    if input_spec.ngram_vocabulary is None or input_spec.char_vocabulary is None:
        raise ValueError(
            "The ngram family received a text InputSpec without n-gram "
            "vocabularies; expected ngram_vocabulary/ngram_idf and "
            "char_vocabulary/char_idf. Build the spec with "
            "tasks.preprocess.fit_preprocessing(texts, kind='text').input_spec."
        )
    if not input_spec.ngram_vocabulary or not input_spec.char_vocabulary:
        raise ValueError(
            "The ngram family received empty n-gram vocabularies; expected at "
            "least one word fitted on the training texts, which are all blank. "
            "Check the text column of the data."
        )
