"""The training recipe: AdamW, warmed-up cosine rates, label smoothing, family
learning-rate ranges and balanced class weights."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from model_builders import BUILDERS
from tasks.augment import Datasets
from tasks.preprocess import Preprocessing
from tasks.tuning.hypermodel import PipelineHyperModel, compile_model
from tasks.tuning.recipe import (
    GENERIC_LEARNING_RATE,
    ClassBalance,
    TrainingRecipe,
    choose_training,
    class_balance,
    learning_rate_range,
    learning_rate_schedule,
    plan_recipe,
    planned_steps,
)

# Small enough to build in a moment; names the family does not use are ignored.
SMALL_CNN = {"cnn/num_blocks": 1, "cnn/filters": 16, "cnn/dense_units": 64}


def _value(schedule, step: int) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_the_schedule_warms_up_then_decays_along_a_cosine():
    schedule = learning_rate_schedule(1e-3, 200, "cosine")  # 10 warm-up steps
    assert _value(schedule, 0) == 0.0
    assert _value(schedule, 5) == pytest.approx(5e-4)
    assert _value(schedule, 10) == pytest.approx(1e-3)
    assert _value(schedule, 105) == pytest.approx(5e-4)  # halfway down
    assert _value(schedule, 200) == pytest.approx(0.0, abs=1e-12)
    after = [_value(schedule, step) for step in range(10, 201, 10)]
    assert after == sorted(after, reverse=True)


def test_a_constant_schedule_or_unknown_steps_keep_the_searched_rate():
    assert learning_rate_schedule(3e-3, 200, "constant") == 3e-3
    assert learning_rate_schedule(3e-3, None, "cosine") == 3e-3
    with pytest.raises(ValueError, match="received 'step'.*expected one of"):
        learning_rate_schedule(3e-3, 200, "step")


def test_planned_steps_are_epochs_times_batches_or_unknown():
    data = tf.data.Dataset.from_tensor_slices(np.zeros((20, 2))).batch(8)
    assert planned_steps(data, epochs=10) == 30
    unknown = data.filter(lambda x: True)  # tf.data cannot count a filter
    assert planned_steps(unknown, epochs=10) is None


def test_class_weights_are_balanced_and_only_for_imbalanced_labels():
    skewed = class_balance([0] * 6 + [1] * 3 + [2] * 3, 3)
    assert skewed.counts == (6, 3, 3)
    assert skewed.class_weight == pytest.approx({0: 12 / 18, 1: 12 / 9, 2: 12 / 9})
    assert skewed.to_dict()["used"] is True
    # 1.5 times is not more than 1.5 times: no weights.
    even = class_balance([0, 0, 0, 1, 1], 2)
    assert even.class_weight is None and even.to_dict()["used"] is False
    absent = class_balance([0] * 4 + [1], 3)  # class 2 never trains
    assert absent.class_weight == pytest.approx({0: 5 / 8, 1: 5 / 2, 2: 1.0})
    assert class_balance(None, 3) == ClassBalance()
    with pytest.raises(ValueError, match=r"labels from 0 to 3; expected .*\[0, 3\)"):
        class_balance([0, 3], 3)


def test_the_recipe_plans_from_the_trials_data_and_objective():
    data = tf.data.Dataset.from_tensor_slices(np.zeros((16, 2))).batch(8)
    datasets = Datasets(train=data, validation=data, num_train=16)
    labels = [0] * 12 + [1] * 4
    recipe = plan_recipe(datasets, (), 5, labels, 2, objective="val_loss")
    assert recipe.training_steps == 10 and recipe.class_weight is not None
    assert not recipe.search_label_smoothing
    smaller = tf.data.Dataset.from_tensor_slices(np.zeros((16, 2))).batch(4)
    fold = Datasets(train=smaller, validation=data, num_train=16)
    recipe = plan_recipe(datasets, (fold,), 5, None, 2)  # planned from the fold
    assert recipe.training_steps == 20 and recipe.class_weight is None
    assert recipe.search_label_smoothing
    hp = kt.HyperParameters()
    hp.Choice("family", ["cnn"])
    assert choose_training(hp, "cnn", search_label_smoothing=False).label_smoothing == 0
    (fixed,) = [p for p in hp.space if p.name == "label_smoothing"]
    assert isinstance(fixed, kt.engine.hyperparameters.Fixed)


@pytest.mark.parametrize("family", sorted(BUILDERS) + ["unlisted"])
def test_each_familys_learning_rate_is_scoped_and_within_its_range(family):
    hp = kt.HyperParameters()
    hp.Choice("family", [family, "other"])
    choices = choose_training(hp, family)
    rates = learning_rate_range(family)
    (searched,) = [p for p in hp.space if p.name == f"{family}/learning_rate"]
    assert "learning_rate" not in hp.values
    assert [(c.name, c.values) for c in searched.conditions] == [("family", [family])]
    assert (searched.min_value, searched.max_value) == (rates.low, rates.high)
    assert searched.sampling == "log"
    assert rates.low <= choices.learning_rate == rates.default <= rates.high
    assert (choices.weight_decay, choices.lr_schedule) == (1e-4, "cosine")
    assert choices.label_smoothing == 0.0
    if family == "unlisted":
        assert rates == GENERIC_LEARNING_RATE


def test_the_hypermodel_compiles_adamw_and_smoothing_from_the_hyperparameters():
    preprocessing = Preprocessing("image", (8, 8, 1), mean=[0.0], variance=[1.0])
    recipe = TrainingRecipe(training_steps=100)
    hypermodel = PipelineHyperModel(preprocessing, 3, ["cnn"], recipe=recipe)
    hp = kt.HyperParameters()
    for name, value in SMALL_CNN.items():
        hp.Fixed(name, value)
    hp.Fixed("cnn/learning_rate", 2e-3)
    hp.Fixed("weight_decay", 0.02)
    hp.Fixed("label_smoothing", 0.1)
    model = hypermodel.build(hp)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == 0.02
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["warmup_target"] == 2e-3
    assert schedule["config"]["warmup_steps"] + schedule["config"]["decay_steps"] == 100
    assert model.loss.get_config()["label_smoothing"] == 0.1
    names = {p.name for p in hp.space}
    assert {"cnn/learning_rate", "weight_decay", "lr_schedule"} <= names
    assert "learning_rate" not in names


def test_a_refit_plans_its_schedule_over_its_own_steps():
    # A refit shorter than the trial's plan still warms up and decays to 0
    # by its last step; the hypermodel's own plan is left as it was, and a
    # search that planned nothing keeps its constant rate.
    preprocessing = Preprocessing("image", (8, 8, 1), mean=[0.0], variance=[1.0])
    hypermodel = PipelineHyperModel(
        preprocessing, 3, ["cnn"], recipe=TrainingRecipe(training_steps=1000)
    )
    hp = kt.HyperParameters()
    for name, value in SMALL_CNN.items():
        hp.Fixed(name, value)
    hp.Fixed("cnn/learning_rate", 2e-3)

    def planned_over(model) -> keras.optimizers.schedules.LearningRateSchedule:
        config = model.optimizer.get_config()["learning_rate"]
        return keras.optimizers.schedules.deserialize(config)

    schedule = planned_over(hypermodel.build_planned(hp, 70))
    assert schedule.warmup_steps + schedule.decay_steps == 70
    assert _value(schedule, 70) == pytest.approx(0.0, abs=1e-9)
    assert _value(schedule, 35) > 1e-3
    assert hypermodel.recipe.training_steps == 1000
    kept = planned_over(hypermodel.build_planned(hp, None))
    assert kept.warmup_steps + kept.decay_steps == 1000
    unplanned = PipelineHyperModel(preprocessing, 3, ["cnn"])
    constant = unplanned.build_planned(hp, 70).optimizer.get_config()
    assert constant["learning_rate"] == pytest.approx(2e-3)


def test_weight_decay_shrinks_kernels_but_not_biases():
    inputs = keras.Input((2,))
    dense = keras.layers.Dense(3, bias_initializer="ones")
    # Scaled by 0, the output and so every gradient is zero: only decay moves
    # the weights (Adam's update of a zero gradient is zero).
    outputs = keras.layers.Softmax()(keras.layers.Rescaling(0.0)(dense(inputs)))
    model = keras.Model(inputs, outputs)
    compile_model(model, 0.1, weight_decay=0.5)
    kernel = keras.ops.convert_to_numpy(dense.kernel).copy()
    x, y = np.ones((4, 2), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_allclose(dense.kernel.numpy(), kernel * (1 - 0.1 * 0.5), 1e-6)
    np.testing.assert_allclose(dense.bias.numpy(), np.ones(3))


@pytest.mark.filterwarnings("ignore:.*shuffle=True")
def test_a_tiny_model_trains_a_step_with_class_weights_on_a_tf_data_dataset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 2])
    y = np.eye(3, dtype="float32")[labels]
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    compile_model(model, learning_rate_schedule(1e-2, 20, "cosine"), weight_decay=1e-3)
    before = model.predict(x, verbose=0)
    recipe = TrainingRecipe(balance=class_balance(labels, 3))
    hypermodel = PipelineHyperModel(None, 3, ["cnn"], recipe=recipe)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = hypermodel.fit(kt.HyperParameters(), model, data, epochs=1, verbose=0)
    weights = np.array([recipe.class_weight[c] for c in labels])
    cross_entropy = -np.log(before[np.arange(8), labels])
    # Keras averages weighted losses over the batch's examples.
    expected = np.sum(weights * cross_entropy) / 8
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert int(model.optimizer.iterations.numpy()) == 1
