"""Same data or refuse: `--resume` and `automl worker` on changed data exit 2.

A run whose search fails (a family raising Keras Tuner's `FatalError`) leaves
a resumable run folder whose `run.json` holds the data fingerprint; then one
value of the data changes.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import model_builders
from flows.cli.main import app
from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline
from tests.helpers import free_port, save_tiny_npz

# Runs stopped, data changed and resumed (~70 s): `make test-faults`.
pytestmark = pytest.mark.faults

FINGERPRINT = re.compile(r"received data with fingerprint ([0-9a-f]{16})")


def _always_fails(hp, input_spec, num_classes):
    raise kt.errors.FatalError("the node went away")


@pytest.fixture(scope="module")
def failed_run(prefect_harness, tmp_path_factory):
    """A run that prepared its data, then died in the search."""
    tmp_path = tmp_path_factory.mktemp("same-data")
    source = save_tiny_npz(tmp_path / "tiny.npz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(model_builders.BUILDERS, "always_fails", _always_fails)
        config = PipelineConfig(
            name="tiny",
            data={"source": str(source), "kind": "image"},
            augment={"enabled": False},
            search={
                "tuner": "random",
                "families": ["always_fails"],
                "validation": "holdout",
                "max_trials": 1,
            },
            output_dir=str(tmp_path / "out"),
        )
        with pytest.raises(Exception, match="the node went away"):
            automl_pipeline(config)
        (run_dir,) = (tmp_path / "out" / "runs" / "tiny").iterdir()
        path = tmp_path / "tiny.yaml"
        path.write_text(
            yaml.safe_dump(json.loads((run_dir / "run.json").read_text())["config"])
        )
        yield source, path, run_dir


@contextlib.contextmanager
def _one_value_changed(source: Path) -> Iterator[None]:
    original = source.read_bytes()
    with np.load(source) as data:
        x, y = data["x"].copy(), data["y"]
    x[7, 3, 3, 0] += 1.0
    np.savez(source, x=x, y=y)
    try:
        yield
    finally:
        source.write_bytes(original)


def _refusal(outcome, recorded: str) -> str:
    text = " ".join(outcome.output.split())
    assert outcome.exit_code == 2, outcome.output
    received = FINGERPRINT.search(text)
    assert received and received.group(1) != recorded, text
    assert f"{recorded} (48 examples" in text, text
    return text


def test_the_run_recorded_its_data_fingerprint(failed_run):
    _, _, run_dir = failed_run
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running"
    assert re.fullmatch(r"[0-9a-f]{16}", record["data_fingerprint"])
    assert record["data_examples"] == 48


def test_resume_on_changed_data_exits_2_naming_both_fingerprints(failed_run):
    source, path, run_dir = failed_run
    recorded = json.loads((run_dir / "run.json").read_text())["data_fingerprint"]
    with _one_value_changed(source):
        outcome = CliRunner().invoke(app, ["run", str(path), "--resume", run_dir.name])
    text = _refusal(outcome, recorded)
    assert f"Run {run_dir.name} started on other data" in text
    assert (
        "Restore the data the run started on and resume again, or start a new run"
        in text
    )
    record = json.loads((run_dir / "run.json").read_text())
    assert record["data_fingerprint"] == recorded
    assert not list((run_dir / "tuner").rglob("trial.json"))  # nothing trained


def test_resume_on_the_same_data_goes_past_the_check(failed_run):
    _, path, run_dir = failed_run
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(model_builders.BUILDERS, "always_fails", _always_fails)
        outcome = CliRunner().invoke(app, ["run", str(path), "--resume", run_dir.name])
    assert outcome.exit_code == 1, outcome.output  # the search failed again
    assert "fingerprint" not in outcome.output


def test_a_worker_on_changed_data_refuses_before_training(failed_run):
    source, path, run_dir = failed_run
    recorded = json.loads((run_dir / "run.json").read_text())["data_fingerprint"]
    output_dir = run_dir.parents[2]
    with _one_value_changed(source):
        outcome = CliRunner().invoke(
            app,
            [
                "worker",
                str(path),
                "--chief",
                f"127.0.0.1:{free_port()}",  # nobody listens: it never gets there
                "--run-id",
                run_dir.name,
                "--output-dir",
                str(output_dir),
                "--no-progress",
            ],
        )
    text = _refusal(outcome, recorded)
    assert "This worker's data differs from the chief's" in text
