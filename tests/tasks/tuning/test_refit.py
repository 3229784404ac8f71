"""The published model's members: trials close to the best, refit or as searched."""

import warnings
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine.trial import Trial

from tasks.augment import make_datasets
from tasks.preprocess import Preprocessing
from tasks.split import Splits
from tasks.tuning.assembly import SearchSettings, make_tuner
from tasks.tuning.compat import checkpoint_path
from tasks.tuning.folds import fold_splits
from tasks.tuning.hypermodel import PipelineHyperModel
from tasks.tuning.plan import pooled_splits
from tasks.tuning.ranking import (
    FoldScores,
    ranked_trials,
    read_fold_scores,
    write_fold_scores,
)
from tasks.tuning.recipe import TrainingRecipe
from tasks.tuning.refit import (
    LOSS_MARGIN,
    SCORE_MARGIN,
    Publishing,
    choose_members,
    close_to_best,
)
from tasks.tuning.selection import read_oof, write_oof
from tasks.tuning.tuner import TrialSettings


class _Tuner:
    """What `close_to_best` reads of a tuner; `load_model` builds a tiny model."""

    def __init__(self, root, direction: str):
        self.oracle = SimpleNamespace(objective=kt.Objective("val_score", direction))
        self.root = root
        self.loaded = []
        self.trial_seconds = {}

    def get_trial_dir(self, trial_id: str) -> str:
        return str(self.root / f"trial_{trial_id}")

    def load_model(self, trial) -> keras.Model:
        self.loaded.append(trial.trial_id)
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])


def _trial(trial_id: str, score: float) -> Trial:
    hp = kt.HyperParameters()
    hp.Choice("family", ["cnn", "mlp"], default="cnn")
    trial = Trial(hp, trial_id=trial_id, status="COMPLETED")
    trial.score = score
    trial.best_step = 4
    return trial


def _record_refits(monkeypatch) -> list[tuple[str, int]]:
    """Replace refitting with recording (trial, seed); returns the record."""
    refits = []
    monkeypatch.setattr(
        "tasks.tuning.refit._refit",
        lambda tuner, trial, data, epochs, seed: (
            refits.append((trial.trial_id, seed))
            or keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
        ),
    )
    return refits


def _ids(trials) -> list[str]:
    return [t.trial_id for t in trials]


def test_nothing_ranked_keeps_nothing(tmp_path):
    assert close_to_best(_Tuner(tmp_path, "max"), []) == []


def test_a_max_objective_keeps_trials_within_the_score_margin(tmp_path):
    ranked = [_trial("0", 0.9), _trial("1", 0.89), _trial("2", 0.87)]
    assert SCORE_MARGIN == 0.02
    assert _ids(close_to_best(_Tuner(tmp_path, "max"), ranked)) == ["0", "1"]


def test_a_max_objective_keeps_trials_within_the_best_ones_fold_spread(tmp_path):
    tuner = _Tuner(tmp_path, "max")
    ranked = [_trial("0", 0.9), _trial("1", 0.8), _trial("2", 0.7)]
    # Folds 0.8 and 1.0: a spread of about 0.14, wider than the margin.
    write_fold_scores(
        tuner.get_trial_dir("0"), FoldScores([0.8, 1.0], [1, 1], [0.3] * 2)
    )
    assert _ids(close_to_best(tuner, ranked)) == ["0", "1"]


def test_a_min_objective_keeps_trials_within_a_tenth_of_the_best_loss(tmp_path):
    ranked = [_trial("0", 0.5), _trial("1", 0.53), _trial("2", 0.57)]
    assert LOSS_MARGIN == 0.1  # 0.5 + 0.05
    assert _ids(close_to_best(_Tuner(tmp_path, "min"), ranked)) == ["0", "1"]


def test_a_min_objective_keeps_trials_within_the_best_ones_fold_spread(tmp_path):
    tuner = _Tuner(tmp_path, "min")
    ranked = [_trial("0", 0.5), _trial("1", 0.6), _trial("2", 0.7)]
    # Folds 0.4 and 0.6: a spread of about 0.14, wider than 0.05.
    write_fold_scores(
        tuner.get_trial_dir("0"), FoldScores([0.4, 0.6], [1, 1], [0.5] * 2)
    )
    assert _ids(close_to_best(tuner, ranked)) == ["0", "1"]


def test_members_without_refit_are_the_close_trials_checkpoints(tmp_path):
    tuner = _Tuner(tmp_path, "max")
    ranked = [_trial("0", 0.9), _trial("1", 0.89), _trial("2", 0.5)]
    members = choose_members(tuner, ranked, Publishing(ensemble_size=3), seed=0)
    assert tuner.loaded == ["0", "1"]  # trial 2 is far behind the best
    assert len(members.models) == 2
    assert members.described == [
        {
            "trial": "0",
            "family": "cnn",
            "score": 0.9,
            "epochs": None,
            "seed": None,
            "refit": False,
        },
        {
            "trial": "1",
            "family": "cnn",
            "score": 0.89,
            "epochs": None,
            "seed": None,
            "refit": False,
        },
    ]
    assert members.refit["ran"] is False
    assert members.refit["members"] == 2
    assert members.refit["examples"] is None


