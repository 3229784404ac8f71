"""A served run killed mid-way gives its deployment's concurrency slot back.

A real `prefect server start` and `automl serve` (see tests/flows/
test_service.py); the deployment allows one run at a time and queues the
rest (ENQUEUE), as `automl deploy` registers it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from tasks.registry.versions import list_versions
from tests.helpers import (
    prefect_server,
    run_automl,
    save_tiny_npz,
    start_logged,
    stop_process,
    write_tiny_config,
)

pytestmark = pytest.mark.faults

RUN_TIMEOUT = 240


def _flow_run_process(serve_pid: int, flow_run_id: str) -> int | None:
    """The pid of the runner's child that executes `flow_run_id`, if any.

    The runner starts each flow run in a subprocess whose environment holds
    `PREFECT__FLOW_RUN_ID`; the topmost such descendant of `automl serve`.
    """
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if marker in environ and parent == serve_pid:
            return int(entry.name)
    return None


def _wait(condition, what: str, log: Path, timeout=RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text()[-4000:]}"
        time.sleep(0.2)
    return found


def test_a_run_killed_mid_search_releases_the_slot_for_the_next(tmp_path):
    """Run A is SIGKILLed (its flow-run process, the runner's child) while
    its search runs, with run B waiting for the slot; A ends CRASHED and B
    then runs to COMPLETED, without waiting for a lease to expire.

    B re-asks for the slot every 5 s here (Prefect's default is 30 s).
    """
    wait = {"PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5"}
    with prefect_server(tmp_path, **wait) as env:
        source = save_tiny_npz(tmp_path / "tiny.npz")
        # 30 epochs: a search long enough to be killed in the middle of.
        config = write_tiny_config(
            tmp_path / "tiny.yaml", source, tmp_path / "out", epochs=30
        )
        deploy = run_automl(env, "deploy", str(config))
        assert deploy.returncode == 0, deploy.stderr
        log = tmp_path / "serve.log"
        # --limit 2: only the deployment's own limit keeps B waiting.
        serve = start_logged(
            [
                sys.executable,
                "-m",
                "flows.cli.main",
                "serve",
                "--limit",
                "2",
                "--debug",
            ],
            env,
            log,
            ready="being served",
        )
        try:
            with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
                deployment = client.read_deployment_by_name("automl/tiny")
                run_a = client.create_flow_run_from_deployment(deployment.id)
                pid = _wait(
                    lambda: _flow_run_process(serve.pid, str(run_a.id)),
                    "run A's process did not start",
                    log,
                )
                run_b = client.create_flow_run_from_deployment(deployment.id)
                _wait(
                    lambda: list((tmp_path / "out/runs/tiny").glob("*/tuner/*")),
                    "run A's search did not start",
                    log,
                )
                # Mid-search: A holds the slot and B waits in line for it.
                assert client.read_flow_run(run_a.id).state.is_running()
                assert client.read_flow_run(run_b.id).state.is_scheduled()
                os.kill(pid, signal.SIGKILL)
                killed_at = time.monotonic()
                a = _wait(lambda: _final(client, run_a.id), "run A did not end", log)
                b = _wait(lambda: _final(client, run_b.id), "run B did not end", log)
                waited = time.monotonic() - killed_at
        finally:
            stop_process(serve)
    assert a.state.is_crashed(), a.state
    assert b.state.is_completed(), (b.state, log.read_text()[-4000:])
    assert a.end_time <= b.start_time
    # Released when A crashed, not when its lease ran out (300 s).
    assert waited < 150, waited
    assert list_versions(tmp_path / "out/registry/tiny") == ["v0001"]


def _final(client, run_id):
    run = client.read_flow_run(run_id)
    return run if run.state.is_final() else None
