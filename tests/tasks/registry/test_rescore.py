"""The champion re-scored on examples it never trained on, with real models.

The champion is an untrained CNN published the way the pipeline publishes
(`publish_tiny_model`); its `splits.parquet` says which tiny images it
trained and validated on, and the candidate's test split overlaps them.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pandas as pd
import pytest

from data_contracts.profile import example_digests
from tasks.errors import RegistryError
from tasks.evaluate import evaluate_predictions, mcnemar_p_value, predict_classes
from tasks.registry.rescore import rescore_champion
from tasks.split import SPLITS_FILE

IMAGES = {"source": "tiny.npz", "kind": "image"}


@pytest.fixture
def champion(publish_tiny_model, tiny_images):
    """v0001 of `tiny`, "trained" on images 0-23, validated on 24-31, tested
    on 32-47 (its splits.parquet); a candidate model; the images."""
    x, y = tiny_images
    order = np.arange(48).reshape(3, 16).T.ravel()  # classes 0, 1, 2, 0, 1, ...
    x, y = x[order], y[order]
    model, version_dir = publish_tiny_model("tiny", x[:24], y[:24], IMAGES)
    digests = example_digests(x)
    splits = ["train"] * 24 + ["validation"] * 8 + ["test"] * 16
    pd.DataFrame({"digest": digests, "split": splits}).to_parquet(
        version_dir / SPLITS_FILE, index=False
    )
    candidate, _ = publish_tiny_model("other", x[:24], y[:24], IMAGES)
    return model, version_dir, candidate, x, y


def _rescore(version_dir, candidate, x, y, labels=(0, 1, 2)):
    return rescore_champion(
        version_dir.parents[1], "tiny", candidate, x, y, list(labels), "accuracy"
    )


def test_champion_is_scored_only_on_test_examples_it_never_trained_on(champion):
    model, version_dir, candidate, x, y = champion
    # The candidate's test split: 16 of the champion's train/validation images
    # (16-31), then the 16 it never saw (32-47).
    comparison = _rescore(version_dir, candidate, x[16:], y[16:])
    assert comparison.version == "v0001" and comparison.basis == "unseen"
    assert (comparison.num_compared, comparison.num_test) == (16, 32)
    assert "re-scored on 16 of 32 test examples it never trained on" in (
        comparison.note
    )
    unseen_x, unseen_y = x[32:], y[32:]
    seen = pd.read_parquet(version_dir / SPLITS_FILE).query("split != 'test'")
    assert not set(example_digests(unseen_x)) & set(seen["digest"])
    champion_right = predict_classes(model, unseen_x) == unseen_y
    candidate_right = predict_classes(candidate, unseen_x) == unseen_y
    expected = evaluate_predictions(
        unseen_y, predict_classes(model, unseen_x), [0, 1, 2]
    ).accuracy
    assert comparison.champion_score == pytest.approx(expected)
    assert comparison.candidate_score == pytest.approx(candidate_right.mean())
    assert comparison.p_value == mcnemar_p_value(candidate_right, champion_right)
    assert comparison.candidate_only == int((candidate_right & ~champion_right).sum())
    assert comparison.to_dict()["examples"].startswith("16 of 32 test examples")


def test_a_champion_without_splits_parquet_is_scored_on_every_test_example(
    champion,
):
    _, version_dir, candidate, x, y = champion
    (version_dir / SPLITS_FILE).unlink()
    comparison = _rescore(version_dir, candidate, x[16:], y[16:])
    assert comparison.basis == "all" and comparison.num_compared == 32
    assert "published before splits were recorded" in comparison.note
    assert comparison.p_value is not None


@pytest.mark.parametrize(
    "case, match",
    [
        ("other input shape", "cannot read this data (ValueError: "),
        ("other classes", "champion v0001 has other classes"),
        ("all seen", "none of the 16 test examples is new to champion v0001"),
    ],
)
def test_a_champion_that_cannot_be_rescored_keeps_its_stored_score_with_a_warning(
    champion, caplog, case, match
):
    _, version_dir, candidate, x, y = champion
    labels = (0, 1, 2)
    if case == "other input shape":
        x = x[:, :6, :6, :]  # 6x6 images for a model that reads 8x8
        inputs = keras.Input((6, 6, 1))
        flat = keras.layers.Flatten()(inputs)
        candidate = keras.Model(inputs, keras.layers.Dense(3, "softmax")(flat))
    elif case == "other classes":
        labels = (0, 1, 2, 3)
    x, y = (x[:16], y[:16]) if case == "all seen" else (x[16:], y[16:])
    with caplog.at_level(logging.WARNING, logger="tasks.registry.rescore"):
        comparison = _rescore(version_dir, candidate, x, y, labels)
    assert comparison.basis == "stored" and comparison.p_value is None
    assert comparison.num_compared == 0 and comparison.champion_score is None
    assert match in comparison.note and "uses its stored score" in comparison.note
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_no_champion_means_no_comparison(publish_tiny_model, tiny_images, tmp_path):
    x, y = tiny_images
    inputs = keras.Input((8, 8, 1))
    candidate = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    assert rescore_champion(
        tmp_path, "tiny", candidate, x, y, [0, 1, 2], "f1_macro"
    ) is (None)


def test_a_damaged_splits_parquet_is_a_registry_error_naming_it(champion):
    _, version_dir, candidate, x, y = champion
    (version_dir / SPLITS_FILE).write_bytes(b"not parquet")
    with pytest.raises(RegistryError, match=r"splits\.parquet .*digest and split"):
        _rescore(version_dir, candidate, x[16:], y[16:])


def test_the_digests_given_are_the_ones_used(champion):
    _, version_dir, candidate, x, y = champion
    digests = np.array(example_digests(x[16:]), dtype=object)
    digests[-4:] = example_digests(x[:4])  # say the last 4 were trained on
    comparison = rescore_champion(
        version_dir.parents[1],
        "tiny",
        candidate,
        x[16:],
        y[16:],
        [0, 1, 2],
        "accuracy",
        digests_test=digests,
    )
    assert comparison.num_compared == 12


def test_a_text_champion_is_rescored_on_the_strings_it_never_saw(publish_tiny_model):
    texts = np.array(
        [
            f"message number {i} about {w}"
            for i, w in enumerate(["cash", "lunch", "market"] * 6)
        ],
        dtype=object,
    )
    labels = np.array(["spam", "ham", "news"] * 6)
    data = {"source": "texts.csv", "kind": "text", "text_column": "body"}
    model, version_dir = publish_tiny_model("tiny", texts[:12], labels[:12], data)
    digests = example_digests(texts)
    splits = ["train"] * 9 + ["validation"] * 3 + ["test"] * 6
    pd.DataFrame({"digest": digests, "split": splits}).to_parquet(
        version_dir / SPLITS_FILE, index=False
    )
    y = np.array([["ham", "news", "spam"].index(label) for label in labels])
    comparison = _rescore(version_dir, model, texts[9:], y[9:], ["ham", "news", "spam"])
    assert comparison.basis == "unseen" and comparison.num_compared == 6
    assert comparison.p_value == 1.0  # the same model never disagrees with itself
