"""The registry by hand: promote, rollback, thresholds, history, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from tasks.errors import GateRefused, ModelReferenceError, RegistryError
from tasks.publish import publish_version
from tasks.registry.champion import read_champion, rollback
from tasks.registry.gate import promote
from tasks.registry.history import append_history, champion_line, read_history
from tasks.registry.versions import list_versions, pipeline_dir


def _model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


def _publish(registry: Path, accuracy: float, **gate):
    metrics = {
        "accuracy": accuracy,
        "f1_macro": accuracy,
        "precision_macro": accuracy,
        "recall_macro": accuracy,
        "n_test": 10,
        "per_class": {"a": {"precision": 1, "recall": accuracy, "f1": 1, "support": 5}},
    }
    config = {"name": "p", "publish": {"thresholds": {"accuracy": 0.9}}}
    return publish_version(
        registry,
        "p",
        _model(),
        metrics,
        documents={"config.json": config},
        thresholds={"accuracy": 0.9},
        **gate,
    )


@pytest.fixture
def registry(tmp_path) -> Path:
    """v0001 (0.92, champion), v0002 (0.95, champion), v0003 (0.80, refused).

    The registry root is `<tmp_path>/registry`, so `--output-dir tmp_path`.
    """
    registry = tmp_path / "registry"
    for accuracy in (0.92, 0.95, 0.80):
        _publish(registry, accuracy)
    return registry


def test_thresholds_keep_a_version_from_becoming_champion(registry):
    pipeline = registry / "p"
    assert read_champion(pipeline)["version"] == "v0002"
    decisions = [r for r in read_history(pipeline) if r["event"] == "publish"]
    assert [d["promoted"] for d in decisions if "promoted" in d] == [True, True, False]
    refused = decisions[-1]
    assert "below the thresholds (accuracy 0.8000 < 0.9)" in refused["reason"]
    assert refused["champion_version"] == "v0002" and refused["champion_score"] == 0.95


def test_a_first_version_below_the_thresholds_is_kept_but_not_champion(tmp_path):
    result = _publish(tmp_path, 0.5)
    assert result.version == "v0001" and not result.promoted
    assert read_champion(tmp_path / "p") is None


def test_promote_refuses_a_version_below_its_thresholds_unless_forced(registry):
    with pytest.raises(
        GateRefused, match=r"v0003 fails .*accuracy 0.8000 < 0.9.*--force"
    ):
        promote(registry, "p", "v0003")
    assert read_champion(registry / "p")["version"] == "v0002"
    record = promote(registry, "p", "v0003", force=True)
    assert record["forced"] and read_champion(registry / "p")["version"] == "v0003"


def test_rollback_restores_the_previous_champion_step_by_step(registry):
    promote(registry, "p", "v0001")
    assert champion_line(registry / "p") == ["v0001", "v0002", "v0001"]
    assert rollback(registry, "p")["version"] == "v0002"
    assert rollback(registry, "p")["version"] == "v0001"
    with pytest.raises(RegistryError, match="no earlier champion"):
        rollback(registry, "p")
    assert read_champion(registry / "p")["version"] == "v0001"


def test_names_and_versions_cannot_leave_the_registry(registry):
    with pytest.raises(ModelReferenceError, match="expected lowercase letters"):
        pipeline_dir(registry, "../p")
    with pytest.raises(
        ModelReferenceError, match="expected a version name such as 'v0003'"
    ):
        promote(registry, "p", "../../etc")


def test_models_cli_lists_promotes_and_rolls_back(registry):
    runner = CliRunner()
    output = registry.parent
    missing = runner.invoke(app, ["models", "list", "q", "--output-dir", str(output)])
    assert missing.exit_code == 2 and "No published versions of 'q'" in missing.stderr
    listed = runner.invoke(app, ["models", "list", "p", "--output-dir", str(output)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[2].startswith("* v0002") and "0.9500" in lines[2]
    assert lines[-1] == "champion: v0002"
    refused = runner.invoke(
        app, ["models", "promote", "p", "v0003", "--output-dir", str(output)]
    )
    assert refused.exit_code == 4 and "--force" in refused.stderr
    forced = runner.invoke(
        app, ["models", "promote", "p", "v0003", "--force", "--output-dir", str(output)]
    )
    assert forced.exit_code == 0 and "forced past" in forced.output
    back = runner.invoke(app, ["models", "rollback", "p", "--output-dir", str(output)])
    assert back.exit_code == 0 and "from v0003 to v0002" in back.output
    shown = runner.invoke(app, ["models", "show", "p", "--output-dir", str(output)])
    assert "p v0002 (champion)" in shown.output and "recall" in shown.output


PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import keras
    from tasks.publish import publish_version
    registry, score, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    time.sleep(max(0.0, start - time.time()))  # both publish at the same moment
    result = publish_version(registry, "p", model, {"f1_macro": score}, {})
    print(result.version, result.promoted)
    """
)


def test_two_processes_publishing_at_once_keep_both_versions(tmp_path):
    start = time.time() + 8  # after both interpreters have imported Keras
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(tmp_path), str(score), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for score in (0.7, 0.9)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    pipeline = tmp_path / "p"
    assert list_versions(pipeline) == ["v0001", "v0002"]
    for version in ("v0001", "v0002"):
        keras.saving.load_model(pipeline / version / "model.keras", safe_mode=True)
    scores = {
        v: json.loads((pipeline / v / "metrics.json").read_text())["f1_macro"]
        for v in ("v0001", "v0002")
    }
    champion = read_champion(pipeline)["version"]
    assert scores[champion] == 0.9  # whichever came first, the better one wins
    publishes = [r for r in read_history(pipeline) if "promoted" in r]
    assert sorted(r["version"] for r in publishes) == ["v0001", "v0002"]
    assert not list(pipeline.glob(".tmp-*"))


def test_a_history_line_cut_short_is_skipped_and_the_next_starts_afresh(registry):
    pipeline = registry / "p"
    before = read_history(pipeline)
    assert before
    with open(pipeline / "history.jsonl", "a") as handle:
        handle.write('{"event": "publish", "vers')  # a kill mid-append
    assert read_history(pipeline) == before
    append_history(pipeline, {"event": "promote", "version": "v0001"})
    after = read_history(pipeline)
    assert after[:-1] == before and after[-1]["event"] == "promote"
