"""Pipelines as a service: Prefect deployments, schedules, triggers and a runner.

    automl deploy CONFIG --cron "0 2 * * *"   register (or update) a deployment
    automl serve                             run the deployments on this machine
    automl retrain NAME                      one run now, through the API
    automl notify NAME PATH                  new data landed: its trigger retrains
    automl watch                             notify when a watched source changes

A deployment is `automl/<name>`: the flow `automl` with the whole pipeline
config as its one typed parameter (the dashboard's Run form edits it), an
optional cron schedule, a concurrency limit of one run at a time (a second
trigger waits in line), and an event trigger that retrains when an
`automl.data.landed` event names the pipeline's dataset. Everything here talks
to a Prefect server through `PREFECT_API_URL`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.config import PipelineConfig, parse_config
from flows.service.events import DATA_LANDED, dataset_resource, emit_data_landed
from tasks.errors import ConfigError, DataError, ModelReferenceError
from tasks.registry.versions import check_name

FLOW_NAME = "automl"
TAG = "automl"


def require_server() -> str:
    """The Prefect API URL; these commands need a server that outlives them.

    Raises:
        ConfigError: `PREFECT_API_URL` is not set.
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError(
            "Received no PREFECT_API_URL; deployments, triggers and retrains need a "
            "Prefect server that keeps running. Start one (`prefect server start`) "
            "and `export PREFECT_API_URL=http://127.0.0.1:4200/api`, or point it "
            "at your team's server."
        )
    return url


def deployable_config(config: PipelineConfig) -> PipelineConfig:
    """The config with local paths made absolute, so any working folder runs it."""
    data = config.data
    updates: dict[str, Any] = {}
    if Path(data.source).exists():
        updates["source"] = str(Path(data.source).resolve())
    if data.contract and Path(data.contract).exists():
        updates["contract"] = str(Path(data.contract).resolve())
    return config.model_copy(
        update={
            "data": data.model_copy(update=updates),
            "output_dir": str(Path(config.output_dir).resolve()),
        }
    )


def build_deployment(
    config: PipelineConfig,
    cron: list[str] | None = None,
    work_pool: str | None = None,
):
    """The `automl/<name>` deployment of one pipeline config.

    Args:
        config: the pipeline; stored whole as the flow's `config` parameter.
        cron: cron schedules (UTC), e.g. `["0 2 * * *"]`; none for trigger-only.
        work_pool: a work pool whose workers run it; `None` for `automl serve`.

    Returns:
        A `prefect.deployments.runner.RunnerDeployment`, not yet applied.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType
    from prefect.events import DeploymentEventTrigger

    from flows.pipeline import automl_pipeline

    name = config.name
    return automl_pipeline.to_deployment(
        name=name,
        cron=cron or None,
        parameters={"config": config.model_dump(mode="json")},
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE"),
        triggers=[
            DeploymentEventTrigger(
                name=f"retrain {name} when its data lands",
                expect={DATA_LANDED},
                match={"prefect.resource.id": dataset_resource(name)},
            )
        ],
        tags=[TAG],
        description=(
            f"Train, evaluate and publish the {name!r} pipeline "
            f"({config.data.kind} data from {config.data.source})."
        ),
        entrypoint_type=EntrypointType.MODULE_PATH,
        work_pool_name=work_pool,
    )


def deploy(
    config: PipelineConfig, cron: list[str] | None = None, work_pool: str | None = None
) -> str:
    """Register (or update) the pipeline's deployment; return its id.

    Raises:
        ConfigError: no Prefect server is configured.
    """
    require_server()
    deployment = build_deployment(deployable_config(config), cron, work_pool)
    return str(deployment.apply())


def served_deployments(names: list[str] | None = None) -> list:
    """Rebuild the `automl` deployments on the server, to serve them here.

    Each is rebuilt from its stored config and cron schedules, so serving
    keeps what `automl deploy` registered.

    Raises:
        ModelReferenceError: a name asked for has no deployment, or none exists.
    """
    require_server()
    deployed = {d.name: d for d in list_deployments()}
    wanted = names or sorted(deployed)
    missing = [n for n in wanted if n not in deployed]
    if missing or not wanted:
        raise ModelReferenceError(
            f"Received {missing or 'no pipeline'} to serve; expected deployments "
            f"of the flow {FLOW_NAME!r} on {require_server()} (found "
            f"{sorted(deployed) or 'none'}). Register one with "
            "`automl deploy CONFIG` first."
        )
    rebuilt = []
    for name in wanted:
        remote = deployed[name]
        config = parse_config(remote.parameters.get("config"), f"deployment {name}")
        crons = [
            s.schedule.cron
            for s in remote.schedules
            if getattr(s.schedule, "cron", None) and s.active
        ]
        rebuilt.append(build_deployment(config, crons))
    return rebuilt


def serve(names: list[str] | None = None, limit: int = 1) -> None:
    """Run the deployments' scheduled and triggered runs on this machine.

    Args:
        names: pipelines to serve; all `automl` deployments when empty.
        limit: runs at once on this machine (one per GPU is a good start).
    """
    from prefect import serve as prefect_serve

    prefect_serve(*served_deployments(names), limit=limit)


def list_deployments() -> list:
    """The `automl` deployments registered on the server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowFilter,
        FlowFilterName,
    )

    with get_client(sync_client=True) as client:
        return client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[TAG])),
        )


def retrain(name: str, wait: bool = False, config: PipelineConfig | None = None):
    """Start one run of `automl/<name>` now; return the flow run.

    Args:
        name: the pipeline.
        wait: block until the run ends.
        config: run with this config instead of the deployed one.

    Raises:
        ModelReferenceError: no such deployment, or a malformed name.
    """
    from prefect.deployments import run_deployment

    _find_deployment(name)
    parameters = None if config is None else {"config": config.model_dump(mode="json")}
    return run_deployment(
        f"{FLOW_NAME}/{name}",
        parameters=parameters,
        timeout=None if wait else 0,
        tags=["retrain"],
        as_subflow=False,
    )


def notify(name: str, path: str | Path) -> str:
    """Emit the event that says new data for `name` landed at `path`; its id.

    Returns once Prefect's API has stored the event (see `flows.service.events`).

    Raises:
        EventNotDelivered: the API did not take the event.
        DataError: `path` does not exist.
        ModelReferenceError: no such deployment, or a malformed name.
    """
    if not Path(path).exists():
        raise DataError(
            f"Received the path {str(path)!r}, which does not exist; expected the "
            "file or folder where the new data landed."
        )
    _find_deployment(name)
    return emit_data_landed(name, path)


def _find_deployment(name: str):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    check_name(name)  # the name becomes part of an API path: no `/` or `..`
    require_server()
    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
        except ObjectNotFound:
            raise ModelReferenceError(
                f"Received the pipeline {name!r}, which has no deployment "
                f"'{FLOW_NAME}/{name}' on {require_server()}. Register it with "
                "`automl deploy CONFIG` (see `prefect deployment ls`)."
            ) from None
