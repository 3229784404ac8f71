"""Under load (issue 8): many real `automl` processes at once on one registry.

Twenty `automl predict` processes read one published model while `automl
models list` reads the registry; five `automl run`s of different pipelines
start together, each with its own temporary Prefect server on one fresh
SQLite database, and publish into one shared registry. Every process must
exit 0 with the results a single process computes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import confusion_matrix

from tests.helpers import tiny_image_arrays

AUTOML = str(Path(sys.executable).with_name("automl"))
IMAGE = {"source": "unused.npz", "kind": "image"}
NUM_PREDICTS = 20
NUM_RUNS = 5
TIMEOUT_S = 600

pytestmark = pytest.mark.faults


def _environment(**extra: str) -> dict[str, str]:
    """This environment without any Prefect server or test-mode settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_API_", "PREFECT_TESTING_"))
    }
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.update(extra)
    return env


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start `automl ARGS`; its output goes to files (pipes could fill up)."""
    logs = cwd / "logs"
    logs.mkdir(exist_ok=True)
    stem = logs / f"{len(list(logs.glob('*.out')))}"
    with open(f"{stem}.out", "w") as stdout, open(f"{stem}.err", "w") as stderr:
        process = subprocess.Popen(
            [AUTOML, *args], cwd=cwd, env=env, stdout=stdout, stderr=stderr
        )
    process.log_stem = stem
    return process


def _output(process: subprocess.Popen) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of a finished process."""
    stem = process.log_stem
    return (
        process.returncode,
        Path(f"{stem}.out").read_text(),
        Path(f"{stem}.err").read_text(),
    )


def _memory_bytes(pids: list[int]) -> int:
    """Proportional set size of these processes and their children, from /proc.

    PSS splits shared pages (TensorFlow's libraries) between the processes
    that map them, so the sum is the memory they take together; summed RSS
    would count those libraries once per process.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if int(stat.parent.name) in pids or parent in pids:
                rollup = (stat.parent / "smaps_rollup").read_text()
                total += 1024 * int(rollup.split("\nPss:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we read it
    return total


def _wait_all(
    processes: list[subprocess.Popen], start: float
) -> tuple[list, float, int]:
    """Wait for every process: (rc, stdout, stderr) each, seconds since `start`
    (`time.monotonic()` before they were started) and the peak PSS."""
    peak = 0
    pids = [p.pid for p in processes]
    while any(p.poll() is None for p in processes):
        if time.monotonic() - start > TIMEOUT_S:
            for process in processes:
                process.kill()
            break
        peak = max(peak, _memory_bytes(pids))
        time.sleep(0.5)
    wall = time.monotonic() - start
    for process in processes:
        process.wait()
    return [_output(p) for p in processes], wall, peak


def _report(what: str, wall: float, peak: int) -> None:
    print(f"\n{what}: {wall:.1f} s wall, peak memory (PSS) {peak / 2**30:.2f} GiB")


def test_twenty_concurrent_predicts_match_one_process(publish_tiny_model, tmp_path):
    x, y = tiny_image_arrays()
    names = np.array(["bar", "dot", "ring"])
    _, version = publish_tiny_model("shapes", x, names[y], IMAGE)
    model = keras.saving.load_model(version / "model.keras", safe_mode=True)
    env = _environment(PREFECT_HOME=str(tmp_path / "prefect-home"))

    expected = []
    for i in range(NUM_PREDICTS):
        rng = np.random.default_rng(i + 1)
        rows = rng.choice(len(x), size=4 + i, replace=False)
        inputs = x[rows] + rng.uniform(0, 1, size=x[rows].shape).astype("float32")
        np.savez(tmp_path / f"in{i}.npz", x=inputs)
        expected.append(model.predict(inputs, batch_size=256, verbose=0))

    started, processes = time.monotonic(), []
    for i in range(NUM_PREDICTS):  # the champion, and every fourth by version
        reference = "shapes:v0001" if i % 4 == 0 else "shapes"
        args = [reference, f"in{i}.npz", "--out", f"out/{i}.csv", "--output-dir", "."]
        processes.append(_start(["predict", *args], tmp_path, env))

    # The registry stays readable while they all load it: three listings
    # started with them. Whether a listing overlaps a predict's load is up to
    # the scheduler, so it is not asserted (it failed a run on a loaded
    # machine); what is asserted holds however they interleave.
    listings = [
        _start(["models", "list", "shapes", "--output-dir", "."], tmp_path, env)
        for _ in range(3)
    ]
    for listing in listings:
        listing.wait(timeout=TIMEOUT_S)
    listings = [_output(listing) for listing in listings]
    results, wall, peak = _wait_all(processes, started)
    _report(f"{NUM_PREDICTS} concurrent predicts", wall, peak)

    for code, stdout, stderr in listings:
        assert code == 0, stderr
        assert "* v0001" in stdout and "champion: v0001" in stdout, stdout
    for i, ((code, stdout, stderr), probabilities) in enumerate(
        zip(results, expected, strict=True)
    ):
        assert code == 0, f"predict {i} exited {code}: {stderr[-3000:]}"
        assert f"Wrote {4 + i} predictions" in stdout and "shapes v0001" in stdout
        frame = pd.read_csv(tmp_path / "out" / f"{i}.csv")
        assert frame["prediction"].tolist() == names[probabilities.argmax(1)].tolist()
        np.testing.assert_allclose(
            frame["probability"], probabilities.max(1), atol=1e-6
        )
        columns = frame[[f"p_{name}" for name in names]].to_numpy()
        np.testing.assert_allclose(columns, probabilities, atol=1e-6)
    assert not list((tmp_path / "out").glob(".*tmp*"))


def _write_pipeline(tmp_path: Path, i: int) -> tuple[Path, np.ndarray, np.ndarray]:
    """Pipeline i: its own labels, mapped to the images' classes its own way."""
    x, y = tiny_image_arrays()
    names = np.array([f"p{i}-{c}" for c in "abc"])
    labels = names[(y + i) % 3]
    test = np.arange(len(x)) % 4 == 0
    source = tmp_path / f"data{i}.npz"
    np.savez(
        source,
        x_train=x[~test],
        y_train=labels[~test],
        x_test=x[test],
        y_test=labels[test],
    )
    config = {
        "name": f"pipe{i}",
        "data": {"source": str(source), "kind": "image"},
        "augment": {"enabled": False},
        "search": {
            "tuner": "random",
            "validation": "holdout",
            "max_trials": 1,
            "epochs": 4,
            "patience": 2,
        },
        "output_dir": str(tmp_path / "out"),
    }
    path = tmp_path / f"pipe{i}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, x[test], labels[test]


