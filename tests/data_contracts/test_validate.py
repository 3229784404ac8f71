"""validate_frame with real Great Expectations: one passing and each failing case."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from data_contracts import (
    ContractViolation,
    builtin_contract,
    default_contract,
    profile_arrays,
    profile_pixel_table,
    validate_frame,
)


def test_valid_data_passes(images, contract):
    report = validate_frame(profile_arrays(*images), contract)

    assert report.success
    assert report.failed == 0
    assert report.evaluated == 11
    assert report.data_docs is None
    assert "passed: 11 of 11 expectations met" in report.summary()
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["success"]


def test_missing_label_column_fails_once_for_the_column(images, contract):
    x, _ = images

    with pytest.raises(ContractViolation) as caught:
        validate_frame(profile_arrays(x, None), contract)

    message = str(caught.value)
    assert message.startswith("Data contract 'tiny' failed 5 of 11 expectations: ")
    assert (
        "expect_column_to_exist on 'label' (column not found; "
        "expect_column_values_to_not_be_null, expect_column_values_to_be_in_set"
    ) in message
    assert message.count("column not found") == 1
    assert "Fix the data or the contract (tests/tiny.yaml), then run again." in message


def test_nan_in_an_image_names_nan_count_and_the_row(images, contract):
    x, y = images
    x[3, 0, 0, 0] = np.nan

    with pytest.raises(
        ContractViolation,
        match=r"failed 1 of 11 .*expect_column_values_to_be_between on 'nan_count' "
        r"\(expected values in \[0, 0\]; observed 1 of 48 rows unexpected; "
        r"sample bad values: \[1\]; at rows \[3\]\)",
    ):
        validate_frame(profile_arrays(x, y), contract)


def test_value_out_of_range_shows_the_bad_values(images, contract):
    x, y = images
    x[2, 1, 1, 0] = 99.0
    x[5, 1, 1, 0] = -3.0

    with pytest.raises(ContractViolation) as caught:
        validate_frame(profile_arrays(x, y), contract)

    message = str(caught.value)
    assert (
        "expect_column_values_to_be_between on 'max' (expected values <= 16; "
        "observed 1 of 48 rows unexpected; sample bad values: [99.0]; at rows [2])"
    ) in message
    assert "on 'min' (expected values >= 0;" in message
    assert "sample bad values: [-3.0]" in message


def test_label_outside_the_set_is_named(images, contract):
    x, y = images
    y[[0, 1]] = 7

    with pytest.raises(
        ContractViolation,
        match=r"expect_column_values_to_be_in_set on 'label' \(expected values in "
        r"\[0, 1, 2\]; observed 2 of 48 rows unexpected; sample bad values: \[7\]",
    ):
        validate_frame(profile_arrays(x, y), contract)


def test_a_single_class_is_not_enough(images, contract):
    x, _ = images

    with pytest.raises(
        ContractViolation,
        match=r"expect_column_unique_value_count_to_be_between on 'label' \(expected "
        r"at least 2 distinct values; observed 1; sample bad values: \[0\]\)",
    ):
        validate_frame(profile_arrays(x, np.zeros(48, dtype=int)), contract)


def test_too_few_rows(images, contract):
    x, y = images

    with pytest.raises(
        ContractViolation,
        match=r"expect_table_row_count_to_be_between \(expected at least 10 rows; "
        r"observed 6\)",
    ):
        validate_frame(profile_arrays(x[::8], y[::8]), contract)


def test_too_few_examples_per_class_names_the_class(images, contract):
    x, y = images
    keep = np.r_[0:16, 16:19, 32:48]

    with pytest.raises(
        ContractViolation,
        match=r"failed 1 of 11 .*on 'examples_in_class' \(expected at least 5 rows "
        r"per class; observed classes with too few rows: 1 \(3 rows\); "
        r"sample bad values: \[1\]; at rows \[16, 17, 18\]\)",
    ):
        validate_frame(profile_arrays(x[keep], y[keep]), contract)


def test_wrong_shape(images, contract):
    x, y = images

    with pytest.raises(
        ContractViolation,
        match=r"expect_column_values_to_be_in_set on 'shape' \(expected values in "
        r"\['8x8x1'\]; observed 48 of 48 rows unexpected; "
        r"sample bad values: \['7x8x1'\]",
    ):
        validate_frame(profile_arrays(x[:, 1:], y), contract)


def test_inconsistent_shapes_fail_the_default_contract(images):
    x, y = images
    examples = [*x[:-1], x[-1, :4]]
    contract = default_contract("tiny", "image")

    with pytest.raises(
        ContractViolation,
        match=r"expect_column_unique_value_count_to_be_between on 'shape' \(expected "
        r"exactly 1 distinct value; observed 2; "
        r"sample bad values: \['4x8x1', '8x8x1'\]\)",
    ):
        validate_frame(profile_arrays(examples, y), contract)


def test_pixel_table_with_a_text_cell_fails_the_nan_check(images, contract):
    x, y = images
    frame = pd.DataFrame(x.reshape(48, -1)).rename(columns=str).astype(object)
    frame.insert(0, "label", y)
    frame.iloc[4, 10] = "n/a"

    with pytest.raises(ContractViolation, match=r"on 'nan_count' .* at rows \[4\]"):
        validate_frame(profile_pixel_table(frame, "label", [8, 8, 1]), contract)


def test_failed_validation_keeps_data_docs_and_a_json_report(
    images, contract, tmp_path
):
    x, y = images
    x[0, 0, 0, 0] = np.nan
    docs = tmp_path / "data_docs"

    with pytest.raises(ContractViolation) as caught:
        validate_frame(profile_arrays(x, y), contract, data_docs_dir=docs)

    report = caught.value.report
    assert report.data_docs == str(docs / "index.html")
    assert (docs / "index.html").is_file()
    assert list((docs / "validations").rglob("*.html"))
    assert str(caught.value).endswith(f"Data Docs: {docs / 'index.html'}")
    as_json = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert as_json["failed"] == 1
    assert as_json["outcomes"][7]["sample_bad_values"] == [1]


def test_builtin_digits_contract_accepts_sklearn_digits(tmp_path):
    digits = load_digits()
    profile = profile_arrays(digits.images[..., None], digits.target)

    report = validate_frame(profile, builtin_contract("digits"), tmp_path / "docs")

    assert report.success
    # 11 checks of the data, plus class balance and duplicates.
    assert report.evaluated == 13
    assert (tmp_path / "docs" / "index.html").is_file()
