"""Run folders: which run goes on where, and whether it already published."""

from __future__ import annotations

import json

import pytest

from tasks.errors import ConfigError
from tasks.registry.runs import (
    continued_run,
    finish_run,
    published_version,
    resume_run,
    start_run,
)

CONFIG = {"name": "tiny", "seed": 0, "output_dir": "out"}
RUN_ID = "20260101T000000Z-flowrun1"
FLOW_RUN = "flowrun1-0000-0000-0000-000000000000"


@pytest.fixture
def runs_dir(tmp_path):
    runs = tmp_path / "runs" / "tiny"
    start_run(runs / RUN_ID, RUN_ID, CONFIG, FLOW_RUN)
    return runs


def _version(tmp_path, version: str, run_id: str, flow_run_id: str):
    """A version folder whose lineage names the run that published it."""
    folder = tmp_path / "registry" / "tiny" / version
    folder.mkdir(parents=True)
    lineage = {"run_id": run_id, "flow_run_id": flow_run_id}
    (folder / "lineage.json").write_text(json.dumps(lineage))


def test_a_new_run_continues_nothing(runs_dir):
    assert continued_run(runs_dir, None, CONFIG, "another", run_count=1) is None
    assert continued_run(runs_dir, None, CONFIG, "another", run_count=2) is None


def test_a_retry_continues_its_own_run_published_or_not(runs_dir):
    run_dir = runs_dir / RUN_ID
    assert continued_run(runs_dir, None, CONFIG, FLOW_RUN, run_count=2) == run_dir
    finish_run(run_dir, "v0001")
    assert continued_run(runs_dir, None, CONFIG, FLOW_RUN, run_count=2) == run_dir


def test_published_version_reads_the_record_then_the_registry(tmp_path, runs_dir):
    run_dir, pipeline = runs_dir / RUN_ID, tmp_path / "registry" / "tiny"
    assert published_version(run_dir, pipeline) is None
    _version(tmp_path, "v0001", "someone-else", FLOW_RUN)
    _version(tmp_path, "v0002", RUN_ID, "an-older-flow-run-of-a-removed-folder")
    assert published_version(run_dir, pipeline) is None
    _version(tmp_path, "v0003", RUN_ID, FLOW_RUN)  # renamed in, run.json not yet
    assert published_version(run_dir, pipeline) == "v0003"
    finish_run(run_dir, "v0003")
    assert published_version(run_dir, pipeline) == "v0003"


@pytest.mark.parametrize("recorded", [True, False])
def test_resume_refuses_a_run_that_published(tmp_path, runs_dir, recorded):
    if recorded:
        finish_run(runs_dir / RUN_ID, "v0001")
    else:  # it died after the rename, before run.json said so
        _version(tmp_path, "v0001", RUN_ID, FLOW_RUN)
    with pytest.raises(ConfigError, match=r"already finished and published v0001"):
        resume_run(runs_dir, RUN_ID, CONFIG, "a-new-flow-run")
    # Prefect retrying the flow run that published it gets its folder back.
    assert resume_run(runs_dir, RUN_ID, CONFIG, FLOW_RUN) == runs_dir / RUN_ID


def test_resume_goes_on_in_an_unpublished_run(runs_dir):
    assert resume_run(runs_dir, RUN_ID, CONFIG, "a-new-flow-run") == runs_dir / RUN_ID
    with pytest.raises(ConfigError, match=r"received changes in seed"):
        resume_run(runs_dir, RUN_ID, {**CONFIG, "seed": 3})
