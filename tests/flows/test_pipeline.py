"""End to end: the real flow on a real (temporary) Prefect server.

One quick digits run is shared by the tests that open its artifacts; the
failure tests then run bad data into the same registry and check that
nothing was added and the champion stayed where it was.
"""

import json
import re
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_digits
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline

QUICK_SEARCH = {
    "tuner": "random",
    "validation": "holdout",
    "max_trials": 1,
    "epochs": 2,
    "patience": 1,
}


def _quick_config(output_dir: Path, **data) -> PipelineConfig:
    return PipelineConfig(
        name="digits",
        data={"source": "sklearn:digits", "kind": "image", **data},
        augment={"enabled": False},
        search=QUICK_SEARCH,
        output_dir=str(output_dir),
    )


@pytest.fixture(scope="module")
def first_run(prefect_harness, tmp_path_factory):
    output = tmp_path_factory.mktemp("automl")
    return output, automl_pipeline(_quick_config(output))


def _registry(output: Path) -> Path:
    return output / "registry" / "digits"


def _versions(output: Path) -> list[str]:
    return sorted(p.name for p in _registry(output).glob("v*"))


def test_published_version_holds_what_a_user_opens(first_run):
    output, result = first_run
    version = Path(result.publish.path)
    assert version == _registry(output) / "v0001"
    for name in [
        "model.keras",
        "metrics.json",
        "model_card.md",
        "config.json",
        "hparams.json",
        "validation.json",
        "leaderboard.csv",
    ]:
        assert (version / name).is_file(), name
    metrics = json.loads((version / "metrics.json").read_text())
    assert 0.5 <= metrics["accuracy"] <= 1.0
    assert 0.0 <= metrics["f1_macro"] <= 1.0
    # Splits by content hash (seed 0): 340 of 1,797 digits (18.9%) are test.
    assert metrics["labels"] == list(range(10)) and metrics["n_test"] == 340
    assert np.array(metrics["confusion_matrix"]).sum() == 340
    assert json.loads((version / "validation.json").read_text())["success"]
    card = (version / "model_card.md").read_text()
    assert "## Test metrics" in card and f"{metrics['accuracy']:.4f}" in card
    champion = json.loads((_registry(output) / "champion.json").read_text())
    assert champion["version"] == "v0001"


def test_split_membership_is_recorded_and_no_content_straddles_splits(first_run):
    output, result = first_run
    version = Path(result.publish.path)
    membership = pd.read_parquet(version / "splits.parquet")
    assert list(membership.columns) == ["digest", "split"]
    assert len(membership) == 1797
    assert set(membership["split"]) == {"train", "validation", "test"}
    assert (membership["split"] == "test").sum() == 340
    assert membership.groupby("digest")["split"].nunique().max() == 1
    repeats = len(membership) - membership["digest"].nunique()
    card = json.loads((version / "model_card.json").read_text())
    assert card["duplicates"] == card["data"]["duplicates"] == repeats
    text = (version / "model_card.md").read_text()
    assert f"- Duplicates: {repeats} examples repeat" in text
    assert "No champion when this model was published" in text
    assert card["champion_comparison"] is None


def test_model_loads_safely_and_predicts_raw_pixels(first_run):
    output, result = first_run
    model = keras.saving.load_model(
        Path(result.publish.path) / "model.keras", safe_mode=True
    )
    digits = load_digits()
    raw_pixels = digits.images[:200, :, :, None].astype("float32")  # 0..16, unscaled
    predicted = model.predict(raw_pixels, verbose=0).argmax(axis=1)
    assert (predicted == digits.target[:200]).mean() > 0.5


def test_every_trial_writes_scalars_and_hparams(first_run):
    _, result = first_run
    runs = {p.name: p for p in Path(result.tensorboard_dir).iterdir() if p.is_dir()}
    final = runs.pop("final")  # the published model's test logs, beside the trials
    assert any(final.glob("events.out.tfevents.*"))
    trials = list(runs.values())
    assert trials
    for trial in trials:
        plugins = set()
        for events in trial.rglob("events.out.tfevents.*"):
            for event in EventFileLoader(str(events)).Load():
                for value in event.summary.value:
                    plugins.add(value.metadata.plugin_data.plugin_name)
        assert {"scalars", "hparams"} <= plugins, trial


def test_data_docs_are_kept_in_the_run_folder(first_run):
    _, result = first_run
    assert (Path(result.run_dir) / "data_docs" / "index.html").is_file()


