"""The search stage with the real Keras Tuner on tiny images."""

import gc
import json
from pathlib import Path

import keras
import numpy as np
import pytest

import model_builders
from tasks.augment import make_datasets
from tasks.errors import ConfigError, SearchError
from tasks.load import Examples
from tasks.preprocess import fit_preprocessing
from tasks.search import run_search
from tasks.split import split_examples
from tasks.tuning.progress import listening


@pytest.fixture
def prepared(tiny_images):
    x, y = tiny_images
    splits = split_examples(Examples(x=x, y=y), 0.25, 0.25)
    return (
        splits,
        make_datasets(splits, batch_size=16),
        fit_preprocessing(splits.x_train),
    )


def _search(prepared, tmp_path, **options):
    splits, datasets, preprocessing = prepared
    settings = dict(tuner="random", max_trials=2, epochs=2, time_budget_minutes=5)
    settings.update(options)
    return run_search(
        datasets,
        preprocessing,
        splits.num_classes,
        tuner_dir=tmp_path / "tuner",
        tensorboard_dir=tmp_path / "tb",
        **settings,
    )


def test_search_returns_the_best_model_with_raw_input_preprocessing(prepared, tmp_path):
    splits, _, _ = prepared
    events = []
    with listening(events.append):
        result = _search(prepared, tmp_path)
    assert len(result.leaderboard) == 2
    assert result.leaderboard[0]["score"] == result.best_score
    assert result.hyperparameters["family"] == "cnn"
    assert 0.0 <= result.best_score <= 1.0
    assert any(layer.name == "normalize" for layer in result.model.layers)
    probabilities = result.model.predict(splits.x_test, verbose=0)
    assert probabilities.shape == (len(splits.x_test), 3)
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["0", "1"]
    # Progress: each trial begins, reports every epoch, and ends, in order.
    for trial in ("0", "1"):
        mine = [e for e in events if e.trial == trial]
        assert mine[0].event == "trial_begin" and mine[-1].event == "trial_end"
        epochs = [e.epoch for e in mine if e.event == "epoch_end"]
        assert epochs == list(range(1, len(epochs) + 1)) and 1 <= len(epochs) <= 2
    ends = [e for e in events if e.event == "trial_end"]
    assert [e.trials_done for e in ends] == [1, 2]
    assert ends[-1].fraction == 1.0 and ends[-1].best_score == result.best_score
    # Only the best trial's weights stay on disk.
    kept = sorted(p.parent.name for p in (tmp_path / "tuner").rglob("*.weights.h5"))
    best_trial = result.leaderboard[0]["trial"]
    assert kept == [f"trial_{best_trial}"]


def test_finished_trials_release_their_training_graphs(prepared, tmp_path):
    # Every traced train step used to stay alive through TensorFlow's global
    # gradient registry (about 16 MB a trial on digits); now none outlives
    # its trial, so memory stays flat over a long search.
    from tasks.tuning.compat import custom_gradients, func_graph_class

    FuncGraph = func_graph_class()  # noqa: N806 - a class

    def train_graphs() -> int:
        gc.collect()
        return sum(
            isinstance(o, FuncGraph) and o.name == "one_step_on_data"
            for o in gc.get_objects()
        )

    registered, graphs = custom_gradients(), train_graphs()
    result = _search(prepared, tmp_path, max_trials=3, epochs=1)
    assert len(result.leaderboard) == 3
    assert custom_gradients() == registered
    del result
    assert train_graphs() == graphs


def test_time_budget_stops_new_trials(prepared, tmp_path):
    result = _search(
        prepared, tmp_path, max_trials=5, epochs=50, time_budget_minutes=0.001
    )
    assert result.stopped_by_budget
    assert len(result.leaderboard) == 1
    assert result.leaderboard[0]["best_epoch"] == 0  # stopped after one epoch


@pytest.mark.parametrize(
    "tuner",
    # Hyperband's first bracket trains longer (~10 s): `make test-slow`.
    ["bayesian", pytest.param("hyperband", marks=pytest.mark.slow)],
)
def test_other_tuners_run(prepared, tmp_path, tuner):
    result = _search(prepared, tmp_path, tuner=tuner, max_trials=1, epochs=2)
    assert np.isfinite(result.best_score)


def test_every_trial_failing_is_a_loud_error(prepared, tmp_path, monkeypatch):
    def wrong_outputs(hp, input_spec, num_classes):
        # Builds, but every fit fails: one output too many for the labels.
        return model_builders.cnn.build(hp, input_spec, num_classes + 1)

    monkeypatch.setitem(model_builders.BUILDERS, "wrong", wrong_outputs)
    with pytest.raises(SearchError, match="no usable model.*Failed trials: trial 0"):
        _search(prepared, tmp_path, families=["wrong"], max_trials=2)


