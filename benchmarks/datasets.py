"""Benchmark: the full flow on real datasets, one after another, in one run.

Runs digits (every family), SMS spam (text), GunPoint and BasicMotions
(sequences, published train/test splits) through `automl run`'s flow with a
10-minute search budget each, then writes a results table with test accuracy,
macro F1, the winning family and the wall time.

    .venv/bin/python benchmarks/datasets.py            # all four, ~45 min on 2 cores
    .venv/bin/python benchmarks/datasets.py gunpoint   # one of them

Datasets are read from ../shared/datasets beside the checkout; results go to
benchmarks/RESULTS-datasets.md (and are copied into RESULTS.md by hand).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from flows.config import load_config

ROOT = Path(__file__).resolve().parents[1]

ALL_FAMILIES = ["cnn", "lstm", "transformer"]
BUDGET_MINUTES = 10.0
CASES = {
    "digits": ("examples/digits.yaml", {"families": ALL_FAMILIES, "max_trials": 30}),
    "sms_spam": ("examples/sms_spam.yaml", {}),
    "gunpoint": ("examples/gunpoint.yaml", {}),
    "basicmotions": ("examples/basicmotions.yaml", {}),
}
TARGETS = {
    "digits": ("accuracy", 0.98),
    "sms_spam": ("f1_macro", 0.95),
    "gunpoint": ("accuracy", 0.95),
    "basicmotions": ("accuracy", 0.95),
}


def run_case(name: str, output_dir: Path) -> dict:
    """Run one dataset's flow and collect its figures."""
    from flows.pipeline import automl_pipeline

    path, search_overrides = CASES[name]
    os.chdir(ROOT)  # example configs name datasets relative to the checkout
    config = load_config(ROOT / path)
    search = config.search.model_copy(
        update={"time_budget_minutes": BUDGET_MINUTES, **search_overrides}
    )
    config = config.model_copy(update={"search": search, "output_dir": str(output_dir)})
    started = time.monotonic()
    result = automl_pipeline(config)
    wall = time.monotonic() - started
    version = Path(result.publish.path)
    search_summary = json.loads((version / "search.json").read_text())
    metric, target = TARGETS[name]
    membership = pd.read_parquet(version / "splits.parquet")
    splits_per_digest = membership.groupby("digest")["split"].nunique()
    return {
        "dataset": name,
        "accuracy": result.metrics["accuracy"],
        "f1_macro": result.metrics["f1_macro"],
        "n_test": result.metrics["n_test"],
        "family": search_summary["hyperparameters"].get("family"),
        "trials": search_summary["num_trials"],
        "search_s": search_summary["seconds"],
        "wall_s": wall,
        "examples": len(membership),
        "distinct": int(splits_per_digest.size),
        "straddling": int((splits_per_digest > 1).sum()),
        "target": f"{metric} >= {target}",
        "met": result.metrics[metric] >= target,
    }


def write_table(rows: list[dict], path: Path) -> None:
    header = (
        "| dataset | test accuracy | macro F1 | n test | test errors | examples "
        "(distinct) | digests in two splits | winning family | trials "
        "| search (s) | wall (s) | target | met |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['dataset']} | {r['accuracy']:.4f} | {r['f1_macro']:.4f} | "
        f"{r['n_test']} | {round((1 - r['accuracy']) * r['n_test'])} | "
        f"{r['examples']} ({r['distinct']}) | {r['straddling']} | "
        f"{r['family']} | {r['trials']} | {r['search_s']:.0f} | "
        f"{r['wall_s']:.0f} | {r['target']} | {'yes' if r['met'] else 'NO'} |"
        for r in rows
    ]
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    path.write_text(
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}; "
        f"search budget {BUDGET_MINUTES:g} min per dataset.\n\n"
        + header
        + "\n".join(lines)
        + "\n"
    )


def main(names: list[str]) -> None:
    output_dir = Path(os.environ.get("BENCH_OUTPUT", "/tmp/automl-bench"))
    rows = []
    for name in names or list(CASES):
        rows.append(run_case(name, output_dir))
        print(json.dumps(rows[-1]), flush=True)
        write_table(rows, ROOT / "benchmarks" / "RESULTS-datasets.md")


if __name__ == "__main__":
    main(sys.argv[1:])
