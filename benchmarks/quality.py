"""Benchmark: the quality table, the flow's defaults against the published baselines.

Each dataset goes through the real flow with a config that sets only `name`,
`data` and `search.time_budget_minutes`, so every other choice is the
pipeline's default. In the same run the published classical baseline for its
kind (`baselines.py`) trains on the same train+validation examples and is
scored on the same test examples: the split is made again the way
`flows.pipeline.prepare_search` makes it, and its test digests must equal
those in the published version's `splits.parquet`. Beside each shared
dataset's result the report lists the published deep-learning and
random-convolution anchors with their test error counts (`anchors.py`).

    .venv/bin/python benchmarks/quality.py                   # all five, ~1 hour
    .venv/bin/python benchmarks/quality.py gunpoint --budget 0.5 --out /tmp/q.md
    .venv/bin/python benchmarks/quality.py --heldout         # + generated sets

Datasets are read from ../shared/datasets beside the checkout. The report goes
to benchmarks/RESULTS-quality.md (or --out), the raw rows to the same name
with `.json`; it is rewritten after each dataset and printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from anchors import anchors_for, render_anchors
from baselines import baseline_for
from heldout import SPLITS as HELDOUT_SPLITS
from heldout import write_heldout

from flows.config import PipelineConfig, parse_config
from tasks.evaluate import evaluate_predictions
from tasks.load import load_dataset, to_examples
from tasks.split import SPLITS_FILE, Splits, split_examples

ROOT = Path(__file__).resolve().parents[1]
SHARED = "../shared/datasets"
BUDGET_MINUTES = 10.0
MIN_BUDGET_USED = 0.8
CASES = {
    "digits": {"source": "sklearn:digits", "kind": "image", "image_shape": [8, 8, 1]},
    "sms_spam": {
        "source": f"{SHARED}/sms_spam/SMSSpamCollection.tsv",
        "kind": "text",
        "label": "Label",
        "text_column": "SMS",
    },
    "gunpoint": {"source": f"{SHARED}/ucr/GunPoint.npz", "kind": "sequence"},
    "basicmotions": {"source": f"{SHARED}/ucr/BasicMotions.npz", "kind": "sequence"},
    "osuleaf": {"source": f"{SHARED}/ucr/OSULeaf.npz", "kind": "sequence"},
}


@dataclass(frozen=True)
class Goal:
    """What a dataset's result must reach: the baseline, and maybe a floor."""

    metric: str = "accuracy"
    beat_strictly: bool = False
    floor: float | None = None
    floor_strictly: bool = False


GOALS = {
    "digits": Goal(floor=0.985),
    "sms_spam": Goal("f1_macro", beat_strictly=True),
    "gunpoint": Goal(floor=0.98),
    "basicmotions": Goal(floor=0.98),
    "osuleaf": Goal(floor=0.52, floor_strictly=True),
    "sms_1000": Goal("f1_macro"),
}


def quality_config(
    name: str, data: dict, budget_minutes: float, output_dir: str | Path
) -> PipelineConfig:
    """A config that sets only name, data, the search budget and output_dir."""
    raw = {
        "name": name,
        "data": dict(data),
        "search": {"time_budget_minutes": budget_minutes},
        "output_dir": str(output_dir),
    }
    return parse_config(raw, source=f"quality case {name!r}")


def baseline_split(config: PipelineConfig) -> tuple[Splits, bool]:
    """The flow's split made again: load -> to_examples -> split_examples.

    Returns:
        The splits, and whether the source kept its own test split.
    """
    data = config.data
    raw = load_dataset(data.source, **data.loader_options())
    examples = to_examples(raw, **data.reader_options())
    splits = split_examples(
        examples,
        test_fraction=data.test_fraction,
        validation_fraction=data.validation_fraction,
        seed=config.seed,
    )
    return splits, examples.x_test is not None


def check_same_test(splits: Splits, version_dir: Path) -> None:
    """Raise unless the re-made test split is the published version's, in order."""
    membership = pd.read_parquet(version_dir / SPLITS_FILE)
    published = membership.loc[membership["split"] == "test", "digest"].tolist()
    remade = [str(digest) for digest in splits.digests_test]
    if published != remade:
        raise RuntimeError(
            f"The baseline's test split ({len(remade)} examples) differs from "
            f"the one published in {version_dir / SPLITS_FILE} ({len(published)} "
            "test rows); expected the same digests in the same order. The split "
            "code or its inputs changed between the flow and this benchmark."
        )


