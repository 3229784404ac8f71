"""Distributed search end to end: a real chief and real worker processes.

`automl run --distributed` and `automl worker` run as separate processes on
127.0.0.1, talking Keras Tuner's gRPC protocol, on 48 tiny images (an image
folder, or an .npz); the workers read the data the chief prepared. They log to
the session's temporary Prefect server (the harness), like the other flows.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from flows.cli.main import app
from tests.helpers import free_port, save_tiny_npz, tiny_image_arrays

# A chief and two workers as real processes (~1 min): `make test-slow`.
pytestmark = pytest.mark.slow

TRIALS = 4


@pytest.fixture(scope="module")
def prefect_env(prefect_harness) -> dict:
    """The environment for CLI subprocesses: the harness's API, no TF noise."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}


def _image_folder(root: Path) -> Path:
    """`tiny_image_arrays` as 8-bit grey PNGs, one folder per class."""
    x, y = tiny_image_arrays()
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        (root / f"c{label}").mkdir(parents=True, exist_ok=True)
        pixels = np.round(image[..., 0] * 15).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"c{label}" / f"{i:02d}.png")
    return root


def _config(tmp_path: Path, max_trials: int = TRIALS, folder: bool = False) -> Path:
    if folder:
        source = _image_folder(tmp_path / "images")
    else:
        source = save_tiny_npz(tmp_path / "tiny.npz")
    config = {
        "name": "tiny",
        "data": {"source": str(source), "kind": "image"},
        "augment": {"enabled": False},
        "search": {
            "tuner": "random",
            "validation": "holdout",
            "max_trials": max_trials,
            "epochs": 2,
            "patience": 1,
            "batch_size": 16,
        },
        "output_dir": str(tmp_path / "out"),
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.cli.main", *args, "--no-progress"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _finish(process: subprocess.Popen, log: Path, timeout: float = 240) -> str:
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    return log.read_text()


def _search_record(tmp_path: Path, port: int) -> dict:
    tuner = tmp_path / "out" / "runs" / "tiny" / f"distributed-{port}" / "tuner"
    return json.loads((tuner / "distributed.json").read_text())


def _published(tmp_path: Path) -> Path:
    version = tmp_path / "out" / "registry" / "tiny" / "v0001"
    assert (version / "model.keras").is_file()
    assert json.loads((version / "metrics.json").read_text())["n_test"] > 0
    return version


def test_worker_with_a_bad_chief_address_exits_2(tmp_path):
    result = CliRunner().invoke(
        app, ["worker", str(_config(tmp_path)), "--chief", "nowhere"]
    )
    assert result.exit_code == 2
    assert "--chief received 'nowhere'; expected HOST:PORT" in result.stderr


def test_chief_shares_trials_between_two_workers_and_publishes(prefect_env, tmp_path):
    """On an image folder: the chief decodes it once; the workers read its
    prepared data and decode no folder of their own."""
    config, port = _config(tmp_path, folder=True), free_port()
    chief = _start(
        ["run", str(config), "--distributed", "--port", str(port)],
        prefect_env,
        tmp_path / "chief.log",
    )
    workers = [
        _start(
            ["worker", str(config), "--chief", f"127.0.0.1:{port}"],
            prefect_env,
            tmp_path / f"worker{i}.log",
        )
        for i in range(2)
    ]
    chief_log = _finish(chief, tmp_path / "chief.log")
    assert chief.returncode == 0, chief_log[-3000:]
    for i, worker in enumerate(workers):
        log = _finish(worker, tmp_path / f"worker{i}.log", timeout=60)
        assert worker.returncode == 0, log[-3000:]
        assert "says the search is over" in log
        assert "read the chief's prepared data from" in log, log[-3000:]
        assert "48 examples, no load or decode pass" in log
        assert "decoded 48 images" not in log and "data fingerprint" in log

    assert "decoded 48 images" in chief_log
    run_dir = tmp_path / "out" / "runs" / "tiny" / f"distributed-{port}"
    assert (run_dir / "prepared" / "images.parquet").is_file()
    assert "Published tiny v0001" in chief_log
    _published(tmp_path)
    trials = _search_record(tmp_path, port)["trials"]
    assert sorted(trials) == [str(i) for i in range(TRIALS)]
    assert {t["status"] for t in trials.values()} == {"COMPLETED"}
    ran = {t["worker"] for t in trials.values()}
    assert ran == {f"worker-{socket.gethostname()}-{w.pid}" for w in workers}


def test_chief_finishes_when_a_worker_is_killed_mid_trial(prefect_env, tmp_path):
    config, port = _config(tmp_path, max_trials=3), free_port()
    chief_log_path = tmp_path / "chief.log"
    chief = _start(
        ["run", str(config), "--distributed", "--port", str(port)]
        + ["--trial-timeout", "10"],
        prefect_env,
        chief_log_path,
    )
    doomed = _start(
        ["worker", str(config), "--chief", f"127.0.0.1:{port}"],
        prefect_env,
        tmp_path / "doomed.log",
    )
    # Kill the first worker once the chief says it has started a trial.
    started = f"started on worker-{socket.gethostname()}-{doomed.pid}"
    deadline = time.monotonic() + 180
    while started not in chief_log_path.read_text():
        assert time.monotonic() < deadline and chief.poll() is None
        time.sleep(0.2)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    survivor = _start(
        ["worker", str(config), "--chief", f"127.0.0.1:{port}"],
        prefect_env,
        tmp_path / "survivor.log",
    )

    chief_log = _finish(chief, chief_log_path)
    assert chief.returncode == 0, chief_log[-3000:]
    survivor_log = _finish(survivor, tmp_path / "survivor.log", timeout=60)
    assert survivor.returncode == 0, survivor_log[-3000:]
    _published(tmp_path)
    record = _search_record(tmp_path, port)
    lost = [t for t in record["trials"].values() if t["lost"]]
    assert len(lost) == 1 and lost[0]["status"] == "FAILED"
    assert lost[0]["worker"].endswith(f"-{doomed.pid}")
    assert [t["status"] for t in record["trials"].values()].count("COMPLETED") == 2
