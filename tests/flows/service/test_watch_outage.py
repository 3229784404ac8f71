"""`automl serve --watch` rides out a Prefect API outage: new data is still
reported, once.

Real processes on loopback: `prefect server start` (SQLite in its own
PREFECT_HOME), `automl deploy` and `automl serve --watch`. The API is stopped,
new data lands, the API comes back on the same port and database; the watcher
has logged its failed tries meanwhile and then sends the event, which starts
exactly one retrain.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events.filters import EventFilter, EventNameFilter

from tests import helpers
from tests.helpers import run_automl, start_logged, stop_process

pytestmark = pytest.mark.faults

TIMEOUT = 240


def _wait(condition, what: str, log: Path, timeout=TIMEOUT, alive=None):
    """Until `condition()` is truthy (its value); fails after `timeout` s or
    as soon as the process `alive` has ended."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        ended = alive is not None and alive.poll() is not None
        assert not ended and time.monotonic() < deadline, (
            f"{what}:\n{log.read_text()[-4000:]}"
        )
        time.sleep(0.5)
    return found


def _runs(client, deployment) -> list:
    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
    )


def _landed_events(client) -> list:
    name = EventNameFilter(name=["automl.data.landed"])
    return client.read_events(filter=EventFilter(event=name), limit=50).events


def test_data_landing_while_the_api_is_down_is_reported_once_it_is_back(tmp_path):
    env, port = helpers.prefect_environment(tmp_path)
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    server = helpers.start_prefect_api(env, port, server_log)
    serve = None
    try:
        source = helpers.save_tiny_npz(tmp_path / "tiny.npz")
        config = helpers.write_tiny_config(
            tmp_path / "tiny.yaml", source, tmp_path / "out"
        )
        deploy = run_automl(env, "deploy", str(config))
        assert deploy.returncode == 0, deploy.stderr
        serve = start_logged(
            [sys.executable, "-m", "flows.cli.main", "serve", "--watch", "--debug"],
            env,
            serve_log,
            ready="being served",  # after "watching": the runner is up too
        )
        assert "watching" in serve_log.read_text()
        stop_process(server)  # the API goes down while `automl serve` runs on

        with np.load(source) as arrays:  # new data lands: two more examples
            x, y = arrays["x"], arrays["y"]
        np.savez(source, x=np.concatenate([x, x[:2]]), y=np.concatenate([y, y[:2]]))
        failed = "Could not send automl.data.landed for tiny"
        _wait(
            lambda: failed in serve_log.read_text(),
            "the watcher did not log its failed try",
            serve_log,
            alive=serve,
        )

        # The same port and the same database.
        server = helpers.start_prefect_api(env, port, server_log)
        with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
            deployment = client.read_deployment_by_name("automl/tiny")
            (run,) = _wait(
                lambda: [r for r in _runs(client, deployment) if r.state.is_final()],
                "no retrain ran after the API came back",
                serve_log,
                alive=serve,
            )
            assert run.state.is_completed(), (run.state, serve_log.read_text()[-4000:])
            assert len(_runs(client, deployment)) == 1  # one change, one retrain
            (event,) = _landed_events(client)
        log = serve_log.read_text()
        assert log.count("new data for tiny") == 1, log[-4000:]
        assert f"sent automl.data.landed ({event.id})" in log
        assert "Retrying in" in log and "same event id" in log
        assert event.resource["automl.path"] == str(source.resolve())
    finally:
        if serve is not None:
            stop_process(serve)
        stop_process(server)
