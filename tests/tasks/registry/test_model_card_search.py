"""The model card's search lines: validation scheme, training, refit, ensemble."""

from tasks.registry.model_card import _plan_lines


def test_a_cross_validated_refit_ensemble_is_described():
    search = {
        "validation": {"kind": "kfold", "folds": 5, "reason": "5-fold on 50"},
        "training": {"epochs": 500, "patience": 50, "batch_size": 8},
        "refit": {"mode": "auto", "ran": True, "examples": 50, "seconds": 12.4},
        "ensemble": [
            {"trial": "02", "family": "cnn", "seed": 0},
            {"trial": "02", "family": "cnn", "seed": 1},
            {"trial": "05", "family": "lstm", "seed": 2},
        ],
    }
    assert _plan_lines(search) == [
        "- Validation: 5-fold on 50",
        "- Training: up to 500 epochs, patience 50, batch 8",
        "- Refit on 50 train+validation examples (12 s)",
        "- Ensemble (mean of probabilities): trial 02 (cnn, seed 0), "
        "trial 02 (cnn, seed 1), trial 05 (lstm, seed 2)",
    ]


def test_one_checkpoint_without_refit_is_named_as_the_model():
    search = {
        "refit": {"mode": "auto", "ran": False},
        "ensemble": [{"trial": "3", "family": "ngram", "seed": None}],
    }
    assert _plan_lines(search) == ["- Model: trial 3 (ngram)"]


def test_records_from_before_the_plan_add_no_lines():
    assert _plan_lines({"tuner": "random"}) == []