def test_refit_pads_with_the_best_under_new_seeds_as_far_as_time_allows(
    tmp_path, monkeypatch
):
    """One configuration close to the best and five members asked for: the
    best is refit again under other seeds, while the estimate fits the time."""
    tuner = _Tuner(tmp_path, "max")
    tuner.trial_seconds = {"0": 50.0}  # five folds: 10 s each, 12.5 s a refit
    write_fold_scores(
        tuner.get_trial_dir("0"), FoldScores([0.9] * 5, [3] * 5, [0.2] * 5)
    )
    refits = _record_refits(monkeypatch)
    ranked = [_trial("0", 0.9), _trial("1", 0.5)]
    publishing = Publishing(5, refit_data=SimpleNamespace(num_train=10))
    members = choose_members(tuner, ranked, publishing, seed=7)
    assert refits == [("0", 7), ("0", 8), ("0", 9), ("0", 10), ("0", 11)]
    assert [row["seed"] for row in members.described] == [7, 8, 9, 10, 11]
    budgeted = Publishing(5, refit_data=SimpleNamespace(num_train=10), refit_seconds=30)
    refits.clear()
    choose_members(tuner, ranked, budgeted, seed=0)
    assert refits == [("0", 0), ("0", 1), ("0", 2)]  # 12.5 s each past the first
    # Folds that trained 12 epochs for a best epoch of 3: a refit trains 4
    # epochs, a third of a fold's, so 4.2 s each and all five fit.
    write_fold_scores(
        tuner.get_trial_dir("0"), FoldScores([0.9] * 5, [3] * 5, [0.2] * 5, [12] * 5)
    )
    refits.clear()
    choose_members(tuner, ranked, budgeted, seed=0)
    assert refits == [("0", seed) for seed in range(5)]


def test_out_of_fold_predictions_choose_members_of_different_trials(
    tmp_path, monkeypatch
):
    """Trials 0 and 2 err on different examples: their average beats trial 0
    alone, so selection mixes them although trial 2 ranks far behind."""
    tuner = _Tuner(tmp_path, "min")
    labels = np.eye(2)[[0, 0, 1, 1]]
    oof = {
        "0": [[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.1, 0.9]],
        "1": [[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.15, 0.85]],
        "2": [[0.9, 0.1], [0.9, 0.1], [0.95, 0.05], [0.1, 0.9]],
    }
    for trial_id, probabilities in oof.items():
        Path(tuner.get_trial_dir(trial_id)).mkdir()
        write_oof(tuner.get_trial_dir(trial_id), [(np.array(probabilities), labels)])
    refits = _record_refits(monkeypatch)
    ranked = [_trial("0", 0.4), _trial("1", 0.41), _trial("2", 0.9)]
    publishing = Publishing(3, refit_data=SimpleNamespace(num_train=4))
    members = choose_members(tuner, ranked, publishing, seed=0)
    selection = members.refit["selection"]
    assert selection["picks"][:2] == ["0", "2"]
    assert refits[:2] == [("0", 0), ("2", 1)]
    assert selection["oof_log_loss"] < selection["best_single_log_loss"]
    # Without refit, a trial picked twice is one checkpoint, loaded once.
    tuner.loaded.clear()
    choose_members(tuner, ranked, Publishing(3), seed=0)
    assert tuner.loaded == list(dict.fromkeys(selection["picks"]))


def test_an_explicit_size_keeps_members_far_from_the_best(tmp_path):
    tuner = _Tuner(tmp_path, "max")
    ranked = [_trial("0", 0.9), _trial("1", 0.5), _trial("2", 0.4)]
    publishing = Publishing(ensemble_size=2, close_to_best=False)
    members = choose_members(tuner, ranked, publishing, seed=0)
    assert tuner.loaded == ["0", "1"]
    assert [row["trial"] for row in members.described] == ["0", "1"]


# A real search: the pipeline's hypermodel and tuner over tiny random images,
# two trials of two epochs on two folds, both trials' checkpoints kept.


def _tiny_splits() -> Splits:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8, 8, 1)).astype("float32")
    y = np.arange(30) % 3
    for label in range(3):
        x[y == label, label * 2 : label * 2 + 3, :, 0] += 3.0
    return Splits(x[:24], y[:24], x[24:], y[24:], x[24:], y[24:], ["a", "b", "c"])


