"""TensorBoard: the final model's logs, and `automl tensorboard` serving a real run.

The end-to-end tests run the real flow once (two trials, one epoch, tiny
images with string labels), then start `automl tensorboard` as a real
process and ask its HTTP API what a user's browser would see.
"""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner

from flows.cli.main import app
from tasks.evaluate import evaluate_predictions
from tasks.tensorboard_logs import write_final_logs
from tests.helpers import free_port

LABELS = ["cat", "dog", "bird"]


def _tensors(log_dir: Path) -> EventAccumulator:
    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    return events


def _value(events: EventAccumulator, tag: str):
    return tf.make_ndarray(events.Tensors(tag)[0].tensor_proto)


def test_final_logs_hold_confusion_matrix_scalars_and_table(tmp_path):
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    metrics = evaluate_predictions(y_true, y_pred, LABELS).to_dict()

    write_final_logs(tmp_path / "final", metrics)

    events = _tensors(tmp_path / "final")
    plugin = {
        tag: events.SummaryMetadata(tag).plugin_data.plugin_name
        for tag in events.Tags()["tensors"]
    }
    assert plugin["confusion_matrix"] == "images"
    width, height, png = _value(events, "confusion_matrix")
    image = Image.open(io.BytesIO(png))
    assert image.size == (int(width), int(height)) and image.mode == "RGB"
    assert plugin["test/accuracy"] == "scalars"
    for key in ["accuracy", "f1_macro", "precision_macro", "recall_macro"]:
        assert _value(events, f"test/{key}") == pytest.approx(metrics[key])
    assert _value(events, "test/accuracy") == pytest.approx(6 / 8)
    assert _value(events, "per_class/cat/recall") == pytest.approx(2 / 3)
    assert _value(events, "per_class/dog/precision") == pytest.approx(2 / 3)
    assert _value(events, "per_class/bird/f1") == pytest.approx(0.8)
    assert plugin["summary"] == "text"
    table = _value(events, "summary").item().decode()
    assert "| label | precision | recall | f1 | support |" in table
    assert "| cat | 0.6667 | 0.6667 | 0.6667 | 3 |" in table
    assert "accuracy 0.7500" in table


def test_final_logs_refuse_a_confusion_matrix_of_other_labels(tmp_path):
    metrics = evaluate_predictions([0, 1], [0, 1], ["a", "b"]).to_dict()
    metrics["confusion_matrix"] = [[1, 0, 0]]
    with pytest.raises(ValueError, match=r"received shape \(1, 3\); expected \(2, 2\)"):
        write_final_logs(tmp_path, metrics)


