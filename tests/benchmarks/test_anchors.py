"""The published anchors beside the quality table: sourced, in range, counted right."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SHARED = {"gunpoint", "osuleaf", "basicmotions", "sms_spam", "digits"}


@pytest.fixture(scope="module")
def anchors():
    """The anchors module as the benchmark scripts import it: top-level."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield importlib.import_module("anchors")


def every_anchor(module):
    return [
        (dataset, anchor)
        for dataset, found in module.ANCHORS.items()
        for anchor in found
    ]


def test_each_shared_dataset_has_its_test_size_and_at_least_one_anchor(anchors):
    assert set(anchors.TEST_SIZES) == SHARED
    assert set(anchors.ANCHORS) == SHARED
    assert all(anchors.anchors_for(name) for name in SHARED)
    assert anchors.anchors_for("sms_1000") == ()  # generated sets have none


def test_every_anchor_has_a_source_an_accuracy_and_a_known_figure(anchors):
    for dataset, anchor in every_anchor(anchors):
        assert anchor.source.strip(), (dataset, anchor.method)
        assert 0.0 <= anchor.accuracy <= 1.0, (dataset, anchor.method)
        assert anchor.figure in anchors.FIGURES, (dataset, anchor.method)
        assert "{" not in anchor.describe()


def test_error_counts_follow_from_the_accuracy_and_the_test_size(anchors):
    for dataset, anchor in every_anchor(anchors):
        n_test = anchors.TEST_SIZES[dataset]
        row = anchor.to_dict(n_test)
        assert row["errors"] == round((1 - anchor.accuracy) * n_test)
        assert 0 <= row["errors"] <= n_test
        assert abs(row["errors"] - row["expected_errors"]) <= 0.5
        # Only one run on the same published test split gives an exact count.
        assert row["expected"] == (anchor.figure != "published_split")
        if not row["expected"]:
            assert row["expected_errors"] == row["errors"]


def test_known_figures_give_the_counts_read_off_their_sources(anchors):
    def errors(dataset, method, figure):
        (anchor,) = [
            a
            for a in anchors.anchors_for(dataset)
            if a.method == method and a.figure == figure
        ]
        return anchor.errors_on(anchors.TEST_SIZES[dataset])

    assert errors("osuleaf", "InceptionTime", "published_split") == 14  # 228/242
    assert errors("osuleaf", "MiniRocket", "mean_resamples") == 10
    assert errors("gunpoint", "ResNet", "mean_runs") == 1
    assert errors("basicmotions", "ROCKET", "published_split") == 0
    assert errors("sms_spam", "linear SVM, word tokens (tok1)", "other_split") == 25


def test_an_anchor_refuses_a_missing_source_a_percentage_or_a_bad_figure(anchors):
    anchor = anchors.Anchor
    with pytest.raises(ValueError, match="without a source"):
        anchor("FCN", 0.9, " ", "published_split")
    with pytest.raises(ValueError, match=r"Received accuracy 97.6 .*Divide"):
        anchor("FCN", 97.6, "a paper", "published_split")
    with pytest.raises(ValueError, match="figure kind 'median'"):
        anchor("FCN", 0.9, "a paper", "median")
    with pytest.raises(ValueError, match="repeats=1 .*more than 1 for a mean"):
        anchor("FCN", 0.9, "a paper", "mean_runs")
    with pytest.raises(ValueError, match="Received n_test=0"):
        anchor("FCN", 0.9, "a paper", "published_split").errors_on(0)


def test_the_section_puts_our_result_beside_each_anchor(anchors):
    rows = [
        {"dataset": "gunpoint", "n_test": 150, "ours_accuracy": 1.0, "ours_errors": 0},
        {"dataset": "cbf", "n_test": 900, "ours_accuracy": 0.9, "ours_errors": 90},
    ]
    section = "\n".join(anchors.render_anchors(rows))
    assert section.startswith("## Published anchors")
    assert "| gunpoint | 150 | 1.0000 | 0 | FCN | 1.0000 | ~0 |" in section
    assert "| InceptionTime | 1.0000 | 0 | one run on the published" in section
    assert "hfawaz/dl-4-tsc README.md" in section
    assert "cbf" not in section  # generated sets have no anchors
    assert "not found:" in section
    assert anchors.render_anchors(rows[1:]) == []


def test_the_sms_section_says_our_split_is_not_the_papers(anchors):
    row = {"dataset": "sms_spam", "n_test": 1066, "ours_accuracy": 0.98}
    section = "\n".join(anchors.render_anchors([{**row, "ours_errors": 21}]))
    assert "| ~25 |" in section
    assert "not the paper's split" in section


def test_the_quality_report_ends_with_the_anchors(anchors):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        quality = importlib.import_module("quality")
    row = {
        "dataset": "osuleaf",
        "split": "published train/test split",
        "n_train": 180,
        "n_val": 20,
        "n_test": 242,
        "ours_accuracy": 0.9091,
        "ours_f1_macro": 0.8955,
        "ours_errors": 22,
        "baseline": "1-NN Euclidean",
        "baseline_accuracy": 0.5207,
        "baseline_f1_macro": 0.5253,
        "baseline_errors": 116,
        "search_s": 600.0,
        "budget_s": 600.0,
        "budget_used": 1.0,
        "wall_s": 700.0,
        "trials": 4,
        "family": "cnn",
        "validation": None,
        "refit": None,
        "ensemble": None,
    }
    row["goals"] = quality.judge(row, quality.GOALS["osuleaf"])
    row["met"] = all(row["goals"].values())
    report = quality.render_report([row], budget=10.0)
    totals = report.index("Totals:")
    assert report.index("## Published anchors") > totals
    assert "| osuleaf | 242 | 0.9091 | 22 | FCN | 0.9770 | ~6 |" in report
