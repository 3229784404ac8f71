"""Everything up to the search, made the same way on a chief and every worker:
load -> validate -> split -> preprocess -> plan -> augment; and the search
stage over what that made."""

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
    """What the search needs, made the same way on a chief and on every worker."""

    raw: RawData
    report: ValidationReport
    splits: Splits
    preprocessing: Preprocessing
    datasets: Datasets
    plan: SearchPlan
    folds: tuple[Datasets, ...] = ()
    refit_data: Datasets | None = None


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
