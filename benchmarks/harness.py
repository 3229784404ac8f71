"""Shared helpers for the benchmarks: time library calls from outside, describe
the machine, and rewrite one section of RESULTS.md.

Nothing here changes what the library does: a probe wraps a method so the
benchmark process learns when it ran (like a profiler would), then calls it.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CHILD_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


class Probe:
    """Records when wrapped callables ran: `intervals[label]` is a list of
    (start, end) pairs on the `time.monotonic` clock."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        """Replace `owner.attribute` by a timed call of the original."""
        original = getattr(owner, attribute)
        intervals = self.intervals[label]

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                intervals.append((started, time.monotonic()))

        setattr(owner, attribute, timed)

    def starts(self, label: str) -> list[float]:
        return [start for start, _ in self.intervals[label]]

    def count(self, label: str, start: float = 0.0, end: float = float("inf")):
        """How many `label` calls began in [start, end)."""
        return sum(1 for a, _ in self.intervals[label] if start <= a < end)

    def seconds(self, label: str, start: float = 0.0, end: float = float("inf")):
        """Seconds spent in `label` calls that began in [start, end)."""
        return sum(b - a for a, b in self.intervals[label] if start <= a < end)


def probe_fit(probe: Probe) -> None:
    """Time every `keras.Model.fit` (Keras Tuner's trials and bare fits alike)."""
    import keras

    probe.wrap(keras.Model, "fit", "fit")


def probe_search(probe: Probe) -> list[str]:
    """Time the parts of a Keras Tuner trial that are not training.

    Returns the labels of callback hooks, which run inside `fit`.
    """
    import gc

    import keras
    import keras_tuner as kt
    from tensorboard.plugins.hparams import _keras as hparams_keras

    import tasks.tuning.callbacks
    import tasks.tuning.resume
    import tasks.tuning.tuner
    from tasks.tuning.compat import TunerCallback

    probe.wrap(kt.Oracle, "create_trial", "oracle.create_trial")
    probe.wrap(kt.Oracle, "update_trial", "oracle.update_trial")
    probe.wrap(kt.Oracle, "end_trial", "oracle.end_trial")
    probe.wrap(kt.Oracle, "save", "oracle.save")
    probe.wrap(
        kt.engine.base_tuner.BaseTuner, "save", "tuner.save (oracle + tuner json)"
    )
    probe.wrap(kt.Tuner, "_try_build", "build + compile (clear_session, gc)")
    probe.wrap(keras.backend, "clear_session", "keras.clear_session")
    probe.wrap(gc, "collect", "gc.collect")
    probe.wrap(kt.Tuner, "_deepcopy_callbacks", "deepcopy callbacks")
    for module in (tasks.tuning.tuner, tasks.tuning.callbacks):  # trials, epochs
        probe.wrap(module, "report", "progress listeners (Prefect artifact)")
    hooks = {
        tasks.tuning.callbacks.BestEpochInMemory: ("on_epoch_end", "on_train_end"),
        tasks.tuning.callbacks.FailOnNonFinite: ("on_epoch_end",),
        tasks.tuning.resume.TrialBackup: ("on_epoch_end",),
        keras.callbacks.TensorBoard: (
            "on_train_begin",
            "on_train_end",
            "on_epoch_end",
            "on_test_begin",
            "on_test_end",
        ),
        hparams_keras.Callback: ("on_train_begin", "on_train_end"),
        keras.callbacks.EarlyStopping: ("on_train_begin", "on_epoch_end"),
        TunerCallback: ("on_epoch_end",),
        tasks.tuning.callbacks.EpochProgress: ("on_epoch_end",),
        tasks.tuning.callbacks.Deadline: ("on_epoch_end",),
    }
    labels = []
    for cls, methods in hooks.items():
        label = f"callback {cls.__name__}"
        labels.append(label)
        for method in methods:
            probe.wrap(cls, method, label)
    return labels


def rss_mb() -> float:
    """This process's resident set size now, in MB."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (VmHWM), in MB."""
    return _status_kb("VmHWM") / 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line")


def gpus() -> str:
    """The NVIDIA GPUs `nvidia-smi` lists ("1 x NVIDIA H100 ..."), or "no GPU".

    Asked of the driver, not of TensorFlow, so the benchmark's own process
    stays free of TensorFlow (its children are what it measures).
    """
    if shutil.which("nvidia-smi") is None:
        return "no GPU"
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "no GPU (nvidia-smi failed)"
    names = [name.strip() for name in listed if name.strip()]
    if not names:
        return "no GPU"
    return ", ".join(f"{names.count(n)} x {n}" for n in dict.fromkeys(names))


def machine() -> str:
    """CPU model, cores, RAM, and the versions that matter, in one line."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    versions = ", ".join(
        f"{name} {metadata.version(dist)}"
        for name, dist in (
            ("TensorFlow", "tensorflow"),
            ("Keras", "keras"),
            ("Keras Tuner", "keras-tuner"),
            ("Prefect", "prefect"),
        )
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024**2:.0f} GB RAM, {gpus()}, "
        f"Linux {platform.release()}, Python {platform.python_version()}, {versions}"
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def now() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


def run_child(script: Path, args: list[str], timeout: float = 1800) -> None:
    """Run `script` with `args` in a fresh interpreter, as a user's `automl run`
    would start; its output streams through, a failure raises."""
    env = {**os.environ, **CHILD_ENV}
    subprocess.run(
        [sys.executable, str(script), *args], env=env, check=True, timeout=timeout
    )


def replace_section(heading: str, body: str, path: Path = RESULTS) -> None:
    """Write `## heading` + body into RESULTS.md, replacing that section if
    present (up to the next `## `), else appending it."""
    text = path.read_text()
    section = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")
