"""The `automl` command line.

Known errors become one readable paragraph and an exit code: 0 success (also
when the candidate was not promoted), 2 bad usage or config, 3 data contract
violated, 1 anything else. `--debug` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from flows.config import PipelineConfig, demo_config, load_config
from tasks.errors import AutoMLError

app = typer.Typer(
    name="automl",
    help="Keras AutoML Flows: labelled data in, a published, evaluated model out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_CONTRACT = 3


@app.callback()
def _main() -> None:
    """Keras AutoML Flows."""


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Argument(help="pipeline config YAML; omit for the built-in digits demo"),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="where the registry and runs go"),
    ] = None,
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Run the whole pipeline and publish the best model."""
    with _reported_errors(debug):
        result = _run_flow(_pipeline_config(config, output_dir))
    published = result.publish
    status = "champion" if published.promoted else "not promoted"
    typer.echo("")
    typer.echo(f"Published {published.name} {published.version} ({status})")
    typer.echo(f"  path:        {published.path}")
    metrics = result.metrics
    typer.echo(
        f"  test:        accuracy {metrics['accuracy']:.4f}  "
        f"f1_macro {metrics['f1_macro']:.4f}  "
        f"precision_macro {metrics['precision_macro']:.4f}  "
        f"recall_macro {metrics['recall_macro']:.4f}  (n={metrics['n_test']})"
    )
    typer.echo(f"  gate:        {published.reason}")
    typer.echo(f"  contract:    {result.contract_summary}")
    typer.echo(f"  tensorboard: tensorboard --logdir {result.tensorboard_dir}")


@app.command()
def validate(
    config: Annotated[
        Path | None,
        typer.Argument(help="pipeline config YAML; omit for the built-in digits demo"),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="where the registry (drift reference) is"),
    ] = None,
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Check the data against its contract (and the champion's data) alone.

    Exit codes as for `run`: 0 valid, 2 bad config or unreadable data, 3
    contract violated. Data Docs go to OUTPUT_DIR/runs/NAME/validate-<time>/.
    """
    from flows.validation import validate_pipeline_data

    with _reported_errors(debug):
        report = validate_pipeline_data(_pipeline_config(config, output_dir))
    typer.echo(report.summary())


contract_app = typer.Typer(
    help="Write and manage data contracts.", no_args_is_help=True
)
app.add_typer(contract_app, name="contract")


@contract_app.command("init")
def contract_init(
    config: Annotated[Path, typer.Argument(help="pipeline config YAML")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="where to write it; default contracts/NAME.yaml"),
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Profile the config's dataset and write a contract for a person to review."""
    from flows.validation import write_contract

    with _reported_errors(debug):
        pipeline_config = _pipeline_config(config, None)
        path = out or Path("contracts") / f"{pipeline_config.name}.yaml"
        contract = write_contract(pipeline_config, path, overwrite=force)
    typer.echo(f"Wrote {path}: contract '{contract.name}' for {contract.kind} data.")
    typer.echo(
        f"Review it, commit it, and set `data.contract: {path}` in {config} "
        "so every run checks it."
    )


def _pipeline_config(config: Path | None, output_dir: Path | None) -> PipelineConfig:
    pipeline_config = demo_config() if config is None else load_config(config)
    if output_dir is not None:
        pipeline_config = pipeline_config.model_copy(
            update={"output_dir": str(output_dir)}
        )
    return pipeline_config


def _run_flow(config: PipelineConfig):
    _import_tensorflow_quietly()
    from flows.pipeline import automl_pipeline

    return automl_pipeline(config)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe devices with native stderr captured.

    TensorFlow's C++ runtime prints start-up notices (oneDNN, CUDA probing)
    before its log level applies; they are noise on a CLI. They are replayed
    if the import fails, so nothing useful is lost.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _reported_errors:
    """Turn known errors into one paragraph on stderr and a distinct exit code."""

    def __init__(self, debug: bool):
        self.debug = debug

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, typer.Exit | SystemExit):
            return False
        if self.debug:
            return False
        code = exit_code_for(exc)
        if code == 1 and not isinstance(exc, AutoMLError):
            message = (
                f"{type(exc).__name__}: {exc}. "
                "Run again with --debug for the traceback."
            )
        else:
            message = str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(code)


def exit_code_for(exc: BaseException) -> int:
    """The CLI exit code for an error raised by the pipeline."""
    from data_contracts import ContractError, ContractViolation

    if isinstance(exc, ContractViolation):
        return EXIT_CONTRACT
    if isinstance(exc, ContractError):
        return 2
    if isinstance(exc, AutoMLError):
        return exc.exit_code
    return 1


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
