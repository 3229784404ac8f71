"""Everything up to the search: load -> validate -> split -> preprocess on a
chief (a distributed worker reads what its chief prepared instead), then
plan -> augment -> datasets the same way on both; and the search stage over
what that made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from prefect import get_run_logger

from data_contracts import ContractViolation, ValidationReport
from flows.artifacts import contract_artifact
from flows.config import PipelineConfig
from flows.validation import pipeline_contract
from model_builders import default_families
from tasks.augment import Datasets, build_augmenter, make_datasets_task
from tasks.load import RawData, load_dataset_task, to_examples_task
from tasks.preprocess import Preprocessing, fit_preprocessing_task
from tasks.registry.prepared import read_prepared
from tasks.search import SearchResult, run_search_task
from tasks.split import Splits, split_examples_task
from tasks.tuning.distributed.role import DistributedSearch
from tasks.tuning.folds import fold_splits
from tasks.tuning.plan import REFIT_SHARE, SearchPlan, plan_search, pooled_splits
from tasks.tuning.refit import Publishing
from tasks.validate import champion_data_profile, validate_data_task

# The search settings `plan_search` resolves from the data when left unset.
PLANNED = {
    "tuner",
    "epochs",
    "patience",
    "batch_size",
    "validation",
    "folds",
    "refit",
    "ensemble_size",
    "max_trials",
    "objective",
}


@dataclass(frozen=True)
class SearchInputs:
    """What the search needs, on a chief and on every worker.

    `raw` and `report` are the chief's only: a worker that reads the chief's
    prepared data (`prepared_from`) neither loads nor validates, so it has
    None there; nothing a worker does with its inputs uses them.
    """

    raw: RawData | None
    report: ValidationReport | None
    splits: Splits
    preprocessing: Preprocessing
    datasets: Datasets
    plan: SearchPlan
    folds: tuple[Datasets, ...] = ()
    refit_data: Datasets | None = None


def prepare_search(
    config: PipelineConfig, data_docs_dir: Path, prepared_from: Path | None = None
) -> SearchInputs:
    """load -> validate -> split -> preprocess -> augment, up to the search.

    Seeded throughout, so running it again on the same config gives the same
    splits and the same fitted preprocessing (a resumed run relies on it).

    Args:
        config: the pipeline config.
        data_docs_dir: where the contract's Data Docs go.
        prepared_from: a run folder holding a chief's prepared data
            (`tasks.registry.prepared`): its splits and preprocessing are
            read instead of loaded, validated, split and fitted again (no
            decode pass over an image folder); the rest is made as usual.
    """
    logger = get_run_logger()
    data = config.data
    raw = report = None
    if prepared_from is None:
        raw, report, splits, preprocessing = _load_and_split(config, data_docs_dir)
    else:
        prepared = read_prepared(prepared_from, image_root=_image_root(data.source))
        splits, preprocessing = prepared.splits, prepared.preprocessing
        logger.info(
            "read the chief's prepared data from %s: %d examples, no load or "
            "decode pass",
            prepared.path,
            prepared.num_examples,
        )
    augmenter = None
    if config.augment.enabled:
        augmenter = build_augmenter(
            data.kind,
            feature_std=_feature_std(preprocessing),
            seed=config.seed,
            **config.augment.model_dump(exclude={"enabled"}),
        )
    plan = plan_search(splits, **config.search.model_dump(include=PLANNED))
    logger.info("search plan: %s", plan.validation.reason)
    batch = plan.length.batch_size

    def pipelines(part: Splits) -> Datasets:
        return make_datasets_task(part, batch, augmenter=augmenter, seed=config.seed)

    folds = ()
    if plan.validation.kind == "kfold":
        folds = tuple(
            pipelines(fold)
            for fold in fold_splits(splits, plan.validation.folds, config.seed)
        )
    refit_data = pipelines(pooled_splits(splits)) if plan.refit else None
    return SearchInputs(
        raw, report, splits, preprocessing, pipelines(splits), plan, folds, refit_data
    )


def _load_and_split(
    config: PipelineConfig, data_docs_dir: Path
) -> tuple[RawData, ValidationReport, Splits, Preprocessing]:
    """load -> validate -> split -> preprocess: what a chief prepares."""
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
    return raw, report, splits, preprocessing


def _image_root(source: str) -> Path | None:
    """Where this machine's config finds an image folder (None: not a folder)."""
    path = Path(source)
    return path if not source.startswith("sklearn:") and path.is_dir() else None


def search_models(
    config: PipelineConfig,
    inputs: SearchInputs,
    run_dir: Path,
    distributed: DistributedSearch | None = None,
) -> SearchResult | None:
    """The search stage over `inputs`, its tuner folder in `run_dir/tuner`."""
    search, plan = config.search, inputs.plan
    return run_search_task(
        inputs.datasets,
        inputs.preprocessing,
        inputs.splits.num_classes,
        tuner_dir=run_dir / "tuner",
        tensorboard_dir=run_dir / "tensorboard",
        seed=config.seed,
        distributed=distributed,
        families=search.families or default_families(config.data.kind),
        tuner=search.tuner,
        time_budget_minutes=search.time_budget_minutes,
        objective=plan.objective,
        max_trials=plan.max_trials,
        epochs=plan.length.epochs,
        patience=plan.length.patience,
        folds=inputs.folds,
        publishing=Publishing(
            plan.ensemble_size,
            close_to_best=not plan.ensemble_chosen,
            refit_data=inputs.refit_data,
            refit_seconds=None
            if plan.ensemble_chosen
            else REFIT_SHARE * search.time_budget_minutes * 60,
        ),
        plan=plan.to_dict(),
        train_labels=_trial_labels(inputs),
        **config.train.model_dump(),
    )


def _trial_labels(inputs: SearchInputs) -> np.ndarray:
    """The labels trials train on, for class weights: train+validation's when
    cross-validating (every fold trains on most of them), else train's."""
    splits = inputs.splits
    if inputs.plan.validation.kind == "kfold":
        return np.concatenate([splits.y_train, splits.y_val])
    return splits.y_train


def _feature_std(preprocessing: Preprocessing) -> list[float] | None:
    if preprocessing.variance is None:
        return None
    return [variance**0.5 for variance in preprocessing.variance]
