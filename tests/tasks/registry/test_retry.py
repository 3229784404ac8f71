"""A retried run that already published returns that version, never a second."""

from __future__ import annotations

import json

import pytest

from tasks.errors import RegistryError
from tasks.registry.history import append_history
from tasks.registry.retry import already_published
from tasks.registry.runs import read_run, start_run

RUN_ID = "20260101T000000Z-flowrun1"
FLOW_RUN = "flowrun1-0000-0000-0000-000000000000"
DECISION = {
    "event": "publish",
    "version": "v0001",
    "promoted": True,
    "reason": "first version for tiny",
    "metric": "f1_macro",
    "candidate_score": 0.75,
    "champion_version": None,
    "champion_score": None,
    "p_value": None,
    "num_compared": None,
}


@pytest.fixture
def run_dir(tmp_path):
    """A run whose first attempt renamed v0001 into place, then died."""
    run_dir = tmp_path / "runs" / "tiny" / RUN_ID
    start_run(run_dir, RUN_ID, {"name": "tiny"}, FLOW_RUN)
    version = tmp_path / "registry" / "tiny" / "v0001"
    version.mkdir(parents=True)
    (version / "lineage.json").write_text(
        json.dumps({"run_id": RUN_ID, "flow_run_id": FLOW_RUN})
    )
    (version / "metrics.json").write_text(json.dumps({"f1_macro": 0.75}))
    return run_dir


def test_a_first_attempt_is_not_looked_up(run_dir):
    assert already_published(run_dir) is None


def test_a_retry_returns_the_version_and_its_decision(run_dir):
    append_history(run_dir.parents[2] / "registry" / "tiny", DECISION)
    start_run(run_dir, RUN_ID, {"name": "tiny"}, FLOW_RUN)  # Prefect's retry
    published, metrics = already_published(run_dir)
    assert (published.name, published.version) == ("tiny", "v0001")
    assert published.path == str(run_dir.parents[2] / "registry" / "tiny" / "v0001")
    assert published.promoted and published.candidate_score == 0.75
    assert published.reason.startswith("first version for tiny (published by an")
    assert metrics == {"f1_macro": 0.75}
    record = read_run(run_dir)  # now the record says so too
    assert (record["status"], record["version"]) == ("published", "v0001")


def test_a_version_without_its_decision_is_not_published_again(run_dir):
    start_run(run_dir, RUN_ID, {"name": "tiny"}, FLOW_RUN)
    with pytest.raises(RegistryError, match=r"already published v0001 .* holds no"):
        already_published(run_dir)
    assert read_run(run_dir)["status"] == "running"
