"""The `automl` flow: load -> validate -> split -> preprocess -> augment -> search
-> evaluate -> publish. Wiring only; every stage lives in `tasks/`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from data_contracts import ValidationReport
from flows.artifacts import (
    SearchProgressArtifact,
    publish_artifacts,
)
from flows.config import PipelineConfig
from flows.prepare import SearchInputs, prepare_search, search_models
from tasks.errors import ConfigError
from tasks.evaluate import Metrics, evaluate_model_task
from tasks.publish import PublishResult, publish_version_task
from tasks.readers import array_sample
from tasks.registry.documents import describe_run, version_documents
from tasks.registry.model_card import render_model_card
from tasks.registry.prepared import write_prepared
from tasks.registry.rescore import rescore_champion_task
from tasks.registry.retry import already_published
from tasks.registry.run_data import record_data
from tasks.registry.runs import continued_run, finish_run, start_run
from tasks.search import SearchResult
from tasks.tensorboard_logs import write_final_logs_task
from tasks.tuning.distributed.role import DistributedSearch, ensure_new_search
from tasks.tuning.progress import listening


@dataclass(frozen=True)
class PipelineResult:
    """What a run produced: the published version, its metrics, its run folder."""

    publish: PublishResult
    metrics: dict
    run_dir: str
    tensorboard_dir: str
    contract_summary: str = ""


@flow(name="automl", log_prints=True)
def automl_pipeline(
    config: PipelineConfig,
    distributed: DistributedSearch | None = None,
    resume: str | None = None,
) -> PipelineResult:
    """Train, evaluate and publish the best model for one pipeline config.

    With `distributed` (a chief's part), the search's trials run on workers
    (`flows.worker`) and this flow serves them; the rest is the same. With
    `resume` (a run id), an interrupted run goes on where it stopped: its
    finished trials are kept and its running trial continues from its last
    finished epoch. A retry of this flow run by Prefect resumes the same way.
    """
    logger = get_run_logger()
    config_json = config.model_dump(mode="json")
    run_dir = _run_folder(config, config_json, distributed, resume)
    run_id = run_dir.name
    start_run(run_dir, run_id, config_json, flow_run.id)
    logger.info("run %s: outputs in %s", run_id, run_dir)
    if earlier := already_published(run_dir):  # Prefect retried a run that published
        return PipelineResult(*earlier, str(run_dir), str(run_dir / "tensorboard"))

    inputs = prepare_search(config, data_docs_dir=run_dir / "data_docs")
    if distributed is not None:  # before the record: workers wait for it, then read
        write_prepared(run_dir, inputs.splits, inputs.preprocessing, inputs.report)
    record_data(run_dir, inputs.splits, new_search=distributed is not None)
    report, splits = inputs.report, inputs.splits
    progress = SearchProgressArtifact(config.name, config.search.max_trials)
    with listening(progress):
        search = search_models(config, inputs, run_dir, distributed)
    progress.finish(len(search.leaderboard), search.best_score)
    metrics = evaluate_model_task(
        search.model, splits.x_test, splits.y_test, splits.labels
    )
    logger.info("test metrics: %s", metrics.headline())
    write_final_logs_task(run_dir / "tensorboard" / "final", metrics.to_dict())

    published, card = publish_candidate(config, inputs, search, metrics, run_dir)
    finish_run(run_dir, published.version)
    publish_artifacts(
        config.name, published, metrics.to_dict(), search.leaderboard, card, run_dir
    )
    logger.info(
        "published %s %s at %s; %s",
        config.name,
        published.version,
        published.path,
        published.reason,
    )
    return PipelineResult(
        publish=published,
        metrics=metrics.to_dict(),
        run_dir=str(run_dir),
        tensorboard_dir=str(run_dir / "tensorboard"),
        contract_summary=_contract_line(report),
    )


def publish_candidate(
    config: PipelineConfig,
    inputs: SearchInputs,
    search: SearchResult,
    metrics: Metrics,
    run_dir: Path,
) -> tuple[PublishResult, str]:
    """rescore the champion -> model card -> publish; returns the card too.

    The champion and the candidate are scored on the test examples the
    champion never trained on, so the gate compares them on the same data.
    """
    registry = Path(config.output_dir) / "registry"
    splits, publish = inputs.splits, config.publish
    comparison = rescore_champion_task(
        registry,
        config.name,
        search.model,
        splits.x_test,
        splits.y_test,
        splits.labels,
        publish.metric,
        digests_test=splits.digests_test,
    )
    record = describe_run(
        config.model_dump(mode="json"),
        run_dir,
        flow_run.id,
        *(inputs.raw, inputs.report, splits, inputs.preprocessing, search),
        comparison=comparison,
    )
    card = render_model_card(record, metrics)
    published = publish_version_task(
        registry,
        config.name,
        search.model,
        metrics.to_dict(),
        documents=version_documents(record, metrics, card),
        metric=publish.metric,
        min_improvement=publish.min_improvement,
        thresholds=dict(publish.thresholds),
        min_class_recall=publish.min_class_recall,
        export_sample=array_sample(splits.x_test),
        champion_rescore=comparison,
        max_p_value=publish.max_p_value,
    )
    return published, card


def _contract_line(report: ValidationReport) -> str:
    line = (
        f"'{report.contract}' passed {report.evaluated - report.failed} of "
        f"{report.evaluated} expectations"
    )
    for warning in report.warnings:
        line += f"; warning: {warning.describe()}"
    return line


def _run_folder(
    config: PipelineConfig,
    config_json: dict,
    distributed: DistributedSearch | None,
    resume: str | None,
) -> Path:
    """The run's folder: a new one, the one to resume, or a retried attempt's."""
    runs = Path(config.output_dir) / "runs" / config.name
    if distributed is not None:
        if resume is not None:
            raise ConfigError(
                "--resume received together with --distributed; expected one of "
                "them: a distributed search cannot be resumed yet. Resume the run "
                "alone (without --distributed), or start a new distributed run."
            )
        run_dir = runs / distributed.run_id
        ensure_new_search(run_dir / "tuner")
        return run_dir
    found = continued_run(runs, resume, config_json, flow_run.id, flow_run.run_count)
    return found or runs / _run_id()


def _run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = (flow_run.id or uuid.uuid4().hex)[:8]
    return f"{stamp}-{suffix}"
