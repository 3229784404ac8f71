"""Drift: label shares and profile statistics against the champion's data."""

import numpy as np
import pytest

from data_contracts import (
    ContractViolation,
    DataContract,
    DriftThresholds,
    data_profile,
    profile_arrays,
    validate_frame,
)
from data_contracts.drift import population_stability_index


def _frame(counts: dict[int, int], brightness: float = 8.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.concatenate([[label] * n for label, n in counts.items()])
    x = rng.normal(brightness, 2.0, size=(len(y), 4, 4, 1))
    return profile_arrays(x, y)


def _contract(action: str = "fail", **thresholds) -> DataContract:
    return DataContract(
        name="drifty",
        kind="image",
        drift=DriftThresholds(action=action, **thresholds),
    )


def test_same_distribution_passes_every_drift_check():
    reference = data_profile(_frame({0: 40, 1: 40, 2: 40}), "label")
    report = validate_frame(
        _frame({0: 40, 1: 40, 2: 40}, seed=1), _contract(), reference=reference
    )
    drift = [o for o in report.outcomes if "drift" in o.expectation]
    assert {o.expectation for o in drift} == {
        "label_distribution_drift",
        "feature_distribution_drift",
    }
    assert all(o.success for o in drift)


def test_shifted_labels_fail_and_say_which_moved_by_how_much():
    reference = data_profile(_frame({0: 40, 1: 40, 2: 40}), "label")
    shifted = _frame({0: 80, 1: 10, 2: 30})
    with pytest.raises(ContractViolation) as caught:
        validate_frame(shifted, _contract(), reference=reference)
    message = str(caught.value)
    assert "label_distribution_drift on 'label'" in message
    assert "'0' 33.3% -> 66.7% (+33.3 pts)" in message
    assert "'1' 33.3% -> 8.3% (-25.0 pts)" in message
    assert "within 10 pts" in message


def test_warn_action_reports_drift_without_stopping():
    reference = data_profile(_frame({0: 40, 1: 40, 2: 40}), "label")
    report = validate_frame(
        _frame({0: 80, 1: 10, 2: 30}), _contract("warn"), reference=reference
    )
    assert report.success
    assert [w.expectation for w in report.warnings] == ["label_distribution_drift"]
    assert "warning: label_distribution_drift" in report.summary()


def test_shifted_pixel_statistics_fail_the_feature_psi():
    reference = data_profile(_frame({0: 60, 1: 60}), "label")
    brighter = _frame({0: 60, 1: 60}, brightness=12.0, seed=1)
    with pytest.raises(
        ContractViolation, match=r"feature_distribution_drift on 'mean'"
    ):
        validate_frame(brighter, _contract(label_shift=None), reference=reference)


def test_population_stability_index_is_zero_for_equal_shares():
    assert population_stability_index([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert population_stability_index([0.5, 0.5], [0.9, 0.1]) > 0.25


def test_no_thresholds_no_drift_outcomes():
    reference = data_profile(_frame({0: 40, 1: 40}), "label")
    contract = DataContract(name="plain", kind="image")
    report = validate_frame(_frame({0: 70, 1: 10}), contract, reference=reference)
    assert not [o for o in report.outcomes if "drift" in o.expectation]