def _failing_when_poisoned(failure: str):
    """A CNN family whose trials fail the way `failure` says when `poison` is 1.

    `poison` is a hyperparameter, so the seeded tuner mixes failing and sound
    trials; its default (0) keeps Keras Tuner's up-front builds sound.
    """

    def build(hp, input_spec, num_classes):
        poisoned = hp.Int("poison", 0, 1, default=0)
        body = model_builders.cnn.build(hp, input_spec, num_classes)
        if not poisoned:
            return body
        if failure == "nan":  # the loss is NaN from the first batch on
            poison = keras.layers.Rescaling(float("nan"))
            return lambda x: body(poison(x))
        if failure == "oom":  # a real allocation failure: a 4 TB weight
            huge = keras.layers.Dense(2**37)
            return lambda x: body(huge(keras.layers.Flatten()(x)))
        raise ValueError("kernel_size 9 does not fit the 8x8 input")

    return build


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        # A 4 TB allocation failing takes ~30 s on 2 cores, a diverging run
        # ~25 s: `make test-slow` (CI runs it); invalid keeps this check in
        # `make test`.
        pytest.param(
            "nan",
            "became NaN or infinite at epoch 1: the model diverged",
            marks=pytest.mark.slow,
        ),
        pytest.param("oom", "OOM when allocating tensor", marks=pytest.mark.slow),
        ("invalid", "kernel_size 9 does not fit"),
    ],
)
def test_a_failing_trial_is_marked_failed_and_the_search_goes_on(
    prepared, tmp_path, monkeypatch, failure, message
):
    monkeypatch.setitem(
        model_builders.BUILDERS, "flaky", _failing_when_poisoned(failure)
    )
    result = _search(prepared, tmp_path, families=["flaky"], max_trials=4, seed=3)
    rows = result.leaderboard
    poisoned = {r["trial"] for r in rows if r["hyperparameters"]["poison"] == 1}
    failed = {r["trial"] for r in rows if r["status"] == "FAILED"}
    assert poisoned and failed == poisoned and len(rows) == 4
    assert rows[0]["status"] == "COMPLETED" and rows[0]["score"] == result.best_score
    assert result.hyperparameters["poison"] == 0 and np.isfinite(result.best_score)
    for trial_id in failed:
        trial = tmp_path / "tuner" / f"trial_{trial_id}" / "trial.json"
        assert message in json.loads(trial.read_text())["message"]


class NanAfterTwoSteps(keras.layers.Layer):
    """Passes its input through for two training steps, then makes it NaN."""

    def build(self, input_shape):
        self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x, training=False):
        if training:
            self.steps.assign_add(1.0)
        return x * keras.ops.where(self.steps > 2.0, float("nan"), 1.0)


def test_a_trial_failing_after_a_backup_leaves_no_backup(
    prepared, tmp_path, monkeypatch
):
    def diverging_later(hp, input_spec, num_classes):
        body = model_builders.cnn.build(hp, input_spec, num_classes)
        return lambda x: body(NanAfterTwoSteps()(x))

    monkeypatch.setitem(model_builders.BUILDERS, "late", diverging_later)
    backups = []
    original = keras.callbacks.BackupAndRestore.on_epoch_end

    def counted(self, epoch, logs=None):  # the real backup, counted
        original(self, epoch, logs)
        backups.append(Path(self.backup_dir))

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", counted)
    with pytest.raises(SearchError, match="became NaN or infinite at epoch 2"):
        # 24 training images in batches of 16: epoch 1 (2 steps) backs up.
        _search(
            prepared,
            tmp_path,
            families=["late"],
            max_trials=1,
            epochs=3,
            backup_seconds=0,
        )
    trial_dir = tmp_path / "tuner" / "trial_0"
    assert backups == [trial_dir / "backup"]
    assert (trial_dir / "trial.json").exists()
    assert not (trial_dir / "backup").exists()


def test_a_family_that_cannot_build_is_a_search_error(prepared, tmp_path, monkeypatch):
    def broken(hp, input_spec, num_classes):
        raise ValueError("this family cannot build")

    monkeypatch.setitem(model_builders.BUILDERS, "broken", broken)
    with pytest.raises(SearchError, match="could not be built.*cannot build"):
        _search(prepared, tmp_path, families=["broken"])


def test_unknown_family_is_a_config_error(prepared, tmp_path):
    with pytest.raises(ConfigError, match=r"received \['resnet'\]"):
        _search(prepared, tmp_path, families=["resnet"])


def test_a_family_for_other_data_is_a_config_error(prepared, tmp_path):
    # `prepared` is images; the n-gram family reads only text.
    with pytest.raises(ConfigError, match=r"\['ngram'\] for image data"):
        _search(prepared, tmp_path, families=["ngram"])


def test_val_loss_objective_is_minimised(prepared, tmp_path):
    result = _search(prepared, tmp_path, objective="val_loss")
    scores = [row["score"] for row in result.leaderboard]
    assert scores == sorted(scores)
    assert isinstance(result.model, keras.Model)


@pytest.mark.slow  # ~14 s: `make test-slow`, which CI runs
def test_device_settings_reach_the_compiled_models(prepared, tmp_path):
    result = _search(
        prepared, tmp_path, max_trials=1, epochs=2, steps_per_execution=4, xla="on"
    )
    assert np.isfinite(result.best_score)
    assert result.train == {
        "device": "CPU",
        "precision_policy": "float32",
        "xla": {"cnn": True},
        "steps_per_execution": 4,
    }
    assert result.model.jit_compile is True
    assert result.model.steps_per_execution == 4
