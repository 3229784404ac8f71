"""The pipeline's oracles: defaults first, trials while the budget lasts, and the
Bayesian oracle's random phase sized to the trials the budget fits."""

import keras_tuner as kt
import pytest

from tasks.tuning.budget import (
    BayesianOptimizationOracle,
    SearchBudget,
    make_oracle,
)

OBJECTIVE = kt.Objective("val_loss", "min")


def _space() -> kt.HyperParameters:
    """Three hyperparameters with defaults; `depth` only counts for width 32."""
    hp = kt.HyperParameters()
    hp.Choice("width", [8, 16, 32], default=16)
    with hp.conditional_scope("width", [32]):
        hp.Int("depth", 1, 3, default=2)
    hp.Float("rate", 0.0, 0.5, default=0.25)
    return hp


def _wide_space(count: int) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for index in range(count):
        hp.Float(f"x{index}", 0.0, 1.0, default=0.5)
    return hp


def _ready(tmp_path, oracle, space: kt.HyperParameters):
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.update_space(space)
    oracle.verbose = 0
    return oracle


def _oracle(tmp_path, kind="bayesian", budget=None, space=None, max_trials=None):
    budget = budget or SearchBudget(600.0)
    oracle = make_oracle(kind, budget, OBJECTIVE, max_trials, 10, 0)
    return _ready(tmp_path, oracle, space or _space())


def _run_trial(oracle, loss: float):
    """Create a trial, report `loss` and complete it; returns the trial."""
    trial = oracle.create_trial("tuner0")
    assert trial.status == "RUNNING"
    oracle.update_trial(trial.trial_id, {"val_loss": loss})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    return trial


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_the_first_trial_runs_the_search_spaces_defaults(tmp_path, kind):
    oracle = _oracle(tmp_path, kind)
    first = oracle.create_trial("tuner0")
    assert first.status == "RUNNING"
    # `depth` is inactive at the default width, so it has no value.
    assert first.hyperparameters.values == {"width": 16, "rate": 0.25}


def test_defaults_include_active_conditional_hyperparameters(tmp_path):
    wide = kt.HyperParameters()
    wide.Choice("width", [8, 16, 32], default=32)
    with wide.conditional_scope("width", [32]):
        wide.Int("depth", 1, 3, default=2)
    oracle = _oracle(tmp_path, space=wide)
    assert oracle.create_trial("tuner0").hyperparameters.values == {
        "width": 32,
        "depth": 2,
    }


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_each_family_runs_its_defaults_before_the_search_samples(tmp_path, kind):
    space = kt.HyperParameters()
    space.Choice("family", ["cnn", "rocket"], default="cnn")
    with space.conditional_scope("family", ["cnn"]):
        space.Int("cnn/blocks", 1, 3, default=2)
    with space.conditional_scope("family", ["rocket"]):
        space.Float("rocket/l2", 0.0, 1.0, default=0.01)
    oracle = _oracle(tmp_path, kind, space=space)
    first = _run_trial(oracle, 0.5)
    second = _run_trial(oracle, 0.4)
    assert first.hyperparameters.values == {"family": "cnn", "cnn/blocks": 2}
    assert second.hyperparameters.values == {"family": "rocket", "rocket/l2": 0.01}


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_later_trials_sample_the_space(tmp_path, kind):
    oracle = _oracle(tmp_path, kind)
    _run_trial(oracle, 0.5)
    second = oracle.create_trial("tuner0")
    assert second.status == "RUNNING"
    assert second.hyperparameters.values != {"width": 16, "rate": 0.25}


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_without_max_trials_the_search_goes_on_past_twenty(tmp_path, kind):
    # Seven hyperparameters keep the Bayesian oracle sampling at random for
    # 21 trials (3 per hyperparameter): no Gaussian process to fit, so quick.
    oracle = _oracle(tmp_path, kind, space=_wide_space(7))
    assert oracle.max_trials is None
    for index in range(21):
        _run_trial(oracle, 1.0 / (index + 1))
    assert len(oracle.trials) == 21
    assert all(t.status == "COMPLETED" for t in oracle.trials.values())


def test_max_trials_still_caps_the_search(tmp_path):
    oracle = _oracle(tmp_path, max_trials=2)
    _run_trial(oracle, 0.5)
    _run_trial(oracle, 0.4)
    assert oracle.create_trial("tuner0").status == "STOPPED"


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_an_expired_budget_hands_out_no_trial_not_even_the_defaults(tmp_path, kind):
    budget = SearchBudget(600.0)
    oracle = _oracle(tmp_path, kind, budget)
    budget.start(used_before=600.0)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert oracle.trials == {}


