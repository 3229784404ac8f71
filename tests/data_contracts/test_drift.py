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


def _champion(counts: dict[int, int]) -> dict:
    return data_profile(_frame(counts), "label") | {"champion": "v0003"}


def test_a_label_the_champion_knows_missing_fails_and_says_how_to_fix():
    reference = _champion({0: 20, 1: 20, 2: 20, 3: 20})
    contract = DataContract(name="plain", kind="image")
    with pytest.raises(ContractViolation) as caught:
        validate_frame(_frame({0: 60, 1: 60}), contract, reference=reference)
    message = str(caught.value)
    assert "failed 1 of" in message
    assert (
        "champion_labels_present on 'label' (expected every label the champion "
        "v0003 knows; observed received labels ['0', '1'], the champion v0003 was "
        "trained on ['0', '1', '2', '3'], missing ['2', '3']; to fix: add the "
        "missing labels' data; or, for a deliberate change of classes, set "
        "'labels_vs_champion: warn'"
    ) in message
    assert "automl models promote --force" in message


def test_labels_vs_champion_warn_and_off_relax_the_check():
    reference = _champion({0: 20, 1: 20, 2: 20})
    two_classes = _frame({0: 60, 1: 60})
    warn = DataContract(name="plain", kind="image", labels_vs_champion="warn")
    report = validate_frame(two_classes, warn, reference=reference)
    assert report.success
    assert [w.expectation for w in report.warnings] == ["champion_labels_present"]
    assert "missing ['2']" in report.warnings[0].observed
    off = warn.model_copy(update={"labels_vs_champion": "off"})
    report = validate_frame(two_classes, off, reference=reference)
    assert not [o for o in report.outcomes if "champion" in o.expectation]


def test_a_label_the_champion_never_saw_only_warns():
    reference = _champion({0: 30, 1: 30})
    contract = DataContract(name="plain", kind="image")
    report = validate_frame(
        _frame({0: 30, 1: 30, 7: 30}), contract, reference=reference
    )
    assert report.success
    (warning,) = report.warnings
    assert warning.expectation == "labels_known_to_champion"
    assert warning.observed == (
        "new labels ['7']; the champion v0003 was trained on ['0', '1']"
    )
    present = next(
        o for o in report.outcomes if o.expectation == "champion_labels_present"
    )
    assert (
        present.success
        and present.observed == "every label the champion v0003 knows (2)"
    )


def test_many_labels_are_listed_briefly_in_natural_order():
    reference = data_profile(_frame({i: 2 for i in range(14)}), "label")
    contract = DataContract(name="plain", kind="image", min_classes=1)
    with pytest.raises(ContractViolation) as caught:
        validate_frame(_frame({0: 10}), contract, reference=reference)
    assert (
        "the champion was trained on ['0', '1', '2', '3', '4', '5', '6', '7', '8', "
        "'9', ... (14 in all)], missing ['1', '2'"
    ) in str(caught.value)
