"""The one pipeline tuner: a static class whatever the oracle and the role."""

import keras
import keras_tuner as kt
import pytest

from tasks.tuning.budget import SearchBudget, make_oracle
from tasks.tuning.distributed.chief import ChiefPart
from tasks.tuning.distributed.role import chief_role, tuner_environment, worker_role
from tasks.tuning.distributed.worker import WorkerPart
from tasks.tuning.tuner import (
    PipelineHyperband,
    PipelineTuner,
    SearchAlone,
    TrialSettings,
)


def _tiny_model(hp: kt.HyperParameters) -> keras.Model:
    units = hp.Int("units", 2, 4)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
    model.compile(loss="mse")
    return model


def _tuner(tmp_path, kind: str, role=None) -> PipelineTuner:
    budget = SearchBudget(60.0)
    oracle = make_oracle(kind, budget, kt.Objective("val_loss", "min"), 2, 3, 0)
    tuner_class = PipelineHyperband if kind == "hyperband" else PipelineTuner
    with tuner_environment(role):
        return tuner_class(
            _tiny_model,
            oracle,
            budget,
            TrialSettings(epochs=3),
            role=role,
            directory=str(tmp_path),
            project_name=f"{kind}-{role.role if role else 'alone'}",
        )


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
@pytest.mark.parametrize("role", [None, "chief", "worker"])
def test_every_tuner_kind_and_role_is_one_static_class(tmp_path, kind, role):
    part = {
        None: None,
        "chief": chief_role(8123, run_id="r"),
        "worker": worker_role("127.0.0.1:8123", run_id="r"),
    }[role]
    tuner = _tuner(tmp_path, kind, part)
    expected = PipelineHyperband if kind == "hyperband" else PipelineTuner
    # No class made at run time: the class is the module's own, by name too.
    assert type(tuner) is expected
    assert type(tuner).__name__ == expected.__name__
    assert type(tuner).__module__ == "tasks.tuning.tuner"
    parts = {None: SearchAlone, "chief": ChiefPart, "worker": WorkerPart}
    assert type(tuner.part) is parts[role]
    # Hyperband starts trials from earlier ones' weights; a worker sees only
    # its own trials: neither prunes checkpoints.
    assert tuner.prunes_checkpoints == (kind != "hyperband" and role != "worker")
    assert tuner.budget.deadline == float("inf")  # the clock starts with search


def test_the_hyperband_tuner_keeps_keras_tuners_trial_logic():
    # Its bracket epochs (run_trial) and warm starts (the model build).
    assert PipelineHyperband._build_hypermodel is kt.Hyperband._build_hypermodel
    mro = PipelineHyperband.__mro__
    assert mro.index(PipelineTuner) < mro.index(kt.Hyperband) < mro.index(kt.Tuner)
