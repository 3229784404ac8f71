"""The `automl` flow: load -> validate -> split -> preprocess -> augment -> search
-> evaluate -> publish. Wiring only; every stage lives in `tasks/`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from data_contracts import ContractViolation, ValidationReport
from flows.artifacts import (
    SearchProgressArtifact,
    contract_artifact,
    publish_artifacts,
)
from flows.config import PipelineConfig
from flows.validation import pipeline_contract
from tasks.augment import Datasets, build_augmenter, make_datasets_task
from tasks.errors import ConfigError
from tasks.evaluate import Metrics, evaluate_model_task
from tasks.load import RawData, load_dataset_task, to_examples_task
from tasks.preprocess import Preprocessing, fit_preprocessing_task
from tasks.publish import PublishResult, publish_version_task
from tasks.registry.documents import describe_run, version_documents
from tasks.registry.model_card import render_model_card
from tasks.registry.rescore import rescore_champion_task
from tasks.registry.retry import already_published
from tasks.registry.run_data import record_data
from tasks.registry.runs import continued_run, finish_run, start_run
from tasks.search import SearchResult, run_search_task
from tasks.split import Splits, split_examples_task
from tasks.tensorboard_logs import write_final_logs_task
from tasks.tuning.distributed.role import DistributedSearch, ensure_new_search
from tasks.tuning.progress import listening
from tasks.validate import champion_data_profile, validate_data_task


@dataclass(frozen=True)
class PipelineResult:
    """What a run produced: the published version, its metrics, its run folder."""

    publish: PublishResult
    metrics: dict
    run_dir: str
    tensorboard_dir: str
    contract_summary: str = ""


@dataclass(frozen=True)
class SearchInputs:
    """What the search needs, made the same way on a chief and on every worker."""

    raw: RawData
    report: ValidationReport
    splits: Splits
    preprocessing: Preprocessing
    datasets: Datasets


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
        export_sample=splits.x_test,
        champion_rescore=comparison,
        max_p_value=publish.max_p_value,
    )
    return published, card


def prepare_search(config: PipelineConfig, data_docs_dir: Path) -> SearchInputs:
    """load -> validate -> split -> preprocess -> augment, up to the search.

    Seeded throughout, so a chief and its workers, each running this on the
    same config, get the same splits and the same fitted preprocessing.
    """
    logger = get_run_logger()
    data = config.data
    raw = load_dataset_task(data.source, **data.loader_options())
    contract = pipeline_contract(config)
    try:
        report = validate_data_task(
            raw,
            contract,
            data_docs_dir=data_docs_dir,
            reference=champion_data_profile(
                Path(config.output_dir) / "registry", config.name
            ),
            **data.reader_options(),
        )
    except ContractViolation as violation:
        contract_artifact(config.name, violation.report)
        raise
    contract_artifact(config.name, report)
    logger.info("%s", report.summary())

    examples = to_examples_task(raw, **data.reader_options())
    splits = split_examples_task(
        examples,
        test_fraction=data.test_fraction,
        validation_fraction=data.validation_fraction,
        seed=config.seed,
    )
    logger.info(
        "split by content: %d of %d examples repeat an earlier one's content; "
        "each group of copies was kept in one split",
        splits.duplicates,
        len(splits.y_train) + len(splits.y_val) + len(splits.y_test),
    )
    preprocessing = fit_preprocessing_task(
        splits.x_train,
        kind=data.kind,
        max_tokens=data.max_tokens,
        text_length=data.text_length,
    )
    augmenter = None
    if config.augment.enabled:
        augmenter = build_augmenter(
            data.kind,
            feature_std=_feature_std(preprocessing),
            seed=config.seed,
            **config.augment.model_dump(exclude={"enabled"}),
        )
    datasets = make_datasets_task(
        splits,
        batch_size=config.search.batch_size,
        augmenter=augmenter,
        seed=config.seed,
    )
    return SearchInputs(raw, report, splits, preprocessing, datasets)


def search_models(
    config: PipelineConfig,
    inputs: SearchInputs,
    run_dir: Path,
    distributed: DistributedSearch | None = None,
) -> SearchResult | None:
    """The search stage over `inputs`, its tuner folder in `run_dir/tuner`."""
    return run_search_task(
        inputs.datasets,
        inputs.preprocessing,
        inputs.splits.num_classes,
        tuner_dir=run_dir / "tuner",
        tensorboard_dir=run_dir / "tensorboard",
        seed=config.seed,
        distributed=distributed,
        **config.search.model_dump(exclude={"batch_size"}),
        **config.train.model_dump(),
    )


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


def _feature_std(preprocessing: Preprocessing) -> list[float] | None:
    if preprocessing.variance is None:
        return None
    return [variance**0.5 for variance in preprocessing.variance]
