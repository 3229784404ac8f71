"""Out-of-fold predictions and greedy ensemble selection on them."""

import keras
import numpy as np
import tensorflow as tf

from tasks.tuning.selection import (
    OutOfFoldPredictions,
    greedy_selection,
    log_loss,
    read_oof,
    write_oof,
)

LABELS = np.eye(2)[[0, 0, 1, 1]]


def test_log_loss_is_the_mean_cross_entropy():
    probabilities = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.0, 1.0]])
    expected = -np.mean(np.log([0.5, 0.9, 0.8, 1.0]))
    assert abs(log_loss(probabilities, LABELS) - expected) < 1e-9


def test_selection_mixes_models_whose_errors_differ():
    # a and b are each confidently wrong on one example, on different ones;
    # c is unsure everywhere. Alone, c has the lowest loss; averaged, a and b
    # beat it.
    a = np.array([[0.99, 0.01], [0.01, 0.99], [0.01, 0.99], [0.01, 0.99]])
    b = np.array([[0.99, 0.01], [0.99, 0.01], [0.99, 0.01], [0.01, 0.99]])
    c = np.array([[0.6, 0.4], [0.6, 0.4], [0.4, 0.6], [0.4, 0.6]])
    picks = greedy_selection({"c": c, "a": a, "b": b}, LABELS, 3)
    assert picks[0] == "c"  # the best alone comes first
    assert log_loss(c, LABELS) < log_loss(a, LABELS)
    assert set(picks[1:]) == {"a", "b"}
    averaged = np.mean([{"a": a, "b": b, "c": c}[k] for k in picks], axis=0)
    assert log_loss(averaged, LABELS) < log_loss(c, LABELS)


def test_selection_picks_the_best_again_when_nothing_else_helps():
    good = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
    bad = 1.0 - good
    assert greedy_selection({"bad": bad, "good": good}, LABELS, 3) == ["good"] * 3


def test_ties_go_to_the_earlier_candidate():
    same = np.full((4, 2), 0.5)
    assert greedy_selection({"first": same, "second": same}, LABELS, 1) == ["first"]


def test_oof_round_trips(tmp_path):
    folds = [(np.full((2, 2), 0.5, "float32"), LABELS[:2]), (np.eye(2), LABELS[2:])]
    write_oof(tmp_path, folds)
    probabilities, labels = read_oof(tmp_path)
    assert probabilities.shape == (4, 2)
    np.testing.assert_array_equal(labels, LABELS)
    assert read_oof(tmp_path / "missing") is None


def test_callback_predicts_the_fold_with_its_best_epoch_weights():
    keras.utils.set_random_seed(0)
    x = np.array([[1.0], [2.0], [-1.0], [-2.0]], "float32")
    validation = tf.data.Dataset.from_tensor_slices((x, LABELS)).batch(2)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile("sgd", "categorical_crossentropy")
    sink = []
    recorder = OutOfFoldPredictions(validation, "val_loss", "min", sink)
    recorder.set_model(model)
    weights = [np.array([[1.0, -1.0]]), np.zeros(2)]  # the best epoch's
    model.set_weights(weights)
    recorder.on_epoch_end(0, {"val_loss": 0.1})
    model.set_weights([np.array([[-1.0, 1.0]]), np.zeros(2)])  # a worse one
    recorder.on_epoch_end(1, {"val_loss": 0.9})
    recorder.on_train_end()
    ((probabilities, labels),) = sink
    model.set_weights(weights)
    np.testing.assert_allclose(probabilities, model.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_array_equal(labels, LABELS)
    assert recorder.__deepcopy__({}) is recorder