def test_a_refit_member_ends_its_schedule_with_its_own_epochs(tmp_path):
    # The search planned 1,000 steps; the member trains 3 epochs of 4
    # batches (30 train+validation examples, batch 8) on a schedule that
    # ends with them.
    preprocessing = Preprocessing("image", (8, 8, 1), mean=[0.0], variance=[1.0])
    tuner = _Tuner(tmp_path, "min")
    tuner.hypermodel = PipelineHyperModel(
        preprocessing, 3, ["cnn"], recipe=TrainingRecipe(training_steps=1000)
    )
    tuner.distribution_strategy = None
    hp = kt.HyperParameters()
    hp.Choice("family", ["cnn"])
    for name, value in {"cnn/num_blocks": 1, "cnn/filters": 8}.items():
        hp.Fixed(name, value)
    trial = Trial(hp, trial_id="0", status="COMPLETED")
    trial.score, trial.best_step = 0.1, 2
    data = make_datasets(pooled_splits(_tiny_splits()), batch_size=8)
    publishing = Publishing(1, close_to_best=False, refit_data=data)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        members = choose_members(tuner, [trial], publishing, seed=0)
    (model,) = members.models
    assert members.described[0]["epochs"] == 3 and members.described[0]["refit"]
    config = model.optimizer.get_config()["learning_rate"]["config"]
    assert config["warmup_steps"] + config["decay_steps"] == 3 * 4
    assert int(model.optimizer.iterations) == 3 * 4


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("search")
    splits = _tiny_splits()
    folds = tuple(
        make_datasets(fold, batch_size=8) for fold in fold_splits(splits, 2, seed=0)
    )
    preprocessing = Preprocessing(
        kind="image", input_shape=(8, 8, 1), mean=[0.0], variance=[1.0]
    )
    hypermodel = PipelineHyperModel(preprocessing, 3, ["cnn"])
    settings = SearchSettings("random", 2, 2, 2, 5.0, "val_loss", 0)
    tuner = make_tuner(
        hypermodel,
        root / "tuner",
        root / "tb",
        settings,
        TrialSettings(epochs=2, backup_seconds=0.0, folds=folds, keep_checkpoints=2),
        strategy=None,
        distributed=None,
    )
    datasets = make_datasets(splits, batch_size=8)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        tuner.search(
            datasets.train, validation_data=datasets.validation, epochs=2, verbose=0
        )
    refit_data = make_datasets(pooled_splits(splits), batch_size=8)
    pooled = pooled_splits(splits)
    return SimpleNamespace(
        tuner=tuner,
        splits=splits,
        refit_data=refit_data,
        refit_data_labels=sorted(pooled.y_train.tolist()),
    )


@pytest.mark.slow  # a real two-trial, two-fold search (~15 s)
def test_refit_members_are_the_best_configurations_trained_again(searched):
    tuner = searched.tuner
    ranked = ranked_trials(tuner)
    assert len(ranked) == 2
    publishing = Publishing(2, close_to_best=False, refit_data=searched.refit_data)
    members = choose_members(tuner, ranked, publishing, seed=0)
    assert len(members.models) == 2
    for seed, (trial, row) in enumerate(zip(ranked, members.described, strict=True)):
        folds = read_fold_scores(tuner.get_trial_dir(trial.trial_id))
        assert len(folds.scores) == 2  # one score per fold
        # Each fold's best epoch predicted its held-out examples: all 30 once.
        probabilities, labels = read_oof(tuner.get_trial_dir(trial.trial_id))
        assert probabilities.shape == labels.shape == (30, 3)
        assert sorted(labels.argmax(1)) == sorted(searched.refit_data_labels)
        assert row == {
            "trial": trial.trial_id,
            "family": "cnn",
            "score": trial.score,
            "epochs": folds.epochs,
            "seed": seed,
            "refit": True,
        }
        assert 1 <= row["epochs"] <= 2
    assert members.refit["ran"] is True
    assert members.refit["members"] == 2
    assert members.refit["examples"] == 30  # train and validation together
    x_test = searched.splits.x_test
    for model in members.models:
        probabilities = model.predict(x_test, verbose=0)
        assert probabilities.shape == (len(x_test), 3)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_members_without_refit_data_are_the_kept_checkpoints(searched):
    tuner = searched.tuner
    ranked = ranked_trials(tuner)
    publishing = Publishing(2, close_to_best=False, refit_data=None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Skipping variable loading.*")
        members = choose_members(tuner, ranked, publishing, seed=0)
        saved = [_load_checkpoint(tuner, trial) for trial in ranked]
    assert [row["trial"] for row in members.described] == _ids(ranked)
    assert all(
        row["refit"] is False and row["epochs"] is None for row in members.described
    )
    assert members.refit == {
        "ran": False,
        "members": 2,
        "examples": None,
        "seconds": members.refit["seconds"],
        "selection": {"method": "the best ensemble_size trials"},
    }
    # Each member is its trial's best checkpoint, kept on disk by the search.
    x_test = searched.splits.x_test
    for model, checkpoint in zip(members.models, saved, strict=True):
        np.testing.assert_allclose(
            model.predict(x_test, verbose=0), checkpoint.predict(x_test, verbose=0)
        )


def _load_checkpoint(tuner, trial) -> keras.Model:
    """`trial`'s configuration with the weights in its checkpoint file."""
    path = Path(checkpoint_path(tuner, trial.trial_id))
    assert path.is_file()
    model = tuner.hypermodel.build(trial.hyperparameters)
    model.load_weights(path)
    return model