def score_baseline(kind: str, splits: Splits) -> tuple[str, dict]:
    """Train the kind's baseline on train+validation; its test metrics."""
    baseline = baseline_for(kind)
    x_fit = np.concatenate([splits.x_train, splits.x_val])
    y_fit = np.concatenate([splits.y_train, splits.y_val])
    predicted = baseline.predict(x_fit, y_fit, splits.x_test)
    metrics = evaluate_predictions(splits.y_test, predicted, splits.labels)
    return baseline.name, metrics.to_dict()


def run_case(name: str, data: dict, budget: float, output_dir: Path) -> dict:
    """Run one dataset through the flow and its baseline; one row of figures."""
    from flows.pipeline import automl_pipeline

    os.chdir(ROOT)  # the shared datasets are named relative to the checkout
    config = quality_config(name, data, budget, output_dir)
    started = time.monotonic()
    result = automl_pipeline(config)
    wall = time.monotonic() - started
    version = Path(result.publish.path)
    search = json.loads((version / "search.json").read_text())
    splits, kept_test = baseline_split(config)
    check_same_test(splits, version)
    baseline_name, theirs = score_baseline(config.data.kind, splits)
    ours, budget_s = result.metrics, budget * 60
    row = {
        "dataset": name,
        "kind": config.data.kind,
        "split": _describe_split(name, config, splits, kept_test),
        "n_train": len(splits.y_train),
        "n_val": len(splits.y_val),
        "n_test": len(splits.y_test),
        "ours_accuracy": ours["accuracy"],
        "ours_f1_macro": ours["f1_macro"],
        "ours_errors": _errors(ours),
        "baseline": baseline_name,
        "baseline_accuracy": theirs["accuracy"],
        "baseline_f1_macro": theirs["f1_macro"],
        "baseline_errors": _errors(theirs),
        "search_s": search.get("seconds"),
        "budget_s": budget_s,
        "budget_used": (search.get("seconds") or 0.0) / budget_s,
        "wall_s": wall,
        "trials": search.get("num_trials"),
        "family": (search.get("hyperparameters") or {}).get("family"),
        "validation": search.get("validation"),
        "refit": search.get("refit"),
        "ensemble": search.get("ensemble"),
        "version": str(version),
    }
    row["goals"] = judge(row, GOALS.get(name, Goal()))
    row["met"] = all(row["goals"].values())
    row["anchors"] = [a.to_dict(row["n_test"]) for a in anchors_for(name)]
    return row


def judge(row: dict, goal: Goal) -> dict[str, bool]:
    """Each goal's description and whether the row meets it."""
    ours = round(row[f"ours_{goal.metric}"], 10)
    theirs = round(row[f"baseline_{goal.metric}"], 10)
    sign = ">" if goal.beat_strictly else ">="
    goals = {f"{goal.metric} {sign} baseline": _holds(ours, theirs, sign)}
    if goal.floor is not None:
        sign = ">" if goal.floor_strictly else ">="
        goals[f"{goal.metric} {sign} {goal.floor:g}"] = _holds(ours, goal.floor, sign)
    goals[f"search >= {MIN_BUDGET_USED:.0%} of budget"] = (
        row["budget_used"] >= MIN_BUDGET_USED
    )
    return goals