def test_five_concurrent_runs_share_one_registry_and_prefect_home(tmp_path):
    # A fresh PREFECT_HOME: the five temporary servers also create its database.
    env = _environment(PREFECT_HOME=str(tmp_path / "prefect-home"))
    pipelines = [_write_pipeline(tmp_path, i) for i in range(NUM_RUNS)]
    started = time.monotonic()
    processes = [
        _start(["run", str(config), "--no-progress"], tmp_path, env)
        for config, _, _ in pipelines
    ]
    results, wall, peak = _wait_all(processes, started)
    _report(f"{NUM_RUNS} concurrent runs", wall, peak)

    for i, ((code, stdout, stderr), (_, x_test, y_test)) in enumerate(
        zip(results, pipelines, strict=True)
    ):
        assert code == 0, f"run {i} exited {code}: {stderr[-3000:]}"
        # Prefect recovers from some start-up races by restarting its server;
        # a traceback in the log means one happened.
        assert "Traceback" not in stderr, stderr[-3000:]
        assert f"Published pipe{i} v0001 (champion)" in stdout, stdout
        pipeline = tmp_path / "out" / "registry" / f"pipe{i}"
        champion = json.loads((pipeline / "champion.json").read_text())
        assert champion["version"] == "v0001"
        metrics = json.loads((pipeline / "v0001" / "metrics.json").read_text())
        assert metrics["labels"] == [f"p{i}-{c}" for c in "abc"]
        assert metrics["n_test"] == len(y_test)
        model = keras.saving.load_model(
            pipeline / "v0001" / "model.keras", safe_mode=True
        )
        predicted = model.predict(x_test, batch_size=256, verbose=0).argmax(1)
        truth = [metrics["labels"].index(label) for label in y_test]
        matrix = confusion_matrix(truth, predicted, labels=range(3)).tolist()
        assert matrix == metrics["confusion_matrix"], (i, matrix, metrics)
        assert metrics["accuracy"] == pytest.approx(np.mean(predicted == truth))
        assert metrics["accuracy"] > 0.5, metrics  # learned its own label mapping