def test_the_budget_stops_an_unlimited_search(tmp_path):
    budget = SearchBudget(600.0)
    oracle = _oracle(tmp_path, budget=budget)
    budget.start()
    _run_trial(oracle, 0.5)
    _run_trial(oracle, 0.4)
    budget.start(used_before=600.0)  # the rest of the budget is spent
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert len(oracle.trials) == 2


def _completed(tmp_path, count: int, budget: SearchBudget, space=None):
    """A Bayesian oracle with `count` completed trials, the budget not started."""
    oracle = _oracle(tmp_path, budget=budget, space=space)
    for index in range(count):
        _run_trial(oracle, 1.0 / (index + 1))
    return oracle


def test_the_random_phase_is_a_third_of_the_trials_the_budget_fits(tmp_path):
    budget = SearchBudget(600.0)
    oracle = _completed(tmp_path, 3, budget)
    # 3 trials in 130 s: 600 s fit about 13.8 trials, a third of which is 4.
    budget.start(used_before=130.0)
    assert oracle.num_initial_points == 4


def test_the_random_phase_is_at_least_two_trials(tmp_path):
    budget = SearchBudget(600.0)
    oracle = _completed(tmp_path, 3, budget)
    budget.start(used_before=590.0)  # about 3 trials fit in all
    assert oracle.num_initial_points == 2


def test_the_random_phase_never_exceeds_three_per_hyperparameter(tmp_path):
    budget = SearchBudget(600.0)
    oracle = _completed(tmp_path, 3, budget)
    assert len(oracle.hyperparameters.space) == 3
    budget.start(used_before=1.0)  # about 1800 trials fit
    assert oracle.num_initial_points == 9


def test_before_any_trial_completes_the_random_phase_is_keras_tuners(tmp_path):
    budget = SearchBudget(600.0)
    oracle = _oracle(tmp_path, budget=budget)
    assert oracle.num_initial_points == 9  # nothing to time yet
    oracle.create_trial("tuner0")  # running, not completed
    budget.start(used_before=100.0)
    assert oracle.num_initial_points == 9


def test_a_configured_random_phase_wins(tmp_path):
    budget = SearchBudget(600.0)
    oracle = BayesianOptimizationOracle(
        objective=OBJECTIVE, max_trials=None, num_initial_points=7, budget=budget
    )
    _ready(tmp_path, oracle, _space())
    for index in range(3):
        _run_trial(oracle, 1.0 / (index + 1))
    budget.start(used_before=130.0)  # adaptive would say 4
    assert oracle.num_initial_points == 7


# Four points, one of them the defaults: sklearn may warn a length scale is
# at its bound, which is no concern here.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_bayesian_phase_starts_once_the_random_phase_is_done(tmp_path):
    budget = SearchBudget(600.0)
    oracle = _completed(tmp_path, 4, budget)
    assert not hasattr(oracle.gpr, "X_train_")  # all four sampled at random
    # 4 trials in 190 s: about 12.6 trials fit, so 4 random ones are enough;
    # Keras Tuner alone would sample 9 at random first.
    budget.start(used_before=190.0)
    assert oracle.num_initial_points == 4
    assert oracle.create_trial("tuner0").status == "RUNNING"
    assert len(oracle.gpr.X_train_) == 4  # the Gaussian process chose it


def test_a_resumed_oracle_keeps_its_random_phase_adaptive(tmp_path):
    _completed(tmp_path, 3, SearchBudget(600.0))  # saved in tmp_path / "p"
    budget = SearchBudget(600.0)
    resumed = _oracle(tmp_path, budget=budget)
    resumed.reload()
    assert len(resumed.trials) == 3
    budget.start(used_before=130.0)
    assert resumed.num_initial_points == 4


def test_a_resumed_oracle_keeps_a_configured_random_phase(tmp_path):
    def configured(budget):
        oracle = BayesianOptimizationOracle(
            objective=OBJECTIVE, max_trials=None, num_initial_points=7, budget=budget
        )
        return _ready(tmp_path, oracle, _space())

    first = configured(SearchBudget(600.0))
    _run_trial(first, 0.5)
    resumed = configured(SearchBudget(600.0))
    resumed.reload()
    assert resumed.num_initial_points == 7
