"""What a version folder holds besides its model and metrics: the run's record.

`describe_run` sums up the run (data, contract, splits, search, the champion
comparison, lineage) once;
`version_documents` lays it out as the files `tasks.publish.publish_version`
writes next to `model.keras` and `metrics.json`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.registry.model_card import RunRecord, model_card_data
from tasks.registry.run_data import data_fingerprint
from tasks.split import SPLITS_FILE
from tasks.validate import DATA_PROFILE_FILE

if TYPE_CHECKING:
    import pandas as pd

    from data_contracts import ValidationReport
    from tasks.evaluate import Metrics
    from tasks.load import RawData
    from tasks.preprocess import Preprocessing
    from tasks.registry.rescore import ChampionComparison
    from tasks.search import SearchResult
    from tasks.split import Splits


def describe_run(
    config: dict,
    run_dir: Path,
    flow_run_id: str | None,
    raw: RawData,
    report: ValidationReport,
    splits: Splits,
    preprocessing: Preprocessing,
    search: SearchResult,
    comparison: ChampionComparison | None = None,
) -> RunRecord:
    """Sum up a run for its version folder and model card.

    Args:
        config: the pipeline config as JSON (`PipelineConfig.model_dump(mode="json")`).
        run_dir: the run's folder, named by the run's id.
        flow_run_id: the Prefect flow run's id, when there is one.
        raw: the data as loaded.
        report: the data contract's result.
        splits: the train, validation and test splits.
        preprocessing: the fitted preprocessing (for the input shape).
        search: the search's result.
        comparison: the champion and the candidate on the same unseen test
            examples (`tasks.registry.rescore`), None without a champion.
    """
    run_id = run_dir.name
    config_hash = hashlib.sha256(
        json.dumps(config, sort_keys=True).encode()
    ).hexdigest()[:16]
    return RunRecord(
        name=config["name"],
        run_id=run_id,
        config=config,
        data={
            "source": config["data"]["source"],
            "kind": config["data"]["kind"],
            "num_rows": raw.num_rows,
            "input_shape": list(preprocessing.input_shape),
            "num_train": len(splits.x_train),
            "num_validation": len(splits.x_val),
            "num_test": len(splits.x_test),
            "duplicates": splits.duplicates,
        },
        validation=report.to_dict(),
        search={
            "tuner": config["search"]["tuner"],
            "families": search.families,
            "num_trials": len(search.leaderboard),
            "seconds": search.seconds,
            "stopped_by_budget": search.stopped_by_budget,
            "objective": search.objective,
            "best_score": search.best_score,
            "hyperparameters": search.hyperparameters,
            "train": search.train,
            "training": search.plan.get("training"),
            "validation": search.plan.get("validation"),
            "refit": {"mode": config["search"].get("refit"), **search.refit},
            "ensemble": search.ensemble,
            "recipe": search.recipe,
        },
        leaderboard=search.leaderboard,
        lineage={
            "run_id": run_id,
            "flow_run_id": flow_run_id,
            "config_hash": config_hash,
            # The run's (run.json): every example's digest, label and split.
            "data_fingerprint": data_fingerprint(splits),
            "run_dir": str(run_dir),
        },
        data_profile=report.data_profile,
        split_membership=splits.membership(),
        comparison=None if comparison is None else comparison.to_dict(),
    )


def version_documents(
    record: RunRecord, metrics: Metrics, card: str
) -> dict[str, str | dict | list | pd.DataFrame]:
    """The files a version holds besides the model and `metrics.json`.

    Args:
        record: the run, from `describe_run`.
        metrics: the test-split metrics.
        card: the rendered model card (`render_model_card`).
    """
    documents = {
        "config.json": record.config,
        "hparams.json": record.search["hyperparameters"],
        "validation.json": record.validation,
        "leaderboard.csv": leaderboard_rows(record.leaderboard),
        "search.json": record.search,
        "data.json": record.data,
        "model_card.md": card,
        "model_card.json": model_card_data(record, metrics),
        DATA_PROFILE_FILE: record.data_profile,
        "lineage.json": record.lineage,
    }
    if record.split_membership is not None:
        documents[SPLITS_FILE] = record.split_membership
    return documents


def leaderboard_rows(leaderboard: list[dict]) -> list[dict]:
    """Flat rows for `leaderboard.csv`: hyperparameters as one JSON cell."""
    return [
        {**row, "hyperparameters": json.dumps(row["hyperparameters"], sort_keys=True)}
        for row in leaderboard
    ]
