"""The TF-IDF n-gram family: raw strings in, signals in punctuation kept."""

import json
import subprocess
import sys

import keras
import keras_tuner as kt
import numpy as np
import pytest

from model_builders import BUILDERS, InputSpec
from tasks.export import export_saved_model
from tasks.preprocess import fit_preprocessing
from tasks.tuning.hypermodel import PipelineHyperModel, compile_model

WORDS = ["call", "win", "cash", "lunch", "noon", "see", "you", "prize", "txt", "ok"]


def _texts(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of texts with the same words; the class 1 copy has "£" and "!".

    Every word and number is as frequent in one class as in the other, so
    the label lives in the currency sign and the punctuation alone.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count // 2):
        words = [str(word) for word in rng.choice(WORDS, size=4)]
        at, amount = int(rng.integers(0, 4)), str(rng.integers(1, 500))
        plain = [*words[:at], amount, *words[at:]]
        signed = [*words[:at], f"£{amount}", *words[at:-1], f"{words[-1]}!"]
        texts += [" ".join(plain), " ".join(signed)]
        labels += [0, 1]
    return np.array(texts, dtype=object), np.array(labels)


@pytest.fixture(scope="module")
def prep():
    x_train, _ = _texts(48, seed=0)
    return fit_preprocessing(x_train, kind="text")


def _build(prep, num_classes: int = 2, **fixed) -> keras.Model:
    hp = kt.HyperParameters()
    for name, value in fixed.items():
        hp.Fixed(f"ngram/{name}", value)
    return BUILDERS["ngram"](hp, prep.input_spec, num_classes)


def test_the_token_id_vectorizer_cannot_see_the_signal(prep):
    # The word families' default standardization strips "!", and "£" is glued
    # to an amount seen once: ids of "£123" and "123" are both out of vocabulary.
    layer = prep.layer()
    ids = keras.ops.convert_to_numpy(
        layer(np.array(["call £123 now!", "call 123 now"]))
    )
    np.testing.assert_array_equal(ids[0], ids[1])


def test_the_family_separates_a_signal_that_lives_in_punctuation_only(prep):
    x_train, y_train = _texts(48, seed=0)
    x_test, y_test = _texts(24, seed=1)
    model = _build(prep)
    compile_model(model, learning_rate=1e-2)
    y = keras.utils.to_categorical(y_train, 2)
    model.fit(x_train, y, batch_size=16, epochs=20, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    assert (predicted == y_test).mean() >= 0.9


@pytest.mark.parametrize(
    ("features", "units", "layers"),
    [
        ("words", 0, {"ngram_words", "ngram_words_l2"}),
        ("words+chars", 64, {"ngram_words", "ngram_chars_l2", "ngram_hidden"}),
    ],
)
def test_the_search_space_picks_branches_and_depth(prep, features, units, layers):
    model = _build(prep, 3, features=features, units=units)
    names = {layer.name for layer in model.layers}
    assert layers <= names
    assert ("ngram_chars" in names) == (features == "words+chars")
    assert ("ngram_hidden" in names) == bool(units)
    assert len(names) == len(model.layers)  # every layer name is unique
    assert model.output_shape == (None, 3)


def test_unseen_ngrams_are_ignored(prep):
    # Not a large out-of-vocabulary count under weights that never trained.
    model = _build(prep)
    texts = np.array(["call see you", "qqq zzz call see you"], dtype=object)
    tfidf = keras.ops.convert_to_numpy(
        model.get_layer("ngram_words_l2")(model.get_layer("ngram_words")(texts))
    )
    np.testing.assert_allclose(tfidf[0], tfidf[1], rtol=1e-6)
    assert (tfidf[0] > 0).sum() >= 3  # call, see, you (and seen bigrams)


def test_the_model_reloads_in_safe_mode_in_a_fresh_process(prep, tmp_path):
    model = _build(prep)
    x, _ = _texts(8, seed=2)
    model.save(tmp_path / "m.keras")
    expected = model.predict(x, verbose=0)
    script = (
        "import json, sys\n"
        "import model_builders, keras, numpy as np\n"
        f"model = keras.saving.load_model({str(tmp_path / 'm.keras')!r}, "
        "safe_mode=True)\n"
        "x = np.array(json.loads(sys.argv[1]), dtype=object)\n"
        "print(json.dumps(model.predict(x, verbose=0).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(x.tolist())],
        capture_output=True,
        text=True,
        check=True,
    )
    reloaded = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(reloaded, expected, rtol=1e-6, atol=1e-6)


def test_the_pipeline_builds_both_families_and_exports_ngram(prep, tmp_path):
    hypermodel = PipelineHyperModel(prep, 2, ["ngram", "cnn"])
    hp = kt.HyperParameters()
    ngram_model = hypermodel.build(hp)
    assert hp.values["family"] == "ngram"
    hp.values["family"] = "cnn"
    cnn_model = hypermodel.build(hp)
    x, _ = _texts(8, seed=3)
    for model in (ngram_model, cnn_model):
        assert model.input.dtype == "string"
        assert model.predict(x, verbose=0).shape == (8, 2)
    # Raw strings reach the ngram body; the cnn reads the token ids.
    assert "vectorize" not in {layer.name for layer in ngram_model.layers}
    assert "vectorize" in {layer.name for layer in cnn_model.layers}
    check = export_saved_model(ngram_model, tmp_path / "export", x)
    assert check.input_dtype == "string" and check.max_difference <= 1e-5


def test_the_family_refuses_other_kinds_clearly(prep):
    image = InputSpec(kind="image", shape=(8, 8, 1))
    with pytest.raises(ValueError, match="kind 'image'; expected one of \\['text'\\]"):
        BUILDERS["ngram"](kt.HyperParameters(), image, 3)
    token_ids = InputSpec(kind="text", shape=(10,), vocab_size=50)
    with pytest.raises(ValueError, match="without n-gram vocabularies"):
        BUILDERS["ngram"](kt.HyperParameters(), token_ids, 3)
    blank = fit_preprocessing(np.array(["  ", ""], dtype=object), kind="text")
    assert blank.ngram_vocabulary == [] and blank.ngram_idf == []
    with pytest.raises(ValueError, match="empty n-gram vocabularies"):
        BUILDERS["ngram"](kt.HyperParameters(), blank.input_spec, 3)


def test_the_family_trains_under_mixed_bfloat16_with_float32_outputs(prep):
    x, y = _texts(16, seed=4)
    hypermodel = PipelineHyperModel(prep, 2, ["ngram"], dtype_policy="mixed_bfloat16")
    model = hypermodel.build(kt.HyperParameters())
    assert keras.config.dtype_policy().name == "float32"  # restored
    body = model.get_layer("ngram")
    assert body.get_layer("ngram_hidden").compute_dtype == "bfloat16"
    model.fit(x, keras.utils.to_categorical(y, 2), batch_size=16, verbose=0)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
