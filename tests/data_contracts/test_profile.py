import numpy as np
import pandas as pd
import pytest

from data_contracts import (
    profile_arrays,
    profile_pixel_table,
    profile_sequences,
    profile_texts,
)
from data_contracts.profile import example_digests


def test_profile_arrays_has_one_row_per_example_with_stats():
    x = np.arange(2 * 2 * 2 * 1, dtype=float).reshape(2, 2, 2, 1)

    profile = profile_arrays(x, np.array([3, 5]))

    assert list(profile.columns) == [
        "label",
        "shape",
        "min",
        "max",
        "mean",
        "nan_count",
        "digest",
    ]
    assert profile["label"].tolist() == [3, 5]
    assert profile["shape"].tolist() == ["2x2x1", "2x2x1"]
    assert profile["min"].tolist() == [0.0, 4.0]
    assert profile["max"].tolist() == [3.0, 7.0]
    assert profile["mean"].tolist() == [1.5, 5.5]
    assert profile["nan_count"].tolist() == [0, 0]
    assert profile["digest"].nunique() == 2


def test_profile_arrays_ignores_and_counts_nan():
    x = np.ones((3, 2, 2))
    x[0, 0, 0] = np.nan
    x[0, 1, 1] = 5.0
    x[1] = np.nan

    profile = profile_arrays(x, None)

    assert "label" not in profile.columns
    assert profile["nan_count"].tolist() == [1, 4, 0]
    assert profile.loc[0, "min"] == 1.0
    assert profile.loc[0, "max"] == 5.0
    assert profile.loc[0, "mean"] == pytest.approx(7 / 3)
    assert profile.loc[1, ["min", "max", "mean"]].isna().all()


def test_profile_arrays_keeps_each_shape_of_ragged_examples():
    profile = profile_arrays([np.ones((12, 3)), np.zeros((9, 3))], ["a", "b"])

    assert profile["shape"].tolist() == ["12x3", "9x3"]
    assert profile["label"].tolist() == ["a", "b"]
    assert profile["max"].tolist() == [1.0, 0.0]


def test_profile_arrays_counts_non_numeric_values_as_nan():
    profile = profile_arrays(np.array([["a", "b", "c"], ["d", "e", "f"]]), None)

    assert profile["nan_count"].tolist() == [3, 3]
    assert profile["min"].isna().all()


def test_profile_arrays_of_no_examples_is_an_empty_table():
    profile = profile_arrays(np.zeros((0, 8, 8, 1)), np.zeros(0, dtype=int))

    assert len(profile) == 0
    assert list(profile.columns) == [
        "label",
        "shape",
        "min",
        "max",
        "mean",
        "nan_count",
        "digest",
    ]


def test_profile_arrays_rejects_labels_that_do_not_match_examples():
    with pytest.raises(
        ValueError, match=r"expected one label per example, shape \(4,\)"
    ):
        profile_arrays(np.zeros((4, 2)), np.zeros((4, 3)))


def test_profile_pixel_table_matches_profile_arrays(images):
    x, y = images
    frame = pd.DataFrame(x.reshape(len(x), -1), columns=[f"p{i}" for i in range(64)])
    frame.insert(0, "digit", y)

    profile = profile_pixel_table(frame, "digit", [8, 8, 1])

    expected = profile_arrays(x, y, label="digit")
    pd.testing.assert_frame_equal(profile, expected, check_dtype=False)


def test_profile_pixel_table_without_label_column_leaves_it_out():
    frame = pd.DataFrame({"p0": [1, 2], "p1": [3, 4]})

    profile = profile_pixel_table(frame, "label", [2])

    assert "label" not in profile.columns
    assert profile["shape"].tolist() == ["2", "2"]


def test_profile_pixel_table_reports_wrong_column_count_as_shape():
    frame = pd.DataFrame({"label": [0, 1], "p0": [1, 2], "p1": [3, 4], "p2": [5, 6]})

    profile = profile_pixel_table(frame, "label", [2, 2, 1])

    assert profile["shape"].tolist() == ["3 values", "3 values"]


def test_profile_pixel_table_counts_non_numeric_cells_as_nan():
    frame = pd.DataFrame({"label": ["a", "b"], "p0": ["1", "oops"], "p1": [2.0, 3.0]})

    profile = profile_pixel_table(frame, "label", [2])

    assert profile["nan_count"].tolist() == [0, 1]
    assert profile["min"].tolist() == [1.0, 3.0]
    assert profile["label"].tolist() == ["a", "b"]


def test_profile_pixel_table_counts_dates_and_missing_dates_as_nan():
    # Regression: dates became nanoseconds, and a missing one (NaT) -9.2e18,
    # so it passed the no-NaN expectation.
    frame = pd.DataFrame(
        {"label": [0, 1], "p0": [1, 2], "p1": pd.to_datetime(["2020-01-01", None])}
    )

    profile = profile_pixel_table(frame, "label", [2])

    assert profile["nan_count"].tolist() == [1, 1]
    assert profile["max"].tolist() == [1.0, 2.0]


def test_profile_sequences_of_ragged_series_profiles_each_one():
    # Regression: numpy refused the ragged list ("inhomogeneous shape").
    profile = profile_sequences([np.ones((2, 1)), np.ones((3, 1))], ["a", "b"])

    assert profile["shape"].tolist() == ["2x1", "3x1"]
    assert profile["label"].tolist() == ["a", "b"]


@pytest.mark.parametrize("shape", [(2, 0, 1), (0, 3, 1), (0, 0, 1)])
def test_profile_sequences_without_steps_or_examples(shape):
    # Regression: argmax over zero steps, and reshape(0, -1), raised ValueError.
    labels = np.zeros(shape[0], dtype=int)

    profile = profile_sequences(np.zeros(shape), labels)

    assert len(profile) == shape[0]
    assert (profile["length"] == 0).all()


def test_example_digests_are_the_profile_digests_for_every_kind():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 16, (5, 4, 4, 1))
    images[3] = images[1]
    assert example_digests(images.astype("float32")) == (
        profile_arrays(images.astype("float32"), None)["digest"].tolist()
    )
    series = rng.normal(size=(4, 6, 2)).astype("float32")
    series[0, 4:] = np.nan  # padding
    assert example_digests(series) == profile_sequences(series, None)["digest"].tolist()
    ragged = [np.ones((3, 2)), np.zeros((5, 2)), np.ones((3, 2))]
    digests = example_digests(ragged)
    assert digests == profile_arrays(ragged, None)["digest"].tolist()
    assert digests[0] == digests[2] != digests[1]
    texts = pd.Series(["hi", "free prize", "hi", None])
    examples = texts.astype(str).to_numpy(dtype=object)  # what to_examples makes
    assert example_digests(examples) == profile_texts(texts, None)["digest"].tolist()


def test_a_float64_table_and_its_float32_examples_share_digests():
    """Pixel rows in a table are float64; the pipeline trains on float32."""
    frame = pd.DataFrame({"p0": [0.1, 0.2, 0.1], "p1": [1e30, 3.0, 1e30]})
    frame["label"] = [0, 1, 0]
    profile = profile_pixel_table(frame, "label", [2, 1])
    pixels = frame[["p0", "p1"]].to_numpy().astype("float32").reshape(-1, 2, 1)
    assert example_digests(pixels) == profile["digest"].tolist()
    assert profile["digest"].nunique() == 2
