"""The quality benchmark's pieces: the baselines, the held-out generators and
the config builder (the benchmark itself runs from `benchmarks/quality.py`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """The benchmark scripts as they import each other: top-level modules."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield {
            name: importlib.import_module(name)
            for name in ("baselines", "heldout", "quality")
        }


def separable_blobs(shape: tuple[int, ...], seed: int = 0):
    """Three classes of inputs around 0, 5 and 10: train, labels, test, labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["a", "b", "c"]), 8)
    centres = {"a": 0.0, "b": 5.0, "c": 10.0}
    x = np.stack([centres[label] + rng.normal(0, 0.5, shape) for label in y])
    order = rng.permutation(len(y))
    x, y = x[order].astype("float32"), y[order]
    return x[:15], y[:15], x[15:], y[15:]


def test_one_nn_classifies_separable_series_and_treats_nan_as_zero(bench):
    x_train, y_train, x_test, y_test = separable_blobs((12, 2))
    x_train[:, -3:] = np.nan  # padding, as the archive's shorter series have
    x_test[:, -3:] = np.nan
    predicted = bench["baselines"].one_nn_euclidean(x_train, y_train, x_test)
    np.testing.assert_array_equal(predicted, y_test)


def test_one_nn_returns_the_nearest_training_label(bench):
    x_train = np.array([[0.0, 0.0], [10.0, 10.0]])[..., np.newaxis]
    x_test = np.array([[1.0, 1.0], [9.0, 8.0], [4.0, 4.0]])[..., np.newaxis]
    predicted = bench["baselines"].one_nn_euclidean(x_train, np.array([0, 1]), x_test)
    np.testing.assert_array_equal(predicted, [0, 1, 0])


def test_rbf_svm_classifies_separable_images(bench):
    x_train, y_train, x_test, y_test = separable_blobs((4, 4, 1))
    x_train, x_test = np.abs(x_train) * 10, np.abs(x_test) * 10  # 0..~110 pixels
    predicted = bench["baselines"].rbf_svm(x_train, y_train, x_test)
    np.testing.assert_array_equal(predicted, y_test)


def test_tfidf_logistic_classifies_texts_by_their_words(bench):
    words = {"spam": "win cash prize now", "ham": "see you at lunch today"}
    y_train = np.array(["spam", "ham"] * 6)
    texts_train = np.array([f"{words[y]} {i}" for i, y in enumerate(y_train)], object)
    texts_test = np.array(["cash prize to win", "lunch today?"], dtype=object)
    predicted = bench["baselines"].tfidf_logistic(texts_train, y_train, texts_test)
    np.testing.assert_array_equal(predicted, ["spam", "ham"])


def test_baseline_for_names_each_kind_and_refuses_others(bench):
    baselines = bench["baselines"]
    assert baselines.baseline_for("sequence").predict is baselines.one_nn_euclidean
    assert baselines.baseline_for("text").predict is baselines.tfidf_logistic
    assert baselines.baseline_for("image").predict is baselines.rbf_svm
    with pytest.raises(ValueError, match="Received the data kind 'audio'"):
        baselines.baseline_for("audio")


def test_cbf_has_the_ucr_shapes_three_classes_and_is_seeded(bench):
    heldout = bench["heldout"]
    first, again = heldout.make_cbf(seed=0), heldout.make_cbf(seed=0)
    assert first["x_train"].shape == (30, 128, 1)
    assert first["x_test"].shape == (900, 128, 1)
    assert first["y_train"].shape == (30,) and first["y_test"].shape == (900,)
    assert set(first["y_train"]) == set(first["y_test"]) == set(heldout.CBF_CLASSES)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    other = heldout.make_cbf(seed=1)
    assert not np.array_equal(first["x_train"], other["x_train"])
    np.testing.assert_allclose(first["x_train"].mean(axis=1), 0.0, atol=1e-5)


def test_cbf_shapes_rise_stay_flat_and_fall(bench):
    heldout = bench["heldout"]
    x, y = heldout.cylinder_bell_funnel(3, np.random.default_rng(0))
    assert list(y) == ["cylinder", "bell", "funnel"]
    t = np.arange(1, 129, dtype="float64")
    # Without noise the bell rises inside [a, b] and the funnel falls.
    assert np.all(np.diff(heldout._cbf_ramp(1, t, 20, 60)[19:60]) > 0)
    assert np.all(np.diff(heldout._cbf_ramp(2, t, 20, 60)[19:60]) < 0)


def test_write_heldout_writes_archives_the_pipeline_reads(bench, tmp_path):
    from tasks.load import load_dataset

    sms = tmp_path / "sms.tsv"
    sms.write_text(
        "Label\tSMS\n"
        + "".join(f"{'spam' if i % 5 else 'ham'}\tmessage {i}!\n" for i in range(1200))
    )
    configs = bench["heldout"].write_heldout(tmp_path / "out", sms)
    assert set(configs) == {"cbf", "bumps", "sms_1000"}
    raw = load_dataset(configs["bumps"]["source"], kind="sequence")
    assert raw.x.shape == (40, 60, 3) and raw.x_test.shape == (200, 60, 3)
    assert set(raw.y) == {"first", "second"}
    bench["quality"].quality_config("bumps", configs["bumps"], 1.0, tmp_path)
    sample = Path(configs["sms_1000"]["source"]).read_text().splitlines()
    assert sample[0] == "Label\tSMS" and len(sample) == 1001
    assert len(set(sample[1:])) == 1000  # drawn without replacement


def test_the_quality_config_sets_only_name_data_and_the_budget(bench, tmp_path):
    quality = bench["quality"]
    for name, data in quality.CASES.items():
        config = quality.quality_config(name, data, 2.5, tmp_path)
        assert config.model_fields_set == {"name", "data", "search", "output_dir"}
        assert config.search.model_fields_set == {"time_budget_minutes"}
        assert config.search.time_budget_minutes == 2.5
        assert config.data.model_fields_set == set(data)
        assert config.output_dir == str(tmp_path)


def quality_row(ours: float, theirs: float, used: float) -> dict:
    return {
        "dataset": "sms_spam",
        "split": "by content hash",
        "n_train": 8,
        "n_val": 2,
        "n_test": 4,
        "ours_accuracy": ours,
        "ours_f1_macro": ours,
        "ours_errors": 1,
        "baseline": "TF-IDF + logistic regression",
        "baseline_accuracy": theirs,
        "baseline_f1_macro": theirs,
        "baseline_errors": 1,
        "search_s": used * 60,
        "budget_s": 60.0,
        "budget_used": used,
        "wall_s": 70.0,
        "trials": 3,
        "family": "cnn",
        "validation": {"scheme": "kfold", "folds": 5},
        "refit": None,
        "ensemble": [{"family": "cnn"}, {"family": "lstm"}],
    }


def test_judge_needs_a_strict_win_where_asked_and_most_of_the_budget(bench):
    quality = bench["quality"]
    tie = quality_row(0.75, 0.75, 0.9)
    strict = quality.judge(tie, quality.GOALS["sms_spam"])
    assert strict == {
        "f1_macro > baseline": False,
        "search >= 80% of budget": True,
    }
    at_least = quality.judge(quality_row(0.75, 0.75, 0.5), quality.GOALS["digits"])
    assert at_least == {
        "accuracy >= baseline": True,
        "accuracy >= 0.985": False,
        "search >= 80% of budget": False,
    }


def test_the_report_holds_the_table_and_the_totals(bench):
    quality = bench["quality"]
    row = quality_row(0.8, 0.75, 0.9)
    row["goals"] = quality.judge(row, quality.GOALS["sms_spam"])
    row["met"] = all(row["goals"].values())
    report = quality.render_report([row], budget=1.0)
    assert "| sms_spam | 10 (8+2) | 4 | 0.8000 |" in report
    assert "folds=5" in report and "2: cnn, lstm" in report
    assert "every goal met on 1" in report


def test_the_cli_runs_all_shared_datasets_by_default_and_adds_heldout(bench):
    quality = bench["quality"]
    assert quality._parse_args([]).names == list(quality.CASES)
    args = quality._parse_args(["gunpoint", "--heldout", "--budget", "0.5"])
    assert args.names == ["gunpoint", "cbf", "bumps", "sms_1000"]
    assert args.budget == 0.5
    with pytest.raises(SystemExit):
        quality._parse_args(["mnist"])
