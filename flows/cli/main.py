"""The `automl` command line.

Known errors become one readable paragraph and an exit code (see
`flows.cli.reporting`): 0 success (also when the candidate was not promoted), 2
bad usage or config, 3 data contract violated, 4 promotion refused by the
gate, 5 a model file refused because loading it could run code, 1 anything
else. `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.distributed import (
    Distributed,
    Host,
    Port,
    RunId,
    TrialTimeout,
    chief_role_or_none,
    worker,
)
from flows.cli.models import models_app
from flows.cli.progress import terminal_progress
from flows.cli.reporting import (
    brief_known_errors,
    import_tensorflow_quietly,
    reported_errors,
)
from flows.cli.service import register_service_commands
from flows.cli.tensorboard import tensorboard
from flows.config import PipelineConfig, apply_preset, load_pipeline_config

app = typer.Typer(
    name="automl",
    help="Keras AutoML Flows: labelled data in, a published, evaluated model out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    preset: Annotated[
        str | None,
        typer.Option(help="`quick`: a few short trials, a result in about a minute"),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="progress bars over trials and epochs (terminals)")
    ] = True,
    distributed: Distributed = False,
    port: Port = 8000,
    host: Host = "127.0.0.1",
    trial_timeout: TrialTimeout = 600.0,
    run_id: RunId = None,
    resume: Annotated[
        str | None,
        typer.Option(
            metavar="RUN_ID",
            help="go on with an interrupted run (its id is the folder under "
            "OUTPUT_DIR/runs/NAME/); finished trials are kept",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Run the whole pipeline and publish the best model.

    With --distributed, the search's trials run on `automl worker` processes
    (see `automl worker --help`); this process serves them, then evaluates
    and publishes as usual. With --resume RUN_ID, a killed run goes on from
    its last finished trial and epoch, with the config it started with.
    """
    with reported_errors(debug):
        pipeline_config = load_pipeline_config(config, output_dir)
        if preset is not None:
            pipeline_config = apply_preset(pipeline_config, preset)
        if resume is not None:
            from tasks.registry.runs import check_run_id

            check_run_id(resume)
        chief = chief_role_or_none(distributed, port, host, trial_timeout, run_id)
        with terminal_progress(progress and sys.stderr.isatty()):
            result = _run_flow(pipeline_config, chief, resume, debug)
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
    typer.echo(
        f"  tensorboard: automl tensorboard {published.name}"
        f"{_output_dir_flag(result.run_dir)}   (logs: {result.tensorboard_dir})"
    )


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

    with reported_errors(debug):
        report = validate_pipeline_data(load_pipeline_config(config, output_dir))
    typer.echo(report.summary())


app.add_typer(models_app, name="models")
register_service_commands(app)
app.command()(tensorboard)
app.command()(worker)

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

    with reported_errors(debug):
        pipeline_config = load_pipeline_config(config, None)
        path = out or Path("contracts") / f"{pipeline_config.name}.yaml"
        contract = write_contract(pipeline_config, path, overwrite=force)
    typer.echo(f"Wrote {path}: contract '{contract.name}' for {contract.kind} data.")
    typer.echo(
        f"Review it, commit it, and set `data.contract: {path}` in {config} "
        "so every run checks it."
    )


@app.command()
def predict(
    model: Annotated[
        str,
        typer.Argument(
            metavar="NAME[:VERSION]",
            help="NAME for the champion, or NAME:v0003 for a version",
        ),
    ],
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="raw inputs: an .npz with x, a table, an image folder",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="the CSV to write")],
    output_dir: Annotated[
        Path,
        typer.Option("--output-dir", help="where the registry is"),
    ] = Path("automl-output"),
    debug: Annotated[bool, typer.Option(help="show tracebacks")] = False,
) -> None:
    """Predict a file of raw inputs with a published model; write one CSV row each.

    Columns: path (image folders: the file), prediction (the original label),
    probability, and p_<label> per class. Exit code 2 for an unknown model or
    inputs the model cannot take, 5 for a model file refused because loading
    it could run code (a Lambda).
    """
    with reported_errors(debug):
        import_tensorflow_quietly()
        from tasks.predict import (
            parse_model_reference,
            predict_batch,
            resolve_version,
            write_predictions,
        )

        name, version = parse_model_reference(model)
        version_dir = resolve_version(output_dir / "registry", name, version)
        frame = predict_batch(version_dir, str(input_path))
        written = write_predictions(frame, out)
    typer.echo(
        f"Wrote {len(frame)} predictions to {written} "
        f"({name} {version_dir.name}, {version_dir})"
    )


def _output_dir_flag(run_dir: str) -> str:
    """` --output-dir DIR` unless the run went to the default output folder."""
    output = Path(run_dir).parents[2]  # <output>/runs/<name>/<run_id>
    return "" if output == Path("automl-output") else f" --output-dir {output}"


def _run_flow(
    config: PipelineConfig, distributed=None, resume: str | None = None, debug=False
):
    from flows.service.prefect_server import start_temporary_server

    start_temporary_server()  # before the flow: several runs at once, one database
    import_tensorflow_quietly()
    from flows.pipeline import automl_pipeline

    with brief_known_errors(debug):
        return automl_pipeline(config, distributed, resume)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
