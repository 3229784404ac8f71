"""Ensembles: one model averaging trained members, saved, reloaded and exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tasks.export import POLICY_TOLERANCES, export_saved_model
from tasks.preprocess import Preprocessing
from tasks.tuning.device import precision_policy
from tasks.tuning.ensemble import ensemble_members, ensemble_model
from tasks.tuning.hypermodel import PipelineHyperModel

ROOT = Path(__file__).resolve().parents[3]
KINDS = ("image", "text", "sequence")
# Small enough to train in a second; names the family does not use are ignored.
SMALL_CNN = {"cnn/num_blocks": 1, "cnn/filters": 16, "cnn/dense_units": 64}
WORDS = ["win", "cash", "prize", "see", "you", "lunch", "market", "report"]

# Loads saved ensembles in a fresh process (only model_builders imported, for
# its custom layers), predicts, and fails on an optimizer-skipping warning.
# Its argument: a JSON list of [model path, inputs path, predictions path].
RELOAD = textwrap.dedent(
    """
    import json
    import sys
    import warnings

    import numpy as np

    import model_builders  # noqa: F401  (registers the custom layers)
    import keras

    warnings.filterwarnings("error", message=".*Skipping variable loading.*")
    names = []
    for model_path, x_path, out_path in json.loads(sys.argv[1]):
        if x_path.endswith(".json"):
            with open(x_path) as handle:
                x = np.asarray(json.load(handle), dtype=object)
        else:
            x = np.load(x_path)
        model = keras.saving.load_model(model_path, safe_mode=True)
        np.save(out_path, model.predict(x, verbose=0))
        names.append([layer.name for layer in model.layers])
    print(json.dumps(names))
    """
)


def _preprocessing(kind: str) -> Preprocessing:
    if kind == "image":
        return Preprocessing("image", (8, 8, 1), mean=[0.0], variance=[1.0])
    if kind == "sequence":
        return Preprocessing("sequence", (20, 2), mean=[0.0, 0.0], variance=[1.0, 1.0])
    return Preprocessing("text", (), vocabulary=WORDS[:6], text_length=8)


def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """16 seeded examples of `kind` and one-hot labels over 3 classes."""
    rng = np.random.default_rng(0)
    y = keras.utils.to_categorical(rng.integers(0, 3, 16), 3)
    if kind == "image":
        return rng.normal(size=(16, 8, 8, 1)).astype("float32"), y
    if kind == "sequence":
        x = rng.normal(size=(16, 20, 2)).astype("float32")
        for row in range(0, 16, 2):  # every other series ends in NaN padding
            x[row, 20 - (row + 2) :] = np.nan
        return x, y
    # "market" and "report" are out of the vocabulary.
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 10))) for _ in y]
    return np.asarray(texts, dtype=object), y


def _members(kind: str, policy: str = "float32", fit: bool = True) -> list[keras.Model]:
    """Two small CNNs trained at different learning rates, one epoch each."""
    keras.utils.set_random_seed(0)
    x, y = _data(kind)
    hypermodel = PipelineHyperModel(
        _preprocessing(kind), 3, ["cnn"], dtype_policy=policy
    )
    members = []
    for learning_rate in (1e-3, 1e-2):
        hp = kt.HyperParameters()
        hp.Fixed("cnn/learning_rate", learning_rate)
        for name, value in SMALL_CNN.items():
            hp.Fixed(name, value)
        member = hypermodel.build(hp)
        if fit:
            member.fit(x, y, epochs=1, batch_size=8, verbose=0)
        members.append(member)
    return members


@pytest.fixture(scope="module")
def trained() -> dict[str, list[keras.Model]]:
    """Trained members per data kind, built once for the module."""
    return {kind: _members(kind) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_the_ensemble_averages_its_members_probabilities(trained, kind):
    members = trained[kind]
    x, _ = _data(kind)
    model = ensemble_model(members)
    separate = [member.predict(x, verbose=0) for member in members]
    assert not np.allclose(separate[0], separate[1])  # the members differ
    probabilities = model.predict(x, verbose=0)
    assert probabilities.dtype == np.float32
    assert np.isfinite(probabilities).all()  # NaN padding never reaches a weight
    np.testing.assert_allclose(probabilities, np.mean(separate, axis=0), atol=1e-6)
    assert model.name == "automl_ensemble"
    assert model.inputs[0].name == "inputs"
    assert model.optimizer.built
    assert ensemble_members(model) == ["member_0_automl_cnn", "member_1_automl_cnn"]


@pytest.mark.slow  # a fresh process for three kinds (~20 s)
def test_saved_ensembles_reload_in_a_fresh_process(trained, tmp_path):
    """One fresh process reloads every kind (a process start costs seconds)."""
    jobs, expected = [], {}
    for kind in KINDS:
        x, _ = _data(kind)
        model = ensemble_model(trained[kind])
        expected[kind] = model.predict(x, verbose=0)
        model.save(tmp_path / f"{kind}.keras")
        if kind == "text":  # strings travel as JSON, read back as Python strs
            x_path = tmp_path / f"{kind}.json"
            x_path.write_text(json.dumps([str(text) for text in x]))
        else:
            x_path = tmp_path / f"{kind}.npy"
            np.save(x_path, x)
        paths = [tmp_path / f"{kind}.keras", x_path, tmp_path / f"{kind}-out.npy"]
        jobs.append([str(path) for path in paths])
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, json.dumps(jobs)],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for kind in KINDS:
        reloaded = np.load(tmp_path / f"{kind}-out.npy")
        np.testing.assert_allclose(reloaded, expected[kind], atol=1e-5, err_msg=kind)
    layer_names = json.loads(result.stdout.strip().splitlines()[-1])
    assert layer_names == [
        ["inputs", "member_0_automl_cnn", "member_1_automl_cnn", "ensemble_mean"]
    ] * len(KINDS)


@pytest.mark.slow  # three SavedModels written and reloaded
@pytest.mark.parametrize("kind", KINDS)
def test_the_ensemble_exports_a_checked_saved_model(trained, tmp_path, kind):
    x, _ = _data(kind)
    check = export_saved_model(ensemble_model(trained[kind]), tmp_path / "export", x)
    assert check.input_name == "inputs"
    assert check.max_difference <= 1e-5


@pytest.mark.slow  # bfloat16 training on a CPU is slow
def test_mixed_bfloat16_members_give_a_float32_ensemble():
    x, _ = _data("image")
    members = _members("image", policy="mixed_bfloat16")
    with precision_policy("mixed_bfloat16"):
        model = ensemble_model(members)
    body = model.get_layer("member_0_automl_cnn").get_layer("cnn")
    assert "bfloat16" in {layer.dtype_policy.compute_dtype for layer in body.layers}
    assert model.outputs[0].dtype == "float32"
    probabilities = model.predict(x, verbose=0)
    assert probabilities.dtype == np.float32
    separate = [member.predict(x, verbose=0) for member in members]
    # The export check's bf16 tolerance: a GPU may pick other 16-bit kernels
    # for the ensemble's graph than for a member's own.
    tolerance = POLICY_TOLERANCES["bfloat16"]
    mean = np.mean(separate, axis=0)
    np.testing.assert_allclose(probabilities, mean, atol=tolerance)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-2)


def test_one_member_is_returned_unchanged():
    (member, _) = _members("image", fit=False)
    assert ensemble_model([member]) is member
    assert ensemble_members(member) == ["automl_cnn"]


def test_no_members_is_refused():
    with pytest.raises(ValueError, match="received no members; expected at least"):
        ensemble_model([])


def test_members_with_different_inputs_are_refused():
    image = _members("image", fit=False)[0]
    smaller = PipelineHyperModel(
        Preprocessing("image", (6, 6, 1), mean=[0.0], variance=[1.0]), 3, ["cnn"]
    ).build(kt.HyperParameters())
    with pytest.raises(ValueError, match=r"input \(None, 6, 6, 1\) float32.*expected"):
        ensemble_model([image, smaller])


def test_members_with_different_classes_are_refused():
    three = _members("image", fit=False)[0]
    four = PipelineHyperModel(_preprocessing("image"), 4, ["cnn"]).build(
        kt.HyperParameters()
    )
    with pytest.raises(ValueError, match=r"output \(None, 4\) float32.*same data"):
        ensemble_model([three, four])


def test_a_non_model_member_is_refused():
    with pytest.raises(ValueError, match="of type ndarray; expected a keras.Model"):
        ensemble_model([np.zeros(3)])
