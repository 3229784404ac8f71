"""Deployments, triggers, watching and one-at-a-time runs, on a real Prefect server.

The module starts `prefect server start` (SQLite, a loopback port, its own
PREFECT_HOME) and `automl serve`, and stops both at the end. Each flow run
is a real `automl` run of a tiny config in a subprocess of the runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from tests.helpers import (
    BIN,
    prefect_server,
    save_tiny_npz,
    start_logged,
    stop_process,
    write_tiny_config,
)
from tests.helpers import run_automl as _automl

# A real Prefect server, `automl serve` and retrains (~4 min): `make test-slow`.
pytestmark = pytest.mark.slow

RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Prefect server; yields (api_url, env for the CLI, a work folder)."""
    root = tmp_path_factory.mktemp("service")
    with prefect_server(root) as env:
        yield env["PREFECT_API_URL"], env, root


@pytest.fixture(scope="module")
def deployed(server):
    """`automl deploy` of a tiny pipeline, served by `automl serve --watch`."""
    api, env, root = server
    source = save_tiny_npz(root / "tiny.npz")
    config = write_tiny_config(root / "tiny.yaml", source, root / "out")
    deploy = _automl(env, "deploy", str(config), "--cron", "0 2 * * *")
    assert deploy.returncode == 0, deploy.stderr
    assert "Deployed automl/tiny" in deploy.stdout
    # --limit 2: the runner would take both runs at once; the deployment's
    # own concurrency limit is what must keep them one after the other.
    serve = start_logged(
        [sys.executable, "-m", "flows.cli.main", "serve", "--limit", "2", "--watch"]
        + ["--debug"],
        env,
        root / "serve.log",
        ready="watching",
    )
    try:
        client = SyncPrefectClient(api)
        with client:
            yield client, client.read_deployment_by_name("automl/tiny"), env, root
    finally:
        stop_process(serve)


def _wait_final(client, run_ids, log: Path) -> list:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        runs = [client.read_flow_run(run_id) for run_id in run_ids]
        if all(run.state.is_final() for run in runs):
            return runs
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(1)


def test_deploy_shows_its_schedule_in_prefect_deployment_ls(deployed):
    _, _, env, _ = deployed
    listed = subprocess.run(
        [str(BIN / "prefect"), "deployment", "ls", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    (tiny,) = [d for d in json.loads(listed.stdout) if d["name"] == "tiny"]
    assert [s["schedule"]["cron"] for s in tiny["schedules"]] == ["0 2 * * *"]
    assert tiny["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert tiny["global_concurrency_limit"]["limit"] == 1
    # The config is the deployment's typed parameter: the Run form edits it.
    schema = tiny["parameter_openapi_schema"]
    assert "config" in schema["properties"]
    assert tiny["parameters"]["config"]["name"] == "tiny"


def test_two_api_triggers_run_one_after_the_other(deployed):
    client, deployment, _, root = deployed
    first = client.create_flow_run_from_deployment(deployment.id)
    second = client.create_flow_run_from_deployment(deployment.id)
    runs = _wait_final(client, [first.id, second.id], root / "serve.log")
    assert all(run.state.is_completed() for run in runs), [r.state for r in runs]
    earlier, later = sorted(runs, key=lambda run: run.start_time)
    assert earlier.end_time <= later.start_time
    # Both published; each run carries its artifacts, read back through the API.
    versions = sorted(p.name for p in (root / "out/registry/tiny").glob("v*"))
    assert versions == ["v0001", "v0002"]
    artifacts = client.read_artifacts(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[later.id]))
    )
    keys = {artifact.key for artifact in artifacts}
    assert {"tiny-metrics", "tiny-leaderboard", "tiny-model-card"} <= keys
    assert {"tiny-gate", "tiny-data-contract", "tiny-search-progress"} <= keys
    (progress,) = [a for a in artifacts if a.key == "tiny-search-progress"]
    assert float(progress.data) == 100.0


def test_touching_the_watched_dataset_starts_exactly_one_retrain(deployed):
    client, deployment, _, root = deployed
    before = {run.id for run in _deployment_runs(client, deployment)}
    (root / "tiny.npz").touch()
    _wait_new_run(client, deployment, before, root / "serve.log")
    time.sleep(8)  # a second (wrong) run would have been created by now
    new = [r for r in _deployment_runs(client, deployment) if r.id not in before]
    assert len(new) == 1 and new[0].state.is_completed(), new
    assert "new data for tiny" in (root / "serve.log").read_text()


def test_retrain_and_notify_from_the_cli(deployed):
    client, deployment, env, root = deployed
    retrain = _automl(env, "retrain", "tiny", "--wait", timeout=RUN_TIMEOUT)
    assert retrain.returncode == 0, retrain.stderr
    assert "COMPLETED" in retrain.stdout.upper()
    assert "/runs/flow-run/" in retrain.stdout
    before = {run.id for run in _deployment_runs(client, deployment)}
    notify = _automl(env, "notify", "tiny", str(root / "tiny.npz"))
    assert notify.returncode == 0, notify.stderr
    assert "automl.data.landed" in notify.stdout
    _wait_new_run(client, deployment, before, root / "serve.log")


@pytest.mark.parametrize(
    "args, match",
    [
        (["retrain", "nope"], "no deployment 'automl/nope'"),
        (["notify", "nope", "{root}/tiny.npz"], "no deployment 'automl/nope'"),
        (["notify", "tiny", "{root}/missing.npz"], "does not exist"),
        (["serve", "nope"], "Register one with `automl deploy CONFIG`"),
    ],
)
def test_service_commands_refuse_bad_names_with_exit_2(deployed, args, match):
    _, _, env, root = deployed
    args = [a.format(root=root) for a in args]
    result = _automl(env, *args)
    assert result.returncode == 2, result.stderr
    assert match in result.stderr and "Traceback" not in result.stderr


def test_service_commands_need_a_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path)
    result = _automl(env, "retrain", "tiny")
    assert result.returncode == 2
    assert (
        "PREFECT_API_URL" in result.stderr and "prefect server start" in result.stderr
    )


def _deployment_runs(client, deployment) -> list:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
    )


def _wait_new_run(client, deployment, before: set, log: Path) -> None:
    """Until a run of the deployment not in `before` has appeared and ended."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        new = [r for r in _deployment_runs(client, deployment) if r.id not in before]
        if new and all(run.state.is_final() for run in new):
            return
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(1)
