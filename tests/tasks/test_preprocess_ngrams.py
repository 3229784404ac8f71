"""N-gram vocabularies and idf weights, fitted on the training texts only."""

import keras
import numpy as np
import pytest

from model_builders import InputSpec
from model_builders.ngram import NGRAM_SETTINGS, tfidf_vectorizer
from tasks import preprocess
from tasks.preprocess import NGRAM_TOKENS, fit_ngrams, fit_preprocessing

TRAIN = np.array(
    [
        "WIN £100 now!!!",
        "Free prize: call 0800 123 456!",
        "lunch at noon?",
        "see you at noon",
        "you won £5, txt WIN to 80082!",
        "ok see you",
        "call me later",
        "free cash £250!",
    ],
    dtype=object,
)


def _numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("branch", sorted(NGRAM_SETTINGS))
def test_rebuilt_layer_matches_a_tf_idf_layer_adapted_on_the_same_texts(branch):
    vocabulary, idf = fit_ngrams(TRAIN, branch)
    adapted = keras.layers.TextVectorization(
        output_mode="tf_idf", max_tokens=NGRAM_TOKENS, **NGRAM_SETTINGS[branch]
    )
    adapted.adapt(TRAIN)
    assert adapted.get_vocabulary()[1:] == vocabulary
    rebuilt = keras.layers.TextVectorization(
        output_mode="tf_idf",
        vocabulary=vocabulary,
        idf_weights=idf,
        **NGRAM_SETTINGS[branch],
    )
    # Unseen texts too: their unknown n-grams land in the OOV column 0.
    texts = np.concatenate([TRAIN, ["£999 prize!!", "nothing known here"]])
    expected = _numpy(adapted(texts))
    assert expected[-2:, 0].min() > 0
    np.testing.assert_allclose(_numpy(rebuilt(texts)), expected, rtol=1e-6, atol=1e-6)
    # The family's layer is the same, except that it ignores unseen n-grams.
    family = _numpy(tfidf_vectorizer(branch, vocabulary, idf, name="family")(texts))
    np.testing.assert_allclose(family[:, 1:], expected[:, 1:], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(family[:, 0], 0.0)


def test_lowercasing_only_keeps_currency_digits_and_punctuation():
    words, _ = fit_ngrams(TRAIN, "words")
    chars, _ = fit_ngrams(TRAIN, "chars")
    assert {"£100", "now!!!", "win", "win £100"} <= set(words)
    assert {"£", "!", "0", "£ 1", "! ! !"} <= set(chars)


def test_rarer_ngrams_get_larger_idf_weights():
    vocabulary, idf = fit_ngrams(TRAIN, "words")
    weight = dict(zip(vocabulary, idf, strict=True))
    # "you" is in 3 of 8 texts, "lunch" in 1: log(1 + 8/4) < log(1 + 8/2).
    assert weight["you"] == pytest.approx(np.log(3.0))
    assert weight["lunch"] == pytest.approx(np.log(5.0))


def test_vocabularies_are_bounded_by_max_tokens():
    vocabulary, idf = fit_ngrams(TRAIN, "chars", max_tokens=10)
    # max_tokens counts the OOV column, as in Keras.
    assert len(vocabulary) == len(idf) == 9
    assert vocabulary[0] == " "  # most frequent first


def test_text_preprocessing_carries_the_ngrams_into_the_input_spec():
    prep = fit_preprocessing(TRAIN[:6], kind="text", max_tokens=100, text_length=8)
    assert "free cash" not in prep.ngram_vocabulary  # only in TRAIN[7:]
    spec = prep.input_spec
    assert spec.ngram_vocabulary == tuple(prep.ngram_vocabulary)
    assert spec.char_idf == tuple(prep.char_idf)
    assert len(spec.char_vocabulary) == len(spec.char_idf)
    # Tens of thousands of n-grams stay out of the repr that errors print.
    assert "ngram_vocabulary" not in repr(spec)
    assert "char_idf" not in repr(prep)


def test_image_preprocessing_has_no_ngrams():
    prep = fit_preprocessing(np.zeros((2, 4, 4, 1), "float32"))
    assert prep.ngram_vocabulary is None and prep.input_spec.char_idf is None


def test_input_spec_rejects_a_vocabulary_without_matching_idf():
    with pytest.raises(ValueError, match="lengths 2 and 1; expected one idf"):
        InputSpec(
            kind="text",
            shape=(4,),
            vocab_size=5,
            ngram_vocabulary=("a", "b"),
            ngram_idf=(1.0,),
        )
    with pytest.raises(ValueError, match="char_vocabulary and char_idf"):
        InputSpec(kind="text", shape=(4,), vocab_size=5, char_vocabulary=("a",))


def test_beyond_adapt_texts_the_vocabulary_is_a_samples_and_idf_counts_all(
    monkeypatch,
):
    monkeypatch.setattr(preprocess, "ADAPT_TEXTS", 5)
    texts = np.concatenate([TRAIN, TRAIN[:4]])
    sample = preprocess.adapt_sample(texts)
    assert len(sample) == 5 and set(sample) <= set(texts)
    np.testing.assert_array_equal(sample, preprocess.adapt_sample(texts))  # seeded
    vocabulary, idf = fit_ngrams(texts, "words")
    adapted = keras.layers.TextVectorization(
        output_mode="multi_hot", max_tokens=NGRAM_TOKENS, **NGRAM_SETTINGS["words"]
    )
    adapted.adapt(sample)
    assert vocabulary == adapted.get_vocabulary()[1:]
    frequency = _numpy(adapted(texts)).sum(axis=0)[1:]  # over every text
    expected = np.log(1.0 + len(texts) / (1.0 + frequency)).astype("float32")
    np.testing.assert_allclose(idf, expected, rtol=1e-6)
