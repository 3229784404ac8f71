"""The time budget and the oracles that keep it, with Keras Tuner's own oracles."""

import keras_tuner as kt
import pytest

from tasks.errors import ConfigError
from tasks.tuning.budget import DeadlineOracle, SearchBudget, make_oracle


def _oracle(tmp_path, kind: str, budget: SearchBudget) -> DeadlineOracle:
    oracle = make_oracle(kind, budget, kt.Objective("score", "max"), 5, 3, 0)
    oracle._set_project_dir(str(tmp_path), kind)
    space = kt.HyperParameters()
    space.Float("x", 0.0, 1.0)
    oracle.update_space(space)
    return oracle


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
def test_the_oracle_stops_handing_out_trials_past_the_deadline(tmp_path, kind):
    budget = SearchBudget(3600.0)
    oracle = _oracle(tmp_path, kind, budget)
    budget.start()
    assert oracle.populate_space("0")["status"] == "RUNNING"
    assert not budget.ran_out
    budget.start(used_before=3600.0)  # an earlier run used the whole budget
    assert oracle.populate_space("1") == {"status": "STOPPED", "values": None}
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert budget.ran_out


def test_a_budget_not_started_never_expires():
    budget = SearchBudget(0.0)
    assert not budget.expired() and budget.elapsed() == 0.0
    budget.start(used_before=5.0)
    assert budget.expired() and budget.used() >= 5.0


def test_an_unknown_tuner_is_a_config_error():
    with pytest.raises(ConfigError, match="search.tuner received 'grid'"):
        make_oracle("grid", SearchBudget(1.0), kt.Objective("score", "max"), 1, 1, 0)