def test_missing_log_folder_exits_2_saying_how_to_fix(tmp_path):
    result = CliRunner().invoke(
        app, ["tensorboard", "digits", "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "No runs of pipeline 'digits'" in result.output
    assert "does not exist" in result.output
    assert "Run `automl run CONFIG` first" in result.output


def test_log_folder_without_event_files_exits_2(tmp_path):
    (tmp_path / "runs" / "digits" / "20260101T000000Z-x" / "tensorboard").mkdir(
        parents=True
    )
    result = CliRunner().invoke(app, ["tensorboard", "--output-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "holds no event files" in result.output


@pytest.fixture(scope="module")
def tiny_run(prefect_harness, tmp_path_factory) -> Path:
    """One real flow run: 2 trials of 1 epoch on 60 8x8 images, string labels."""
    from flows.config import PipelineConfig
    from flows.pipeline import automl_pipeline

    output = tmp_path_factory.mktemp("tensorboard")
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(LABELS), 20)
    x = rng.uniform(0, 4, size=(60, 8, 8, 1)).astype("float32")
    for index, label in enumerate(LABELS):
        x[y == label, index * 2 : index * 2 + 3, :, 0] += 12.0
    np.savez(output / "pets.npz", x=x, y=y)
    config = PipelineConfig(
        name="pets",
        data={"source": str(output / "pets.npz"), "kind": "image"},
        augment={"enabled": False},
        search={
            "tuner": "random",
            "validation": "holdout",
            "max_trials": 2,
            "epochs": 1,
            "patience": 1,
        },
        output_dir=str(output),
    )
    result = automl_pipeline(config)
    return output, Path(result.tensorboard_dir)


def test_keras_tuner_writes_one_folder_per_trial_beside_final(tiny_run):
    _, tensorboard_dir = tiny_run
    folders = sorted(p.name for p in tensorboard_dir.iterdir())
    assert folders == ["0", "1", "final"], folders
    for trial in ["0", "1"]:
        execution = tensorboard_dir / trial / "execution0"
        assert sorted(p.name for p in execution.iterdir() if p.is_dir()) == [
            "train",
            "validation",
        ]


class _Served:
    """A running `automl tensorboard` process and the URL it printed."""

    def __init__(self, args: list[str], stdout: Path):
        self.stdout = stdout
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli.main", "tensorboard", *args],
            stdout=stdout.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.url = self._printed_url(timeout=90)

    def _printed_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout.read_text().splitlines():
                if line.startswith("TensorBoard at "):
                    return line.split()[2]
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no URL printed: {self.stdout.read_text()[-3000:]}")

    def runs(self, expected: int, timeout: float = 60) -> list[str]:
        """`/data/runs` once it lists `expected` runs (logs load in the background)."""
        deadline = time.monotonic() + timeout
        runs = []
        while time.monotonic() < deadline:
            runs = httpx.get(f"{self.url}data/runs", timeout=10).json()
            if len(runs) >= expected:
                return runs
            time.sleep(0.5)
        raise AssertionError(f"TensorBoard listed {runs}, expected {expected} runs")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture(scope="module")
def served(tiny_run, tmp_path_factory):
    output, _ = tiny_run
    port = free_port()
    stdout = tmp_path_factory.mktemp("served") / "stdout.txt"
    server = _Served(["pets", "--output-dir", str(output), "--port", str(port)], stdout)
    try:
        yield server, port
    finally:
        server.stop()


def test_served_url_is_the_requested_port(served, tiny_run):
    server, port = served
    output, _ = tiny_run
    assert server.url == f"http://127.0.0.1:{port}/"
    assert f"serving {output / 'runs' / 'pets'} (Ctrl-C to stop)" in (
        server.stdout.read_text()
    )


def test_every_trial_and_final_is_a_run_with_its_scalars(served, tiny_run):
    server, _ = served
    _, tensorboard_dir = tiny_run
    run_id = tensorboard_dir.parent.name
    trial_runs = [
        f"{run_id}/tensorboard/{trial}/execution0{split}"
        for trial in ["0", "1"]
        for split in ["", "/train", "/validation"]
    ]
    final = f"{run_id}/tensorboard/final"
    assert sorted(server.runs(expected=7)) == sorted([*trial_runs, final])

    tags = httpx.get(f"{server.url}data/plugin/scalars/tags").json()
    for trial in ["0", "1"]:
        for split in ["train", "validation"]:
            run = f"{run_id}/tensorboard/{trial}/execution0/{split}"
            assert {"epoch_loss", "epoch_accuracy", "epoch_f1_macro"} <= set(
                tags[run]
            ), tags[run]
    assert {"test/accuracy", "test/f1_macro", "per_class/bird/recall"} <= set(
        tags[final]
    )
    images = httpx.get(f"{server.url}data/plugin/images/tags").json()
    assert "confusion_matrix" in images[final]
    text = httpx.get(f"{server.url}data/plugin/text/tags").json()
    assert text[final] == ["summary"]


def test_hparams_dashboard_compares_every_trial(served, tiny_run):
    server, _ = served
    server.runs(expected=7)
    experiment = httpx.post(
        f"{server.url}data/plugin/hparams/experiment",
        json={"experimentName": ""},
    ).json()
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"family", "cnn/learning_rate"} <= names, names
    groups = httpx.post(
        f"{server.url}data/plugin/hparams/session_groups",
        json={
            "experimentName": "",
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS"],
            "startIndex": 0,
            "sliceSize": 100,
        },
    ).json()
    _, tensorboard_dir = tiny_run
    run_id = tensorboard_dir.parent.name
    sessions = {
        session["name"]
        for group in groups["sessionGroups"]
        for session in group["sessions"]
    }
    assert sessions == {f"{run_id}/tensorboard/{t}/execution0" for t in ["0", "1"]}
    for group in groups["sessionGroups"]:
        assert group["hparams"]["family"] == "cnn"


def test_all_pipelines_on_port_0_prints_the_real_port_and_stops_cleanly(
    tiny_run, tmp_path
):
    output, _ = tiny_run
    server = _Served(["--output-dir", str(output), "--port", "0"], tmp_path / "out")
    try:
        port = int(server.url.rstrip("/").rsplit(":", 1)[1])
        assert port > 0
        assert all(run.startswith("pets/") for run in server.runs(expected=7))
    finally:
        code = server.stop()
    assert code == 0, server.stdout.read_text()[-2000:]
    assert "TensorBoard stopped." in server.stdout.read_text()


def test_a_port_in_use_exits_2_saying_how_to_fix(tmp_path):
    write_final_logs(
        tmp_path / "runs" / "pets" / "run" / "tensorboard" / "final",
        evaluate_predictions([0, 1], [0, 1], ["a", "b"]).to_dict(),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "flows.cli.main", "tensorboard", "pets"]
            + ["--output-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert f"could not listen on 127.0.0.1:{port}" in completed.stderr
    assert "--port 0" in completed.stderr
