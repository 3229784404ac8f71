import math

import numpy as np
import pytest
from sklearn.metrics import classification_report, f1_score

from tasks.evaluate import evaluate_predictions, mcnemar_p_value


def test_metrics_follow_the_design_keys_and_scikit_learn():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    metrics = evaluate_predictions(y_true, y_pred, ["ham", "spam", "eggs"])
    assert set(metrics.to_dict()) == {
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "f1_weighted",
        "labels",
        "per_class",
        "confusion_matrix",
        "n_test",
    }
    assert metrics.accuracy == pytest.approx(4 / 6)
    assert metrics.f1_macro == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert metrics.per_class["spam"]["precision"] == pytest.approx(2 / 3)
    assert metrics.per_class["eggs"]["support"] == 2
    assert metrics.confusion_matrix == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.n_test == 6


def test_a_class_never_predicted_scores_zero_not_an_error():
    metrics = evaluate_predictions(np.array([0, 1, 2]), np.array([0, 0, 0]), [0, 1, 2])
    assert metrics.per_class["1"]["precision"] == 0.0
    assert metrics.recall_macro == pytest.approx(1 / 3)


def test_per_class_scores_match_scikit_learns_classification_report():
    y_true = np.array([0, 0, 1, 1, 2, 2, 3])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 0])  # class 3 is never predicted
    labels = ["ham", "spam", 7, "eggs"]
    metrics = evaluate_predictions(y_true, y_pred, labels)
    report = classification_report(
        y_true,
        y_pred,
        labels=range(4),
        target_names=[str(label) for label in labels],
        output_dict=True,
        zero_division=0,
    )
    for label, scores in metrics.per_class.items():
        expected = report[label]
        assert scores == pytest.approx(
            {
                "precision": expected["precision"],
                "recall": expected["recall"],
                "f1": expected["f1-score"],
                "support": expected["support"],
            }
        )
    assert metrics.f1_macro == pytest.approx(report["macro avg"]["f1-score"])
    assert metrics.f1_weighted == pytest.approx(report["weighted avg"]["f1-score"])


def _pairs(only_first: int, only_second: int, both: int = 5):
    """Per-example correctness of two models with the given discordant counts."""
    first = [True] * only_first + [False] * only_second + [True] * both
    second = [False] * only_first + [True] * only_second + [True] * both
    return np.array(first), np.array(second)


@pytest.mark.parametrize(
    "only_first, only_second",
    [(0, 0), (3, 0), (0, 3), (7, 2), (10, 10), (12, 3), (1, 30), (700, 640)],
)
def test_mcnemar_p_value_is_the_exact_two_sided_binomial_tail(only_first, only_second):
    p_value = mcnemar_p_value(*_pairs(only_first, only_second))
    n, k = only_first + only_second, min(only_first, only_second)
    tail = sum(math.comb(n, i) for i in range(k + 1))  # exact integers
    expected = 1.0 if n == 0 else min(1.0, 2 * tail / 2**n)
    assert p_value == pytest.approx(expected, rel=1e-9)


def test_mcnemar_p_value_is_symmetric_and_ignores_agreement():
    first, second = _pairs(9, 2, both=0)
    assert mcnemar_p_value(first, second) == mcnemar_p_value(second, first)
    more_agreement = _pairs(9, 2, both=500)
    assert mcnemar_p_value(*more_agreement) == mcnemar_p_value(first, second)
    assert mcnemar_p_value(*_pairs(9, 2)) == pytest.approx(2 * 67 / 2**11)
