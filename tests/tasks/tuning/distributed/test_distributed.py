"""Distributed search pieces: roles, the chief's server loop, the mirrored strategy.

The chief is served in a thread and driven by Keras Tuner's own gRPC client,
as a worker would; the end-to-end run with worker processes is in
tests/flows/test_distributed.py.
"""

import os
import socket
import threading
import time

import keras_tuner as kt
import pytest

from tasks.augment import make_datasets
from tasks.errors import ConfigError, SearchError
from tasks.load import Examples
from tasks.preprocess import fit_preprocessing
from tasks.search import run_search
from tasks.split import split_examples
from tasks.tuning.budget import RandomSearchOracle, SearchBudget
from tasks.tuning.compat import OracleClient
from tasks.tuning.distributed.chief import serve_oracle
from tasks.tuning.distributed.role import (
    chief_role,
    distribution_strategy,
    ensure_new_search,
    tuner_environment,
    worker_role,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _budget(seconds: float) -> SearchBudget:
    budget = SearchBudget(seconds)
    budget.start()
    return budget


def _oracle(tmp_path, budget, max_trials=10) -> kt.Oracle:
    oracle = RandomSearchOracle(
        objective=kt.Objective("score", "max"),
        max_trials=max_trials,
        seed=0,
        budget=budget,
    )
    oracle._set_project_dir(str(tmp_path), "tuner")
    space = kt.HyperParameters()
    space.Float("x", 0.0, 1.0)
    oracle.update_space(space)
    return oracle


def _serve_in_thread(oracle, role, budget) -> tuple[threading.Thread, dict]:
    result = {}

    def serve():
        try:
            result["outcome"] = serve_oracle(
                oracle, role, budget, lambda *a: None, lambda *a: None
            )
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, result


def test_worker_role_parses_the_chief_address():
    role = worker_role("10.0.0.5:8123")
    assert (role.host, role.port, role.run_id) == ("10.0.0.5", 8123, "distributed-8123")
    assert role.tuner_id.startswith("worker-") and "chief" not in role.tuner_id
    assert role.tuner_id.endswith(f"-{os.getpid()}")


@pytest.mark.parametrize("chief", ["10.0.0.5", "host:port", ":8000", "h:70000"])
def test_a_bad_chief_address_says_what_is_expected(chief):
    with pytest.raises(ConfigError, match="expected"):
        worker_role(chief)


def test_a_trial_timeout_shorter_than_the_heartbeat_is_refused():
    with pytest.raises(ConfigError, match="--trial-timeout received 1 seconds"):
        chief_role(8000, trial_timeout_seconds=1)


def test_tuner_environment_is_restored_afterwards(monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "1")
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    with tuner_environment(chief_role(8123)):
        assert os.environ["KERASTUNER_TUNER_ID"] == "chief"
        assert os.environ["KERASTUNER_ORACLE_PORT"] == "8123"
    assert os.environ["KERASTUNER_ORACLE_PORT"] == "1"
    assert "KERASTUNER_TUNER_ID" not in os.environ


def test_a_used_tuner_folder_is_refused_for_a_new_chief(tmp_path):
    ensure_new_search(tmp_path / "tuner")  # absent: fine
    (tmp_path / "tuner").mkdir()
    (tmp_path / "tuner" / "worker-a.json").write_text("{}")
    ensure_new_search(tmp_path / "tuner")  # a worker came first: fine
    (tmp_path / "tuner" / "oracle.json").write_text("{}")
    with pytest.raises(ConfigError, match="Pass a new --run-id"):
        ensure_new_search(tmp_path / "tuner")


def test_the_budget_stops_the_chief_handing_out_trials(tmp_path):
    budget = _budget(2.0)
    oracle = _oracle(tmp_path, budget)
    role = chief_role(_free_port(), trial_timeout_seconds=10)
    thread, result = _serve_in_thread(oracle, role, budget)
    with tuner_environment(worker_role(f"127.0.0.1:{role.port}")):
        client = OracleClient(oracle)
        trial = client.create_trial("worker-a")
        assert trial.status == "RUNNING"
        client.update_trial(trial.trial_id, {"score": 0.5})
        trial.status = "COMPLETED"
        client.end_trial(trial)
        time.sleep(2.5)
        assert client.create_trial("worker-a").status == "STOPPED"
    thread.join(timeout=30)
    assert result["outcome"].stopped_by_budget
    assert result["outcome"].workers == {trial.trial_id: "worker-a"}
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"]


def test_a_chief_no_worker_joined_says_so(tmp_path):
    role = chief_role(_free_port())
    with pytest.raises(SearchError, match="No worker took a trial"):
        budget = _budget(0.0)
        serve_oracle(_oracle(tmp_path, budget), role, budget, print, print)


def test_a_taken_port_is_a_config_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        role = chief_role(taken.getsockname()[1])
        with pytest.raises(ConfigError, match="Pass another --port"):
            budget = _budget(60.0)
            serve_oracle(_oracle(tmp_path, budget), role, budget, print, print)


def test_an_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError, match="train.strategy received 'gpus'"):
        distribution_strategy("gpus")


def test_mirrored_strategy_trains_each_trial_and_returns_a_usable_model(
    tmp_path, tiny_images
):
    x, y = tiny_images
    splits = split_examples(Examples(x=x, y=y), 0.25, 0.25)
    result = run_search(
        make_datasets(splits, batch_size=16),
        fit_preprocessing(splits.x_train),
        splits.num_classes,
        tuner_dir=tmp_path / "tuner",
        tensorboard_dir=tmp_path / "tb",
        tuner="random",
        max_trials=1,
        epochs=1,
        strategy="mirrored",
    )
    strategy = type(result.model.distribute_strategy).__name__
    assert strategy == "MirroredStrategy"
    probabilities = result.model.predict(splits.x_test, verbose=0)
    assert probabilities.shape == (len(splits.x_test), 3)
