"""Distributed search on the command line: `automl run --distributed` runs the
chief, `automl worker` a worker. The option types are shared by both."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.progress import terminal_progress
from flows.cli.reporting import (
    brief_known_errors,
    import_tensorflow_quietly,
    reported_errors,
)
from flows.config import load_pipeline_config

Distributed = Annotated[
    bool,
    typer.Option(
        "--distributed",
        help="serve the search to `automl worker` processes (Keras Tuner's chief)",
    ),
]
Port = Annotated[int, typer.Option("--port", help="--distributed: the chief's port")]
Host = Annotated[
    str,
    typer.Option(
        "--host", help="--distributed: listen on 127.0.0.1 (this machine) or 0.0.0.0"
    ),
]
TrialTimeout = Annotated[
    float,
    typer.Option(
        "--trial-timeout",
        help="--distributed: seconds a worker may go silent before its trial fails",
    ),
]
RunId = Annotated[
    str | None,
    typer.Option(
        "--run-id",
        help="the run folder chief and workers share; default distributed-PORT",
    ),
]


def chief_role_or_none(
    distributed: bool, port: int, host: str, trial_timeout: float, run_id: str | None
):
    """The chief's part for `automl run --distributed`, else None (search alone)."""
    if not distributed:
        return None
    import_tensorflow_quietly()  # tasks.tuning.distributed.role imports Keras Tuner
    from tasks.tuning.distributed.role import chief_role

    return chief_role(port, host, trial_timeout_seconds=trial_timeout, run_id=run_id)


def worker(
    config: Annotated[
        Path, typer.Argument(help="the chief's pipeline config YAML (same file)")
    ],
    chief: Annotated[
        str, typer.Option("--chief", metavar="HOST:PORT", help="the chief's address")
    ],
    run_id: RunId = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="the chief's output folder (shared)"),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="progress bars over epochs (terminals)")
    ] = True,
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Train the trials a chief hands out; exit 0 when it says the search is done.

    Start the chief with `automl run CONFIG --distributed --port PORT`, then
    one worker per GPU (e.g. CUDA_VISIBLE_DEVICES=0 automl worker CONFIG
    --chief HOST:PORT), in any order. Chief and workers need the same config
    and the same output folder (shared storage across machines). Workers
    publish nothing: the chief evaluates and publishes the best model.
    """
    with reported_errors(debug):
        pipeline_config = load_pipeline_config(config, output_dir)
        import_tensorflow_quietly()
        from tasks.tuning.distributed.role import worker_role

        role = worker_role(chief, run_id=run_id)
        from flows.service.prefect_server import start_temporary_server
        from flows.worker import automl_worker

        start_temporary_server()  # runs and workers on one machine share a database
        with (
            terminal_progress(progress and sys.stderr.isatty()),
            brief_known_errors(debug),
        ):
            result = automl_worker(pipeline_config, role)
    typer.echo(
        f"Worker {result.tuner_id} done: the chief at {result.chief} says the "
        f"search is over (trials in {result.run_dir}/tuner)."
    )
