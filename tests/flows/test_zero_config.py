"""A config that names only its data: the search sizes itself from the data.

Small series: k-fold cross-validation, training length from the data size,
refit on train+validation, an ensemble of the best trials published as one
Keras model that reloads with safe_mode=True, passes the export check and
serves `automl predict` unchanged.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline

# Two pipelines and a fresh process (~60 s): `make test-slow`.
pytestmark = pytest.mark.slow

RELOAD = """
import json, sys
import numpy as np
import keras
import model_builders  # registers the custom layers
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
x = np.load(sys.argv[2])["x"]
print(json.dumps(model.predict(x, verbose=0).tolist()))
"""


def _series(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 16-step series: a bump early or late, with noise."""
    y = np.arange(count) % 2
    x = rng.normal(0.0, 0.3, (count, 16, 1)).astype("float32")
    for i, label in enumerate(y):
        start = 2 if label == 0 else 10
        x[i, start : start + 4, 0] += 2.0
    return x, np.where(y == 0, "early", "late")


@pytest.fixture
def series_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x_train, y_train = _series(rng, 30)
    x_test, y_test = _series(rng, 20)
    path = tmp_path / "bumps.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def _run(tmp_path: Path, source: Path, search: dict) -> Path:
    config = PipelineConfig(
        name="bumps",
        data={"source": str(source), "kind": "sequence"},
        search=search,
        output_dir=str(tmp_path / "out"),
    )
    return Path(automl_pipeline(config).publish.path)


def test_data_only_config_cross_validates_refits_and_spends_the_budget(
    tmp_path, series_npz
):
    budget_minutes = 0.2
    version = _run(tmp_path, series_npz, {"time_budget_minutes": budget_minutes})
    search = json.loads((version / "search.json").read_text())
    assert search["validation"]["kind"] == "kfold"
    assert search["validation"]["folds"] == 5  # 30 series: 5 folds
    assert search["objective"] == "val_loss"
    assert search["training"]["chosen"] == {
        "epochs": "data",
        "patience": "data",
        "batch_size": "data",
    }
    assert search["training"]["batch_size"] == 8
    # No max_trials: the search ends only when its budget is spent.
    assert search["seconds"] >= 0.8 * budget_minutes * 60
    assert search["refit"]["ran"] is True and search["refit"]["mode"] == "auto"
    assert search["refit"]["examples"] == 30
    assert 1 <= len(search["ensemble"]) <= 5
    assert all(member["refit"] for member in search["ensemble"])
    leaderboard = pd.read_csv(version / "leaderboard.csv")
    assert {"score_std", "fold_scores", "val_loss"} <= set(leaderboard.columns)


def test_an_ensemble_reloads_exports_and_predicts_the_same(tmp_path, series_npz):
    search = {
        "time_budget_minutes": 5,
        "max_trials": 2,
        "epochs": 3,
        "ensemble_size": 2,
        "tuner": "random",
    }
    version = _run(tmp_path, series_npz, search)
    recorded = json.loads((version / "search.json").read_text())
    members = [m["trial"] for m in recorded["ensemble"]]
    assert len(members) == 2 and all(m["refit"] for m in recorded["ensemble"])
    card = (version / "model_card.md").read_text()
    # Selection may pick a trial twice (refit under the next seed) and may
    # mix the series families (rocket, cnn).
    named = ", ".join(
        f"trial {m['trial']} ({m['family']}, seed {seed})"
        for seed, m in enumerate(recorded["ensemble"])
    )
    assert f"Ensemble (mean of probabilities): {named}" in card
    assert (version / "export" / "saved_model.pb").is_file()  # the export check

    x = _series(np.random.default_rng(1), 6)[0]
    np.savez(tmp_path / "inputs.npz", x=x)
    reloaded = subprocess.run(
        [sys.executable, "-c", RELOAD, str(version / "model.keras")]
        + [str(tmp_path / "inputs.npz")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert reloaded.returncode == 0, reloaded.stderr[-2000:]
    fresh = np.array(json.loads(reloaded.stdout.strip().splitlines()[-1]))
    assert fresh.shape == (6, 2)
    np.testing.assert_allclose(fresh.sum(axis=1), 1.0, rtol=1e-5)

    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(
        app,
        ["predict", "bumps", str(tmp_path / "inputs.npz"), "--out", str(out)]
        + ["--output-dir", str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    served = pd.read_csv(out)[["p_early", "p_late"]].to_numpy()
    np.testing.assert_allclose(served, fresh, atol=1e-5)
