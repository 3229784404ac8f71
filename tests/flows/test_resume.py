"""Resuming interrupted runs: `automl run --resume RUN_ID` and Prefect's retry.

The SIGKILL test runs the real CLI in a subprocess on digits, kills it during
its fourth trial once that trial has backed up two epochs, and resumes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner as kt
import pytest
import yaml
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from typer.testing import CliRunner

import model_builders
from flows.cli.main import app
from flows.pipeline import automl_pipeline
from tasks.tuning.progress import listening
from tests.helpers import tiny_pipeline_config

BIN = Path(sys.executable).parent
EPOCHS = 5


def _automl(*args: str, **options) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return subprocess.Popen(
        [str(BIN / "automl"), *args, "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **options,
    )


def _epoch_steps(trial_tensorboard: Path, pid: int) -> list[int]:
    """The epochs process `pid` logged for one trial (its `epoch_loss` steps)."""
    steps = []
    for events in (trial_tensorboard / "execution0" / "train").glob("events.*"):
        if f".{pid}." not in events.name:
            continue
        for event in EventFileLoader(str(events)).Load():
            if any(v.tag == "epoch_loss" for v in event.summary.value):
                steps.append(event.step)
    return sorted(steps)


@pytest.mark.faults
def test_a_search_killed_during_trial_4_resumes_at_its_last_saved_epoch(tmp_path):
    config = {
        "name": "digits",
        "data": {"source": "sklearn:digits", "kind": "image"},
        "augment": {"enabled": False},
        "search": {
            "tuner": "random",
            "families": ["cnn"],
            "validation": "holdout",
            "max_trials": 6,
            "epochs": EPOCHS,
            "patience": EPOCHS,
        },
        "train": {"backup_seconds": 0},  # a resume point at every epoch end
        "output_dir": str(tmp_path / "out"),
        "seed": 1,
    }
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(config))
    runs = tmp_path / "out" / "runs" / "digits"

    first = _automl("run", str(path))
    deadline = time.monotonic() + 240
    saved_epoch = 0
    while saved_epoch < 2:  # the 4th trial (id 3) has backed up 2 epochs
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "trial 3 never reached epoch 2"
        metadata = list(runs.glob("*/tuner/trial_3/backup/training_metadata.json"))
        if metadata:
            with contextlib.suppress(ValueError, KeyError):  # caught mid-write
                saved_epoch = json.loads(metadata[0].read_text())["epoch"]
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    (run_dir,) = runs.iterdir()
    tuner = run_dir / "tuner"
    saved_epoch = json.loads(
        (tuner / "trial_3" / "backup" / "training_metadata.json").read_text()
    )["epoch"]
    done_before = {
        p.parent.name: p.read_text() for p in tuner.glob("trial_[012]/trial.json")
    }
    assert all(json.loads(t)["status"] == "COMPLETED" for t in done_before.values())
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"

    second = _automl("run", str(path), "--resume", run_dir.name)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    # Trials 4-6 (ids 3-5) only; the finished ones were not touched.
    trained = [
        line.split("trial ")[1].split()[0]
        for line in output.splitlines()
        if "tasks.search - trial " in line and " in " in line and "(cnn)" in line
    ]
    assert trained == ["3", "4", "5"], output
    assert {
        p.parent.name: p.read_text() for p in tuner.glob("trial_[012]/trial.json")
    } == done_before
    assert f"trial 3 resumes at epoch {saved_epoch + 1} of {EPOCHS}" in output
    # Trial 3 trained its remaining epochs only, after the ones saved before.
    tensorboard = run_dir / "tensorboard" / "3"
    assert _epoch_steps(tensorboard, second.pid) == list(range(saved_epoch, EPOCHS))
    assert set(range(saved_epoch)) <= set(_epoch_steps(tensorboard, first.pid))
    trial = json.loads((tuner / "trial_3" / "trial.json").read_text())
    assert trial["status"] == "COMPLETED" and 0 <= trial["best_step"] < EPOCHS
    assert not (tuner / "trial_3" / "backup").exists()  # deleted once done
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "published" and len(record["attempts"]) == 2
    assert (tmp_path / "out" / "registry" / "digits" / "v0001" / "model.keras").exists()
    assert "Published digits v0001 (champion)" in output


class _FailsOnce:
    """A CNN family that stops the whole search (not just a trial) once.

    `keras_tuner.errors.FatalError` is what Keras Tuner lets out of a search;
    it stands for anything that kills a flow run mid-search (a lost node, a
    crashed worker process), after which Prefect retries the flow run.
    """

    def __init__(self, at_build: int):
        self.builds = 0
        self.at_build = at_build
        self.failed = False

    def __call__(self, hp, input_spec, num_classes):
        self.builds += 1
        if self.builds >= self.at_build and not self.failed:
            self.failed = True
            raise kt.errors.FatalError("the node went away")
        return model_builders.cnn.build(hp, input_spec, num_classes)


@pytest.fixture(scope="module")
def retried(prefect_harness, tmp_path_factory):
    """A flow run whose first attempt dies at its third trial, then is retried."""
    tmp_path = tmp_path_factory.mktemp("retried")
    family = _FailsOnce(at_build=10**9)  # Keras Tuner's up-front builds pass
    events = []

    def arm(progress):  # the build after the second trial's end fails
        if progress.event == "trial_end" and progress.trials_done == 2:
            family.at_build = family.builds + 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(model_builders.BUILDERS, "fails_once", family)
        config = tiny_pipeline_config(tmp_path, ["fails_once"], max_trials=3)
        with listening(events.append), listening(arm):
            retrying = automl_pipeline.with_options(retries=1, retry_delay_seconds=0)
            result = retrying(config)
    return tmp_path, result, events, family


# A flow run retried by Prefect (~30 s with its fixture): `make test-slow`.
@pytest.mark.slow
def test_prefect_retrying_the_flow_run_resumes_the_same_run(retried):
    _, result, events, family = retried
    assert family.failed
    begun = [e.trial for e in events if e.event == "trial_begin"]
    # Attempt 1: trials 0, 1, then 2 dies while building; attempt 2: trial 2.
    assert begun == ["0", "1", "2", "2"], begun
    run_dir = Path(result.run_dir)
    assert [p.name for p in run_dir.parent.iterdir()] == [run_dir.name]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "published" and len(record["attempts"]) == 2
    assert record["attempts"][0]["flow_run_id"] == record["attempts"][1]["flow_run_id"]
    assert result.publish.version == "v0001"


@pytest.mark.slow  # shares the retried run above: `make test-slow`
@pytest.mark.parametrize(
    ("resume", "change", "message"),
    [
        ("nope", {}, r"received 'nope', but .* holds no such run; expected one of"),
        ("../../registry", {}, r"--resume received .*; expected one folder name"),
        (None, {}, r"already finished and published v0001"),
        (
            None,
            {"seed": 7},
            r"started with other settings \(received changes in seed\)",
        ),
    ],
)
def test_resume_refuses_what_it_cannot_continue(retried, resume, change, message):
    tmp_path, result, _, _ = retried
    run_dir = Path(result.run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    path = tmp_path / "resume.yaml"
    path.write_text(yaml.safe_dump({**record["config"], **change}))
    registry = tmp_path / "out" / "registry" / "tiny"
    versions = sorted(p.name for p in registry.glob("v*"))
    if change:  # as if the run had been interrupted, not published
        (run_dir / "run.json").write_text(json.dumps({**record, "status": "running"}))
    try:
        outcome = CliRunner().invoke(
            app, ["run", str(path), "--resume", resume or run_dir.name]
        )
    finally:
        (run_dir / "run.json").write_text(json.dumps(record))
    assert outcome.exit_code == 2, outcome.output
    assert re.search(message, " ".join(outcome.output.split())), outcome.output
    assert sorted(p.name for p in registry.glob("v*")) == versions
