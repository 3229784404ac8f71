"""A Prefect retry of a run that failed after its version was renamed into place
does not publish a second version.

Real flow runs with `retries=1`: the first attempt trains and publishes v0001,
then fails; the retry goes on in the same run folder and finds v0001 there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flows.pipeline
from flows.pipeline import automl_pipeline
from tasks.errors import RegistryError
from tests.helpers import tiny_pipeline_config

# Failures injected after the rename, real retries (~70 s): `make test-faults`.
pytestmark = pytest.mark.faults


def _retrying():
    return automl_pipeline.with_options(retries=1, retry_delay_seconds=0)


def _registry(tmp_path: Path) -> Path:
    return tmp_path / "out" / "registry" / "tiny"


def _run(tmp_path: Path) -> dict:
    (run_dir,) = (tmp_path / "out" / "runs" / "tiny").iterdir()
    return json.loads((run_dir / "run.json").read_text())


def test_a_crash_after_the_publish_returns_the_version_on_retry(
    prefect_harness, tmp_path, monkeypatch
):
    """The run dies between the publish and recording it in `run.json`."""
    record_published = flows.pipeline.finish_run
    crashes = []

    def crash_once(run_dir, version):
        if not crashes:
            crashes.append(version)
            raise RuntimeError(f"the node went away after publishing {version}")
        record_published(run_dir, version)

    monkeypatch.setattr(flows.pipeline, "finish_run", crash_once)
    result = _retrying()(tiny_pipeline_config(tmp_path))

    assert crashes == ["v0001"]  # the first attempt published, then died
    assert result.publish.version == "v0001" and result.publish.promoted
    assert "published by an earlier attempt of run" in result.publish.reason
    assert result.metrics["n_test"] > 0
    registry = _registry(tmp_path)
    assert sorted(p.name for p in registry.iterdir() if p.name.startswith("v")) == [
        "v0001"
    ]
    history = [
        json.loads(line)
        for line in (registry / "history.jsonl").read_text().splitlines()
    ]
    decisions = [line for line in history if "reason" in line]
    assert [line["version"] for line in decisions] == ["v0001"]
    assert {line["version"] for line in history} == {"v0001"}
    assert json.loads((registry / "champion.json").read_text())["version"] == "v0001"
    record = _run(tmp_path)
    assert record["status"] == "published" and record["version"] == "v0001"
    assert len(record["attempts"]) == 2


def test_a_failure_inside_the_publish_after_the_rename_is_not_published_again(
    prefect_harness, tmp_path
):
    """A real I/O failure: `history.jsonl` cannot be appended (a folder there)."""
    registry = _registry(tmp_path)
    (registry / "history.jsonl").mkdir(parents=True)

    with pytest.raises(RegistryError) as raised:
        _retrying()(tiny_pipeline_config(tmp_path))

    message = " ".join(str(raised.value).split())
    assert "already published v0001 in an earlier attempt" in message, message
    assert "v0001 is not published again" in message
    assert "automl models promote tiny v0001" in message
    assert sorted(p.name for p in registry.iterdir() if p.name.startswith("v")) == [
        "v0001"
    ]
    assert not [p for p in registry.iterdir() if p.name.startswith(".tmp")]
    record = _run(tmp_path)
    assert record["status"] == "running" and len(record["attempts"]) == 2
