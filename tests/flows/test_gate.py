"""The gate end to end: a champion trained on 1,380 digits, then a retrain on
the same data plus 30% new rows, then a run on data with a class the
champion never had.

The retrain's champion re-score must use only test examples the champion
never trained on, report how many and a p-value, and keep the champion
unless the gain passes `publish.max_p_value`; a candidate on other classes
never becomes champion.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from flows.cli.main import app

# Two digits runs and a third with a new class (~60 s): `make test-slow`.
pytestmark = pytest.mark.slow

NAME = "grown"
FIRST_ROWS = 1380  # 1,797 digits are this plus 30%


def _write_run(tmp: Path, output: Path, x, y, **publish) -> Path:
    """An .npz of `x`, `y` and a quick config over it; returns the config."""
    np.savez(tmp / "data.npz", x=x, y=y)
    config = {
        "name": NAME,
        "data": {"source": str(tmp / "data.npz"), "kind": "image"},
        "augment": {"enabled": False},
        "search": {
            "tuner": "random",
            "validation": "holdout",
            "max_trials": 1,
            "epochs": 2,
            "patience": 1,
        },
        "publish": publish,
        "output_dir": str(output),
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(config: Path):
    result = CliRunner().invoke(app, ["run", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _pipeline(output: Path) -> Path:
    return output / "registry" / NAME


def _history(output: Path) -> list[dict]:
    lines = (_pipeline(output) / "history.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if '"promoted"' in line]


def _digests(output: Path, version: str, *splits: str) -> set[str]:
    membership = pd.read_parquet(_pipeline(output) / version / "splits.parquet")
    return set(membership.loc[membership["split"].isin(splits), "digest"])


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images[..., None].astype("float32"), data.target


@pytest.fixture(scope="module")
def retrained(prefect_harness, tmp_path_factory, digits):
    """v0001 on the first 1,380 digits, then v0002 on all 1,797 with
    `publish.max_p_value: 0.05`; the output folder and v0002's printed run."""
    x, y = digits
    output = tmp_path_factory.mktemp("gate")
    first = tmp_path_factory.mktemp("first")
    _run(_write_run(first, output, x[:FIRST_ROWS], y[:FIRST_ROWS]))
    grown = tmp_path_factory.mktemp("grown")
    printed = _run(_write_run(grown, output, x, y, max_p_value=0.05))
    return output, printed


def test_the_champion_is_rescored_only_on_examples_it_never_trained_on(retrained):
    output, printed = retrained
    seen = _digests(output, "v0001", "train", "validation")
    test = _digests(output, "v0002", "test")
    # Content-hash splits: rows the champion trained on never move into test.
    assert seen and test and not seen & test
    decision = _history(output)[-1]
    assert decision["version"] == "v0002" and decision["champion_version"] == "v0001"
    membership = pd.read_parquet(_pipeline(output) / "v0002" / "splits.parquet")
    unseen = ~membership["digest"].isin(seen) & (membership["split"] == "test")
    assert decision["num_compared"] == unseen.sum() == len(test)
    assert f"both scored on {len(test)} of {len(test)} test examples the champion" in (
        printed
    )
    assert 0.0 < decision["p_value"] <= 1.0


def test_with_max_p_value_only_a_significant_gain_replaces_the_champion(retrained):
    output, printed = retrained
    decision = _history(output)[-1]
    champion = json.loads((_pipeline(output) / "champion.json").read_text())
    gain = decision["candidate_score"] - decision["champion_score"]
    significant = gain > 0 and decision["p_value"] <= 0.05
    assert decision["promoted"] is significant
    assert champion["version"] == ("v0002" if significant else "v0001")
    p_value = f"McNemar exact p = {decision['p_value']:.4g}"
    assert re.search(rf"gate: .*{re.escape(p_value)}", printed), printed
    if not significant:
        assert "gate: not promoted" in printed
    card = json.loads((_pipeline(output) / "v0002" / "model_card.json").read_text())
    assert card["champion_comparison"]["p_value"] == decision["p_value"]
    text = (_pipeline(output) / "v0002" / "model_card.md").read_text()
    assert f"p-value {decision['p_value']:.4g}" in text


def test_a_candidate_with_a_new_class_is_not_promoted(
    retrained, digits, tmp_path_factory
):
    output, _ = retrained
    champion = (_pipeline(output) / "champion.json").read_text()
    x, y = digits
    # A new class 10: the zeros drawn in negative.
    zeros = 16.0 - x[y == 0][:60]
    x = np.concatenate([x, zeros])
    y = np.concatenate([y, np.full(len(zeros), 10)])
    tmp = tmp_path_factory.mktemp("new-class")
    printed = _run(_write_run(tmp, output, x, y))
    assert "gate: not promoted: labels differ from champion" in printed
    assert "(new 10)" in printed and f"promote {NAME} v0003 --force" in printed
    assert (_pipeline(output) / "champion.json").read_text() == champion
    decision = _history(output)[-1]
    assert decision["version"] == "v0003" and decision["promoted"] is False
