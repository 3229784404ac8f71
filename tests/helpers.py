"""Plain helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

BIN = Path(sys.executable).parent


def tiny_image_arrays() -> tuple[np.ndarray, np.ndarray]:
    """48 8x8x1 images in 3 classes, each class a different bright region."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, size=(48, 8, 8, 1)).astype("float32")
    y = np.repeat(np.arange(3), 16)
    for label in range(3):
        x[y == label, label * 2 : label * 2 + 3, :, 0] += 12.0
    return x, y


def save_tiny_npz(path: Path) -> Path:
    """`tiny_image_arrays` as an .npz with `x` and `y`; returns `path`."""
    x, y = tiny_image_arrays()
    np.savez(path, x=x, y=y)
    return path


def tiny_pipeline_config(tmp_path: Path, families=("cnn",), max_trials: int = 1):
    """A `PipelineConfig` over `save_tiny_npz` data: one-epoch trials, no
    augmentation, outputs under `tmp_path / "out"`."""
    from flows.config import PipelineConfig

    return PipelineConfig(
        name="tiny",
        data={"source": str(save_tiny_npz(tmp_path / "tiny.npz")), "kind": "image"},
        augment={"enabled": False},
        search={
            "tuner": "random",
            "families": list(families),
            "validation": "holdout",
            "max_trials": max_trials,
            "epochs": 1,
            "patience": 1,
            "batch_size": 16,
        },
        output_dir=str(tmp_path / "out"),
    )


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_tiny_config(
    path: Path, source: Path, output_dir: Path, name="tiny", epochs=1
) -> Path:
    """A one-trial image pipeline over `source`; returns `path`."""
    path.write_text(
        f"name: {name}\n"
        f"data:\n  source: {source}\n  kind: image\n"
        "search:\n  tuner: random\n  validation: holdout\n"
        f"  max_trials: 1\n  epochs: {epochs}\n"
        "  time_budget_minutes: 1\n"
        f"output_dir: {output_dir}\n"
    )
    return path


def run_automl(env: dict, *args: str, timeout=120) -> subprocess.CompletedProcess:
    """The real `automl` command in a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a process started by a test; kill it if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_logged(args: list[str], env: dict, log: Path, ready: str, timeout=120):
    """Start `args` with its output in `log`; return it once `ready` is logged."""
    with log.open("w") as handle:
        process = subprocess.Popen(args, env=env, stdout=handle, stderr=handle)
    deadline = time.monotonic() + timeout
    while ready not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"{args[2:]} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return process


@contextlib.contextmanager
def prefect_server(root: Path, **settings: str) -> Iterator[dict]:
    """A real `prefect server start` (SQLite, a loopback port, its own
    PREFECT_HOME under `root`, more `PREFECT_*` settings from `settings`);
    yields the environment that points at it."""
    env, port = prefect_environment(root, **settings)
    process = start_prefect_api(env, port, root / "server.log")
    try:
        yield env
    finally:
        stop_process(process)


def prefect_environment(root: Path, **settings: str) -> tuple[dict, int]:
    """This process's environment pointed at a Prefect API on a free loopback
    port (returned too), with its own PREFECT_HOME under `root`."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(root / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        **settings,
    )
    return env, port


def start_prefect_api(env: dict, port: int, log: Path) -> subprocess.Popen:
    """`prefect server start` on loopback `port`, its output appended to `log`;
    returned once /health answers (RuntimeError with the log after 120 s)."""
    with log.open("a") as handle:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
            + ["--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{env['PREFECT_API_URL']}/health").status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            stop_process(process)
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.5)
