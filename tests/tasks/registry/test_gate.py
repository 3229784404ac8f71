"""The gate: comparable models only, and an improvement beyond noise.

Versions are published with `publish_version` (tiny Dense models); the
champion comparison is given as `rescore_champion` returns it.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from tasks.errors import GateRefused
from tasks.publish import publish_version
from tasks.registry.champion import read_champion
from tasks.registry.gate import promote
from tasks.registry.history import read_history
from tasks.registry.rescore import ChampionComparison

DIGITS = list(range(10))


def _model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


def _publish(registry: Path, score: float, labels=DIGITS, **gate):
    metrics = {"f1_macro": score, "accuracy": score, "labels": labels}
    return publish_version(
        registry, "p", _model(), metrics, {"config.json": {"name": "p"}}, **gate
    )


def _comparison(champion: float, candidate: float, p_value: float | None):
    return ChampionComparison(
        version="v0001",
        metric="f1_macro",
        basis="unseen" if p_value is not None else "stored",
        num_compared=286 if p_value is not None else 0,
        num_test=360,
        note="champion v0001 re-scored ...",
        champion_score=champion,
        candidate_score=candidate,
        p_value=p_value,
    )


def _last_decision(registry: Path) -> dict:
    return [r for r in read_history(registry / "p") if r["event"] == "publish"][-1]


def test_a_candidate_on_other_classes_is_never_promoted(tmp_path):
    _publish(tmp_path, 0.80)
    two_classes = _publish(tmp_path, 1.0, labels=[0, 1, 10])
    assert not two_classes.promoted
    assert read_champion(tmp_path / "p")["version"] == "v0001"
    reason = two_classes.reason
    assert "labels differ from champion v0001's (missing 2, 3, 4, 5, 6, 7, 8, 9 /" in (
        reason
    )
    assert "new 10)" in reason and "automl models promote p v0002 --force" in reason
    assert _last_decision(tmp_path)["promoted"] is False


def test_promote_refuses_other_classes_unless_forced(tmp_path):
    registry = tmp_path / "registry"
    _publish(registry, 0.80)
    _publish(registry, 1.0, labels=[0, 1])
    with pytest.raises(
        GateRefused,
        match=r"v0002 was trained on other classes than champion "
        r"v0001 \(missing 2, .*, 9\).*--force",
    ):
        promote(registry, "p", "v0002")
    assert read_champion(registry / "p")["version"] == "v0001"
    runner = CliRunner()
    output = ["--output-dir", str(tmp_path)]
    refused = runner.invoke(app, ["models", "promote", "p", "v0002", *output])
    assert refused.exit_code == 4 and "other classes" in refused.stderr
    forced = runner.invoke(app, ["models", "promote", "p", "v0002", "--force", *output])
    assert forced.exit_code == 0, forced.output
    assert "forced past: labels differ from v0001's (missing 2," in forced.output
    assert read_champion(registry / "p")["version"] == "v0002"


def test_the_paired_scores_and_p_value_are_compared_and_recorded(tmp_path):
    _publish(tmp_path, 0.80)
    result = _publish(
        tmp_path, 0.99, champion_rescore=_comparison(0.70, 0.75, p_value=0.0123)
    )
    assert result.promoted and result.p_value == 0.0123
    assert (result.candidate_score, result.champion_score) == (0.75, 0.70)
    assert result.num_compared == 286
    assert "McNemar exact p = 0.0123, both scored on 286 of 360 test examples" in (
        result.reason
    )
    decision = _last_decision(tmp_path)
    assert decision["p_value"] == 0.0123 and decision["num_compared"] == 286
    champion = json.loads((tmp_path / "p" / "champion.json").read_text())
    assert champion["score"] == 0.99  # its own whole test split


@pytest.mark.parametrize(
    "candidate, p_value, promoted, says",
    [
        (0.75, 0.30, False, "is within noise: p 0.3 > publish.max_p_value 0.05"),
        (0.75, 0.05, True, "required > 0 and >= 0.0, p <= 0.05"),
        (0.69, 0.01, False, "(-0.0100; required > 0 and >= 0.0)"),
        (0.75, None, False, "needs a paired test and there is none"),
    ],
)
def test_max_p_value_keeps_the_champion_unless_the_gain_is_significant(
    tmp_path, candidate, p_value, promoted, says
):
    _publish(tmp_path, 0.80)
    result = _publish(
        tmp_path,
        0.99,
        champion_rescore=_comparison(0.70, candidate, p_value),
        max_p_value=0.05,
    )
    assert result.promoted is promoted and says in result.reason, result.reason
    expected = "v0002" if promoted else "v0001"
    assert read_champion(tmp_path / "p")["version"] == expected
    assert _last_decision(tmp_path)["p_value"] == p_value


def test_unpaired_p_value_is_null_and_max_p_value_off_keeps_todays_gate(
    tmp_path,
):
    first = _publish(tmp_path, 0.80, max_p_value=0.05)
    assert first.promoted and first.p_value is None  # no champion to compare with
    better = _publish(tmp_path, 0.85)
    assert better.promoted and better.p_value is None
    assert "champion v0001 was not re-scored" in better.reason
    assert _last_decision(tmp_path)["p_value"] is None
    fallback = _comparison(None, None, None)
    stale = _publish(tmp_path, 0.90, champion_rescore=fallback)  # v0002 is champion
    assert stale.promoted and "changed to v0002 after v0001" in stale.reason
