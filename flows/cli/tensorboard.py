"""`automl tensorboard [NAME]`: serve a pipeline's runs with TensorBoard.

TensorBoard runs in this process (`tensorboard.program.TensorBoard`), over
`<output_dir>/runs/NAME`: every trial's scalars and HParams, and each run's
`final/` confusion matrix and per-class metrics.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.reporting import import_tensorflow_quietly, reported_errors
from tasks.errors import ConfigError
from tasks.registry.versions import check_name

EVENT_FILES = "events.out.tfevents.*"


def tensorboard(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="[NAME]", help="the pipeline (its config's name); omit for all"
        ),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="where the registry and runs are")
    ] = Path("automl-output"),
    host: Annotated[str, typer.Option(help="the address to listen on")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="the port; 0 picks a free one")
    ] = 6006,
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Serve the runs' TensorBoard logs: trials, HParams, the final model.

    Runs until interrupted (Ctrl-C). Exit code 2 when there are no logs to
    serve (no run yet, or a wrong NAME or --output-dir).
    """
    with reported_errors(debug):
        log_dir = tensorboard_log_dir(output_dir, name)
        import_tensorflow_quietly()  # TensorBoard's plugins import TensorFlow
        url = launch_tensorboard(log_dir, host, port)
    typer.echo(f"TensorBoard at {url} serving {log_dir} (Ctrl-C to stop)")
    wait_until_stopped()


def tensorboard_log_dir(output_dir: str | Path, name: str | None = None) -> Path:
    """The folder to serve: `<output_dir>/runs/NAME`, or all pipelines' runs.

    Raises:
        ModelReferenceError: NAME is not a pipeline name (it could leave runs/).
        ConfigError: the folder is missing or holds no TensorBoard event files.
    """
    runs = Path(output_dir) / "runs"
    log_dir = runs if name is None else runs / check_name(name)
    what = "any pipeline" if name is None else f"pipeline {name!r}"
    if not log_dir.is_dir():
        known = (
            sorted(p.name for p in runs.iterdir() if p.is_dir())
            if runs.is_dir()
            else []
        )
        hint = f" Pipelines with runs there: {known}." if known else ""
        raise ConfigError(
            f"No runs of {what}: received the folder {log_dir}, which does not "
            f"exist; expected the run folders that `automl run` writes there.{hint} "
            "Run `automl run CONFIG` first, or pass the NAME and --output-dir "
            "that run used."
        )
    if next(log_dir.rglob(EVENT_FILES), None) is None:
        raise ConfigError(
            f"No TensorBoard logs of {what}: received the folder {log_dir}, which "
            f"holds no event files ({EVENT_FILES}); expected each run's "
            "tensorboard/ folder. Run `automl run CONFIG` to completion first."
        )
    return log_dir


def launch_tensorboard(log_dir: str | Path, host: str, port: int) -> str:
    """Start TensorBoard on a background thread; return its URL (the real port).

    Raises:
        ConfigError: the port is taken or the address cannot be bound.
    """
    from tensorboard import program

    board = program.TensorBoard()
    board.configure(
        argv=[None, "--logdir", str(log_dir), "--host", host, "--port", str(port)]
    )
    try:
        return board.launch()
    except program.TensorBoardServerException as exc:
        raise ConfigError(
            f"TensorBoard could not listen on {host}:{port} ({exc.msg}). Expected "
            "a free port on a local address: pass another --port, or --port 0 "
            "for any free one."
        ) from exc


def wait_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM; both are a normal stop (exit code 0)."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("TensorBoard stopped.")