def render_report(rows: list[dict], budget: float) -> str:
    """The markdown report: machine, date, seed, splits, the table, totals, anchors."""
    machine = (
        f"{platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    lines = [
        "# Quality table: the flow's defaults against the published baselines",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}; seed 0; "
        f"search budget {budget:g} min per dataset. Each config sets only `name`, "
        "`data` and `search.time_budget_minutes`. The baseline trains on the "
        "flow's train+validation examples and is scored on its test examples "
        "(same digests as the published `splits.parquet`).",
        "",
        "Splits:",
        "",
        *[f"- {row['dataset']}: {row['split']}" for row in rows],
        "",
        "| dataset | train+val | test | ours acc | ours F1 | ours errors "
        "| baseline | base acc | base F1 | base errors | search s / budget s "
        "| trials | family | validation | refit | ensemble | goals |",
        "|---" * 17 + "|",
        *[_table_row(row) for row in rows],
        "",
        _totals(rows),
        "",
        *render_anchors(rows),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the chosen cases, write the report and the raw rows, print the report."""
    args = _parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="automl-quality-"))
    cases = {name: CASES[name] for name in args.names if name in CASES}  # as named
    if set(args.names) & set(HELDOUT_SPLITS):
        generated = write_heldout(work / "heldout", ROOT / CASES["sms_spam"]["source"])
        cases.update(
            {name: generated[name] for name in args.names if name in generated}
        )
    out = Path(args.out)
    rows = []
    for name, data in cases.items():
        rows.append(run_case(name, data, args.budget, work / "output"))
        print(json.dumps(rows[-1], default=str), flush=True)
        out.write_text(render_report(rows, args.budget))
        out.with_suffix(".json").write_text(json.dumps(rows, indent=2, default=str))
    print(render_report(rows, args.budget))
    print(f"report: {out}; rows: {out.with_suffix('.json')}; outputs: {work}")
    return rows


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    known = [*CASES, *HELDOUT_SPLITS]
    parser.add_argument(
        "names", nargs="*", help=f"datasets to run, of {known} (default: {list(CASES)})"
    )
    parser.add_argument("--budget", type=float, default=BUDGET_MINUTES)
    parser.add_argument(
        "--heldout", action="store_true", help="add the generated held-out sets"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks/RESULTS-quality.md"))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"received unknown datasets {unknown}; expected some of {known}")
    if args.budget <= 0:
        parser.error(f"received --budget {args.budget}; expected minutes above 0")
    args.names = args.names or list(CASES)
    if args.heldout:
        args.names += [name for name in HELDOUT_SPLITS if name not in args.names]
    return args


def _describe_split(name: str, config, splits: Splits, kept_test: bool) -> str:
    counts = (
        f"{len(splits.y_train)} train / {len(splits.y_val)} validation / "
        f"{len(splits.y_test)} test"
    )
    data, seed = config.data, config.seed
    if name in HELDOUT_SPLITS:
        return f"{HELDOUT_SPLITS[name]}; {counts}"
    if kept_test:
        return (
            f"published train/test split kept as the test split; validation "
            f"{data.validation_fraction:.0%} of train by content hash, seed {seed}; "
            + counts
        )
    return (
        f"split by content hash, seed {seed}: test {data.test_fraction:.0%}, "
        f"validation {data.validation_fraction:.0%}; {counts}"
    )


def _errors(metrics: dict) -> int:
    return int(metrics["n_test"] - np.trace(np.asarray(metrics["confusion_matrix"])))


def _holds(left: float, right: float, sign: str) -> bool:
    return left > right if sign == ">" else left >= right


def _table_row(row: dict) -> str:
    search_s = row["search_s"] if row["search_s"] is not None else float("nan")
    goals = "; ".join(f"{g}: {'yes' if ok else 'NO'}" for g, ok in row["goals"].items())
    cells = [
        row["dataset"],
        f"{row['n_train'] + row['n_val']} ({row['n_train']}+{row['n_val']})",
        row["n_test"],
        f"{row['ours_accuracy']:.4f}",
        f"{row['ours_f1_macro']:.4f}",
        row["ours_errors"],
        row["baseline"],
        f"{row['baseline_accuracy']:.4f}",
        f"{row['baseline_f1_macro']:.4f}",
        row["baseline_errors"],
        f"{search_s:.0f} / {row['budget_s']:.0f} ({row['budget_used']:.0%})",
        row["trials"],
        row["family"],
        _brief(row["validation"]),
        _brief(row["refit"]),
        _brief(row["ensemble"]),
        goals,
    ]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _brief(value) -> str:
    """A short cell for a search.json entry whose shape is still settling."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        scalars = [  # the reason is a sentence: it stays in the JSON rows
            f"{k}={v}"
            for k, v in value.items()
            if k != "reason" and not isinstance(v, dict | list)
        ]
        text = ", ".join(scalars) or json.dumps(value, default=str)
    elif isinstance(value, list):
        names = [_member_name(item) for item in value]
        text = f"{len(value)}: {', '.join(names)}"
    else:
        text = str(value)
    return (text[:77] + "...") if len(text) > 80 else text


def _member_name(item) -> str:
    if isinstance(item, dict):
        family = item.get("family") or (item.get("hyperparameters") or {}).get("family")
        return str(family or item.get("name") or item.get("trial_id") or "?")
    return str(item)


def _totals(rows: list[dict]) -> str:
    beat = sum(next(iter(row["goals"].values())) for row in rows)
    met = sum(row["met"] for row in rows)
    used = sum(row["search_s"] or 0.0 for row in rows)
    budget = sum(row["budget_s"] for row in rows)
    return (
        f"Totals: {len(rows)} datasets; the goal against the baseline (headline "
        f"metric) met on {beat}; every goal met on {met}; test errors ours "
        f"{sum(row['ours_errors'] for row in rows)} vs baseline "
        f"{sum(row['baseline_errors'] for row in rows)}; search {used:.0f} s of "
        f"{budget:.0f} s budgeted ({used / budget:.0%}); wall "
        f"{sum(row['wall_s'] for row in rows):.0f} s."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
