"""The `automl-worker` flow: the `automl` flow's stages up to the search, then
the trials a chief hands out. Wiring only; it publishes nothing.

A chief (`automl run CONFIG --distributed`) serves the search. It loads,
validates, splits and preprocesses the data once and writes what it made to
the run folder they share (`runs/<name>/<run_id>/prepared`, see
`tasks.registry.prepared`) before it records its data fingerprint in the
folder's `run.json`. Each worker waits for that record, then reads the
prepared data instead of loading, validating and splitting again (an image
folder is not decoded a second time: the worker decodes its files while it
trains), so every trial trains on the chief's splits; it writes its
checkpoints into the same run folder (`runs/<name>/<run_id>/tuner`). An
image folder is found under the worker's own `data.source`, and a few of its
files are decoded and compared with the chief's digests. A run folder with
no prepared data (a chief of an earlier version) makes the worker prepare
the data itself, as before. Either way, before it trains, a worker checks
that its data is the chief's (the same fingerprint as the recorded one), or
it refuses with exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger

from flows.config import PipelineConfig
from flows.prepare import prepare_search, search_models
from tasks.errors import ConfigError
from tasks.registry.prepared import has_prepared
from tasks.registry.run_data import check_worker_data, wait_for_chief_data
from tasks.tuning.distributed.role import DistributedSearch


@dataclass(frozen=True)
class WorkerResult:
    """Which worker this was and the run folder it trained into."""

    tuner_id: str
    chief: str
    run_dir: str


@flow(name="automl-worker", log_prints=True)
def automl_worker(
    config: PipelineConfig, distributed: DistributedSearch
) -> WorkerResult:
    """Train the trials a chief hands out until it says the search is done."""
    if distributed.role != "worker":
        raise ConfigError(
            f"automl-worker received the role {distributed.role!r}; expected "
            "'worker'. Run the chief with `automl run CONFIG --distributed`."
        )
    logger = get_run_logger()
    run_dir = Path(config.output_dir) / "runs" / config.name / distributed.run_id
    logger.info(
        "worker %s for the chief at %s: outputs in %s",
        distributed.tuner_id,
        distributed.address,
        run_dir,
    )
    data_docs = run_dir / "workers" / distributed.tuner_id / "data_docs"
    wait_for_chief_data(run_dir)  # the chief wrote its prepared data before
    prepared_from = run_dir if has_prepared(run_dir) else None
    if prepared_from is None:
        logger.info(
            "%s holds no prepared data (a chief of an earlier version, or not "
            "distributed): loading, validating and splitting the data here",
            run_dir,
        )
    inputs = prepare_search(config, data_docs, prepared_from=prepared_from)
    fingerprint = check_worker_data(run_dir, inputs.splits)
    logger.info("data fingerprint %s: the same as the chief's", fingerprint)
    search_models(config, inputs, run_dir, distributed)
    return WorkerResult(
        tuner_id=distributed.tuner_id,
        chief=distributed.address,
        run_dir=str(run_dir),
    )
