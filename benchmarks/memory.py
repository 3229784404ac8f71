"""Benchmark: the process's memory over a 50-trial digits search (issue 7).

Runs the whole flow in this process (digits demo config, Bayesian tuner, CNN
family, 2 epochs a trial, no early stop) and reads the resident set size
(`VmRSS` in /proc/self/status) after every trial, through the search's
progress events, plus a sampling thread every 0.1 s and the kernel's
high-water mark (`VmHWM`) for the peak. Growth is RSS after trial 50 minus
RSS after trial 5, when imports, the first tf.function traces and the data
pipeline's cache are already paid for (target <= 200 MB).

    .venv/bin/python benchmarks/memory.py            # ~4 min on 2 cores
    .venv/bin/python benchmarks/memory.py --trials 20 --no-write

Prints a table and rewrites the "Memory" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness

SECTION = "Memory over a 50-trial digits search (issue 7)"
TARGET_GROWTH_MB = 200.0
BASELINE_TRIAL = 5


class RssSampler(threading.Thread):
    """Reads VmRSS every `interval` seconds until stopped; keeps the largest."""

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_mb = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.peak_mb = max(self.peak_mb, harness.rss_mb())


def child_rss_mb() -> float:
    """RSS of this process's children (Prefect's ephemeral server), in MB."""
    total = 0.0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status")
            if status.exists():
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
    return total


def measure(num_trials: int, epochs: int) -> dict:
    for name, value in harness.CHILD_ENV.items():
        os.environ.setdefault(name, value)  # before TensorFlow is imported
    started = time.monotonic()
    from flows.config import demo_config
    from flows.pipeline import automl_pipeline
    from tasks.tuning.progress import listening

    import_s = time.monotonic() - started
    after_imports = harness.rss_mb()
    config = demo_config()
    search = config.search.model_copy(
        update={
            "max_trials": num_trials,
            "epochs": epochs,
            "patience": epochs,
            "time_budget_minutes": 120.0,
        }
    )
    config = config.model_copy(
        update={
            "search": search,
            "output_dir": tempfile.mkdtemp(prefix="automl-memory-"),
        }
    )
    after_trial: list[dict] = []

    def listen(progress) -> None:
        if progress.event == "trial_end":
            after_trial.append(
                {
                    "trial": progress.trials_done,
                    "rss_mb": harness.rss_mb(),
                    "server_rss_mb": child_rss_mb(),
                    "t": time.monotonic(),
                }
            )

    sampler = RssSampler()
    sampler.start()
    flow_started = time.monotonic()
    with listening(listen):
        result = automl_pipeline(config)
    wall = time.monotonic() - flow_started
    sampler.stopped.set()
    sampler.join()
    by_trial = {row["trial"]: row for row in after_trial}
    first, last = by_trial[BASELINE_TRIAL], by_trial[max(by_trial)]
    return {
        "machine": harness.machine(),
        "date": harness.now(),
        "load": harness.load_average(),
        "trials": len(after_trial),
        "epochs": epochs,
        "import_s": import_s,
        "wall_s": wall,
        "rss_after_imports_mb": after_imports,
        "rss_after_trial_1_mb": by_trial[1]["rss_mb"],
        "rss_baseline_mb": first["rss_mb"],
        "rss_last_mb": last["rss_mb"],
        "growth_mb": last["rss_mb"] - first["rss_mb"],
        "growth_per_trial_mb": (last["rss_mb"] - first["rss_mb"])
        / (last["trial"] - first["trial"]),
        "rss_end_mb": harness.rss_mb(),
        "peak_sampled_mb": sampler.peak_mb,
        "peak_hwm_mb": harness.peak_rss_mb(),
        "server_baseline_mb": first["server_rss_mb"],
        "server_last_mb": last["server_rss_mb"],
        "after_trial": after_trial,
        "version": result.publish.path,
    }


def render(f: dict) -> str:
    met = "yes" if f["growth_mb"] <= TARGET_GROWTH_MB else "**NO**"
    series = ", ".join(
        f"{row['trial']}: {row['rss_mb']:.0f}"
        for row in f["after_trial"]
        if row["trial"] in (1, 2, 5, 10, 20, 30, 40, 50) or row is f["after_trial"][-1]
    )
    return "\n".join(
        [
            f"`benchmarks/memory.py` runs the whole flow in one process: digits "
            f"demo config, Bayesian tuner, CNN family, {f['trials']} trials of "
            f"{f['epochs']} epochs, no early stop. RSS is read from "
            "/proc/self/status after each trial (search progress events), and "
            "sampled every 0.1 s for the peak.",
            "",
            f"Machine: {f['machine']}. Measured {f['date']} (load average "
            f"{f['load']} at the end, the benchmark's own processes included). "
            f"The flow took {f['wall_s']:.0f} s.",
            "",
            "| figure | measured | target | met |",
            "|---|---|---|---|",
            f"| RSS growth, after trial {BASELINE_TRIAL} -> after trial "
            f"{f['trials']} | {f['growth_mb']:+.0f} MB "
            f"({f['growth_per_trial_mb']:+.1f} MB / trial) "
            f"| <= {TARGET_GROWTH_MB:.0f} MB | {met} |",
            f"| peak RSS (VmHWM; sampled peak {f['peak_sampled_mb']:.0f} MB) "
            f"| {f['peak_hwm_mb']:.0f} MB | - | - |",
            "",
            f"RSS after imports {f['rss_after_imports_mb']:.0f} MB, after trial 1 "
            f"{f['rss_after_trial_1_mb']:.0f} MB, after trial {BASELINE_TRIAL} "
            f"{f['rss_baseline_mb']:.0f} MB, after trial {f['trials']} "
            f"{f['rss_last_mb']:.0f} MB, at the end of the flow (evaluation, "
            f"export, publish) {f['rss_end_mb']:.0f} MB. After each trial (MB): "
            f"{series}. Prefect's ephemeral server is a separate process "
            f"({f['server_baseline_mb']:.0f} MB after trial {BASELINE_TRIAL}, "
            f"{f['server_last_mb']:.0f} MB after trial {f['trials']}), not counted.",
        ]
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="skip RESULTS.md")
    options = parser.parse_args(argv)
    figures = measure(options.trials, options.epochs)
    out = Path(tempfile.mkdtemp(prefix="automl-memory-bench-")) / "memory.json"
    out.write_text(json.dumps(figures, indent=1))
    report = render(figures)
    print(report)
    print(f"raw results in {out}")
    if not options.no_write:
        harness.replace_section(SECTION, report)


if __name__ == "__main__":
    main(sys.argv[1:])
