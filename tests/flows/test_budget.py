"""The time budget, end to end: a 2-minute search ends on time and publishes.

Slow (over two minutes), so it runs in `make test-slow`, which `.ci/run` runs
after `make test`.
"""

import json
from pathlib import Path

import pytest

from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline

BUDGET_SECONDS = 120.0


@pytest.mark.slow
def test_a_two_minute_budget_ends_the_search_on_time_and_publishes(
    prefect_harness, tmp_path
):
    config = PipelineConfig(
        name="digits",
        data={"source": "sklearn:digits", "kind": "image"},
        # Many long trials that never stop early: only the budget can end it.
        search={
            "tuner": "random",
            "validation": "holdout",
            "max_trials": 500,
            "epochs": 500,
            "patience": 500,
            "time_budget_minutes": BUDGET_SECONDS / 60,
        },
        output_dir=str(tmp_path),
    )
    result = automl_pipeline(config)
    version = Path(result.publish.path)
    search = json.loads((version / "search.json").read_text())
    assert search["stopped_by_budget"]
    # Between 2:00 and 2:06; an epoch of these models takes well under a second.
    assert BUDGET_SECONDS <= search["seconds"] <= BUDGET_SECONDS * 1.05
    assert (version / "model.keras").is_file()
    assert result.metrics["accuracy"] > 0.9
