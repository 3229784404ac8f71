"""Values beyond float32's reach fail the contract, named by column or position."""

import numpy as np
import pandas as pd
import pytest

from data_contracts import (
    ContractViolation,
    default_contract,
    profile_arrays,
    profile_pixel_table,
    validate_frame,
)
from data_contracts.magnitude import array_magnitudes
from tasks.load import load_dataset
from tasks.validate import validate_data


def _pixels(rows: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        rng.integers(0, 17, size=(rows, 4)).astype(float),
        columns=["p0", "p1", "p2", "p3"],
    )
    return table.assign(label=np.tile(["a", "b", "c"], rows // 3))


def _validate_table(table: pd.DataFrame, **fields):
    contract = default_contract("px", "image", example_shape=[2, 2, 1])
    contract = contract.model_copy(update=fields)
    frame = profile_pixel_table(table, "label", [2, 2, 1])
    return validate_frame(frame, contract, table=table)


def test_a_pixel_column_holding_1e30_fails_naming_the_column():
    table = _pixels()
    table.loc[4, "p2"] = 1e30

    with pytest.raises(ContractViolation) as caught:
        _validate_table(table)

    message = str(caught.value)
    assert "on 'magnitude' (expected finite values within +-1e+18" in message
    assert "observed 1 of 12 rows unexpected: 1e+30 in column 'p2', row 4" in message
    assert "overflows float32" in message


def test_an_infinite_pixel_fails_even_where_nan_is_allowed():
    table = _pixels()
    table.loc[7, "p0"] = -np.inf

    with pytest.raises(ContractViolation, match=r"inf in column 'p0', row 7"):
        _validate_table(table, allow_nan=True)


def test_values_within_the_bound_pass_and_the_bound_is_a_setting():
    table = _pixels()
    table.loc[1, "p1"] = 1e17

    assert _validate_table(table).success
    with pytest.raises(ContractViolation, match=r"within \+-100 .*column 'p1', row 1"):
        _validate_table(table, max_abs_value=100)


def test_an_npz_holding_1e30_names_the_example_and_position(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, size=(12, 4, 4, 1)).astype("float64")
    x[5, 1, 2, 0] = 1e30
    np.savez(tmp_path / "data.npz", x=x, y=np.tile([0, 1, 2], 4))
    raw = load_dataset(str(tmp_path / "data.npz"), kind="image")

    with pytest.raises(
        ContractViolation, match=r"1e\+30 in example 5, position \(1, 2, 0\)"
    ):
        validate_data(raw, default_contract("npz", "image"), data_docs_dir=None)


def test_sequences_name_step_and_feature_and_padding_is_not_a_value(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6, 2))
    x[::2, 4:] = np.nan  # end padding: shorter series
    np.savez(tmp_path / "data.npz", x=x, y=np.tile(["up", "down"], 6))
    raw = load_dataset(str(tmp_path / "data.npz"), kind="sequence")
    contract = default_contract("seq", "sequence")
    assert validate_data(raw, contract, data_docs_dir=None).success

    x[3, 2, 1] = np.inf
    np.savez(tmp_path / "data.npz", x=x, y=np.tile(["up", "down"], 6))
    raw = load_dataset(str(tmp_path / "data.npz"), kind="sequence")
    with pytest.raises(ContractViolation, match=r"inf in example 3, step 2, feature 1"):
        validate_data(
            raw, contract.model_copy(update={"allow_nan": True}), data_docs_dir=None
        )


def test_a_kept_test_split_names_its_own_examples(tmp_path):
    x = np.zeros((9, 2, 2, 1))
    x_test = np.zeros((6, 2, 2, 1))
    x_test[4, 0, 1, 0] = -3e20
    np.savez(
        tmp_path / "data.npz",
        x_train=x,
        y_train=np.tile([0, 1, 2], 3),
        x_test=x_test,
        y_test=np.tile([0, 1, 2], 2),
    )
    raw = load_dataset(str(tmp_path / "data.npz"), kind="image")

    with pytest.raises(
        ContractViolation, match=r"3e\+20 in test example 4, position \(0, 1, 0\)"
    ):
        validate_data(raw, default_contract("kept", "image"), data_docs_dir=None)


def test_a_bare_profile_falls_back_to_its_min_and_max(images, contract):
    x, y = images
    x[6, 0, 0, 0] = 1e30

    with pytest.raises(
        ContractViolation,
        match=r"on 'magnitude' .*sample bad values: \[1e\+30\]; at rows \[6\]",
    ):
        validate_frame(
            profile_arrays(x, y), contract.model_copy(update={"max_value": None})
        )


def test_array_magnitudes_of_ragged_series():
    series = [np.ones((3, 2)), np.array([[1.0, np.nan], [2.0, -np.inf]])]

    found = array_magnitudes(series, 1e18, kind="sequence")

    assert found["magnitude"].tolist() == [1.0, np.inf]
    assert found["magnitude_at"].tolist() == [None, "example 1, step 1, feature 1"]