def test_second_run_adds_a_version_and_gates_the_champion(first_run):
    output, _ = first_run
    second = automl_pipeline(_quick_config(output))
    assert second.publish.version == "v0002"
    scores = {
        v: json.loads((_registry(output) / v / "metrics.json").read_text())["f1_macro"]
        for v in ["v0001", "v0002"]
    }
    champion = json.loads((_registry(output) / "champion.json").read_text())
    expected = "v0002" if scores["v0002"] > scores["v0001"] else "v0001"
    assert champion["version"] == expected
    assert second.publish.promoted == (expected == "v0002")
    # Same data, same content-hash split: every test example is unseen by v0001.
    decision = json.loads(
        (_registry(output) / "history.jsonl").read_text().splitlines()[-1]
    )
    assert decision["num_compared"] == 340 == second.publish.num_compared
    assert 0.0 < decision["p_value"] <= 1.0
    assert decision["p_value"] == second.publish.p_value
    card = json.loads((Path(second.publish.path) / "model_card.json").read_text())
    assert card["champion_comparison"]["p_value"] == decision["p_value"]
    assert card["champion_comparison"]["basis"] == "unseen"
    text = (Path(second.publish.path) / "model_card.md").read_text()
    assert "340 of 340 test examples the champion never trained on" in text
    assert f"p-value {decision['p_value']:.4g}" in text
    gate = _latest_artifact("digits-gate")
    assert f"p-value: {decision['p_value']:.4g} (McNemar's exact test" in gate


def _latest_artifact(key: str) -> str:
    """The markdown of the newest Prefect artifact under `key`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return found[0].data


def test_worse_challenger_exits_0_with_both_scores_and_keeps_the_champion(
    first_run, tmp_path
):
    output, _ = first_run
    champion = (_registry(output) / "champion.json").read_text()
    config = _quick_config(output).model_dump(mode="json")
    config["publish"] = {"min_improvement": 0.5}  # no challenger can pass
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    assert re.search(
        r"\(not promoted\).*gate: +not promoted: f1_macro 0\.\d{4} vs champion "
        r"0\.\d{4} \([+-]0\.\d{4}; required > 0 and >= 0\.5\)",
        " ".join(result.output.split()),
    ), result.output
    assert (_registry(output) / "champion.json").read_text() == champion
    history = (_registry(output) / "history.jsonl").read_text().splitlines()
    decision = json.loads(history[-1])
    assert decision["promoted"] is False and decision["champion_score"] is not None
    version = _registry(output) / decision["version"]
    card = json.loads((version / "model_card.json").read_text())
    run = json.loads((Path(card["lineage"]["run_dir"]) / "run.json").read_text())
    assert card["lineage"]["data_fingerprint"] == run["data_fingerprint"]
    assert card["environment"]["keras"]


def _write_config(tmp_path: Path, output: Path, source: Path, **data) -> Path:
    config = _quick_config(output, **data).model_dump(mode="json")
    config["data"]["source"] = str(source)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _assert_nothing_published(output: Path, versions: list[str], champion: str):
    assert _versions(output) == versions
    assert (_registry(output) / "champion.json").read_text() == champion
    assert not list(_registry(output).glob(".tmp-*"))


def test_csv_without_label_column_exits_3(first_run, tmp_path):
    output, _ = first_run
    versions = _versions(output)
    champion = (_registry(output) / "champion.json").read_text()
    digits = load_digits()
    table = pd.DataFrame(digits.data, columns=[f"p{i}" for i in range(64)])
    table.to_csv(tmp_path / "no_label.csv", index=False)
    config = _write_config(
        tmp_path, output, tmp_path / "no_label.csv", image_shape=[8, 8, 1]
    )
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 3, result.output
    assert "expect_column_to_exist on 'label'" in result.stderr
    _assert_nothing_published(output, versions, champion)


def test_npz_with_nan_images_exits_3(first_run, tmp_path):
    output, _ = first_run
    versions = _versions(output)
    champion = (_registry(output) / "champion.json").read_text()
    digits = load_digits()
    x = digits.images[..., None].astype("float32")
    x[5, 2, 3, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=digits.target)
    config = _write_config(tmp_path, output, tmp_path / "nan.npz")
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 3, result.output
    assert "nan_count" in result.stderr and "expect_column_" in result.stderr
    _assert_nothing_published(output, versions, champion)


def test_run_on_label_shifted_data_fails_and_names_the_labels(first_run, tmp_path):
    output, result = first_run
    versions = _versions(output)
    champion = (_registry(output) / "champion.json").read_text()
    assert (Path(result.publish.path) / "data_profile.json").is_file()
    digits = load_digits()
    # Classes 0 and 1 in full, a tenth of the others: 0 and 1 go from ~10% to ~36%.
    keep = (digits.target < 2) | (np.arange(len(digits.target)) % 10 == 0)
    x = digits.images[keep][..., None].astype("float32")
    np.savez(tmp_path / "shifted.npz", x=x, y=digits.target[keep])
    config = _write_config(
        tmp_path, output, tmp_path / "shifted.npz", contract="digits"
    )
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 3, result.output
    error = " ".join(result.stderr.split())
    assert "label_distribution_drift on 'label'" in error
    assert re.search(r"'0' 9\.9% -> 3\d\.\d% \(\+2\d\.\d pts\)", error), error
    _assert_nothing_published(output, versions, champion)
