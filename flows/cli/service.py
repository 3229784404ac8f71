"""`automl deploy|serve|retrain|notify|watch`: run pipelines as a service.

Each command talks to the Prefect server in `PREFECT_API_URL`; see
`flows.service.deploy` for what a deployment holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.reporting import import_tensorflow_quietly, reported_errors
from flows.config import load_config, load_pipeline_config

Debug = Annotated[bool, typer.Option(help="show tracebacks")]


def deploy(
    configs: Annotated[
        list[Path], typer.Argument(metavar="CONFIG...", help="pipeline config YAMLs")
    ],
    cron: Annotated[
        list[str] | None,
        typer.Option(
            "--cron", help='a cron schedule in UTC, e.g. "0 2 * * *"; repeatable'
        ),
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option(
            "--pool",
            help="a work pool whose workers run it; default: `automl serve` runs it",
        ),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="where the registry and runs go"),
    ] = None,
    debug: Debug = False,
) -> None:
    """Register (or update) one Prefect deployment per pipeline config.

    The deployment `automl/NAME` runs on its schedule, on `automl retrain NAME`,
    from the dashboard's Run form, and when `automl notify` (or `automl watch`)
    says new data landed; one run at a time, the next waits in line.
    """
    from flows.service.deploy import deploy as deploy_pipeline

    with reported_errors(debug):
        loaded = [load_pipeline_config(path, output_dir) for path in configs]
        import_tensorflow_quietly()  # the flow's module imports Keras
        for config in loaded:
            deployment_id = deploy_pipeline(config, cron, pool)
            when = ", ".join(f"cron {c!r} (UTC)" for c in cron or []) or "no schedule"
            runner = f"work pool {pool!r}" if pool else "`automl serve`"
            typer.echo(
                f"Deployed automl/{config.name} ({deployment_id}): {when}; "
                f"runs on {runner}; retrains when its data lands."
            )


def serve(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="[NAME]...", help="pipelines to serve; default all"),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="runs at once on this machine: one per GPU")
    ] = 1,
    watch: Annotated[
        bool, typer.Option(help="also notify when a served pipeline's data changes")
    ] = False,
    debug: Debug = False,
) -> None:
    """Run the deployed pipelines' scheduled and triggered runs on this machine.

    Runs until interrupted (Ctrl-C). `--watch` also watches each pipeline's
    data source and emits `automl.data.landed` when it changes.
    """
    from flows.service.deploy import serve as serve_deployments
    from flows.service.watch import start_watching

    with reported_errors(debug):
        import_tensorflow_quietly()
        if watch:
            start_watching(names)
        serve_deployments(names, limit)


def retrain(
    name: Annotated[str, typer.Argument(help="the pipeline (its config's name)")],
    wait: Annotated[bool, typer.Option(help="wait for the run to finish")] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="run with this config instead of the deployed"),
    ] = None,
    debug: Debug = False,
) -> None:
    """Retrain a deployed pipeline now (a flow run of `automl/NAME`)."""
    from flows.service.deploy import require_server
    from flows.service.deploy import retrain as retrain_pipeline

    with reported_errors(debug):
        override = None if config is None else load_config(config)
        run = retrain_pipeline(name, wait=wait, config=override)
        url = require_server().removesuffix("/api")
        typer.echo(f"Flow run {run.name} ({run.id}): {run.state_name}")
        typer.echo(f"  {url}/runs/flow-run/{run.id}")
        if wait and not run.state.is_completed():
            raise typer.Exit(1)


def notify(
    name: Annotated[str, typer.Argument(help="the pipeline (its config's name)")],
    path: Annotated[Path, typer.Argument(help="where the new data landed")],
    debug: Debug = False,
) -> None:
    """Say that new data landed: the deployment's trigger starts a retrain."""
    from flows.service.deploy import notify as notify_landed

    with reported_errors(debug):
        event_id = notify_landed(name, path)
    typer.echo(f"Sent automl.data.landed for {name} ({path}); event {event_id}.")


def watch(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="[NAME]...", help="pipelines to watch; default all"),
    ] = None,
    interval: Annotated[
        float, typer.Option(min=0.1, help="seconds between looks at each source")
    ] = 2.0,
    debug: Debug = False,
) -> None:
    """Watch the deployed pipelines' data sources; notify when one changes.

    A change is reported once the file (or folder) has stopped changing for
    one interval, so a file still being written starts one retrain, not many.
    """
    from flows.service.watch import watch_sources

    with reported_errors(debug):
        watch_sources(names, interval=interval)


def register_service_commands(app: typer.Typer) -> None:
    """Add the service commands to the `automl` app."""
    for command in (deploy, serve, retrain, notify, watch):
        app.command()(command)
