"""Bootstrapped contracts describe the reference data: it passes, damage fails."""

import numpy as np
import pandas as pd
import pytest

from data_contracts import (
    ContractViolation,
    contract_yaml,
    infer_contract,
    load_contract,
    profile_arrays,
    profile_sequences,
    profile_texts,
    validate_frame,
)


def test_image_contract_pins_labels_shape_and_range(images, tmp_path):
    x, y = images
    contract = infer_contract(profile_arrays(x, y), "tiny", "image")
    assert contract.labels == [0, 1, 2]
    assert contract.example_shape == [8, 8, 1]
    assert (contract.min_value, contract.max_value) == (0.0, 16.0)
    assert contract.min_classes == 3 and contract.min_examples_per_class == 8
    assert contract.drift is not None and contract.drift.action == "fail"
    path = tmp_path / "tiny.yaml"
    path.write_text(contract_yaml(contract, "reviewed by nobody yet"))
    reloaded = load_contract(path)
    assert path.read_text().startswith("# reviewed by nobody yet\n")
    validate_frame(profile_arrays(x, y), reloaded)
    x[3, 0, 0, 0] = 99
    with pytest.raises(ContractViolation, match=r"on 'max'.*\[99"):
        validate_frame(profile_arrays(x, y), reloaded)


def test_sequence_contract_pins_features_and_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 10, 3))
    x[::4, 7:] = np.nan  # padding: shorter series
    y = np.repeat(["a", "b"], 10)
    contract = infer_contract(profile_sequences(x, y), "seq", "sequence")
    assert contract.num_features == 3 and contract.max_length == 10
    assert contract.min_length == 3
    validate_frame(profile_sequences(x, y), contract)
    wider = np.concatenate([x, x[..., :1]], axis=-1)
    with pytest.raises(ContractViolation, match=r"on 'features'"):
        validate_frame(profile_sequences(wider, y), contract)


def test_text_table_contract_declares_its_columns():
    table = pd.DataFrame(
        {"body": [f"message number {i}" for i in range(12)], "tag": ["x", "y"] * 6}
    )
    frame = profile_texts(table["body"], table["tag"], label="tag")
    contract = infer_contract(frame, "texts", "text", label="tag", table=table)
    assert set(contract.columns) == {"body", "tag"}
    assert contract.columns["body"].type == "string"
    assert not contract.allow_extra_columns
    validate_frame(frame, contract, table=table)
    with pytest.raises(ContractViolation, match="expect_table_columns_to_match_set"):
        validate_frame(frame, contract, table=table.assign(extra=1))


def test_duplicates_warn_with_their_count_and_their_split(images):
    x, y = images
    contract = infer_contract(profile_arrays(x, y), "tiny", "image")
    assert contract.duplicates == "warn" and contract.max_duplicate_fraction == 0.0
    copies = np.concatenate([x, x[:6], x[:2]]), np.concatenate([y, y[:6], y[:2]])

    report = validate_frame(profile_arrays(*copies), contract)

    assert report.success
    (warning,) = report.warnings
    assert warning.column == "duplicate"
    assert warning.observed.startswith(
        "8 duplicates (14.3%), copies of 6 distinct examples; splits are by "
        "content digest, so each example and its copies are kept in one split"
    )
    assert "warning: expect_column_values_to_be_in_set on 'duplicate'" in (
        report.summary()
    )


def test_class_imbalance_beyond_the_limit_names_the_small_class(images):
    x, y = images
    contract = infer_contract(profile_arrays(x, y), "tiny", "image")
    keep = (y != 2) | (np.arange(len(y)) % 8 == 0)  # class 2 down to 2 of 16
    with pytest.raises(
        ContractViolation, match=r"class_ratio.*too small.*2 \(2 rows\)"
    ):
        validate_frame(
            profile_arrays(x[keep], y[keep]),
            contract.model_copy(update={"min_examples_per_class": 1}),
        )
