"""`automl models list|show|promote|rollback`: look after the registry by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.reporting import import_tensorflow_quietly, reported_errors
from tasks.registry.champion import read_champion, rollback
from tasks.registry.gate import promote
from tasks.registry.history import read_history
from tasks.registry.versions import (
    check_version,
    list_versions,
    pipeline_dir,
    read_metrics,
)

models_app = typer.Typer(
    help="List, inspect, promote and roll back published versions.",
    no_args_is_help=True,
)

OutputDir = Annotated[
    Path,
    typer.Option("--output-dir", help="the output folder that holds registry/"),
]
Debug = Annotated[bool, typer.Option(help="show tracebacks")]
HEADLINE = ("accuracy", "f1_macro", "precision_macro", "recall_macro")


@models_app.command("list")
def list_models(
    name: Annotated[str, typer.Argument(help="pipeline name")],
    output_dir: OutputDir = Path("automl-output"),
    debug: Debug = False,
) -> None:
    """Every version of a pipeline with its test metrics; * marks the champion."""
    with reported_errors(debug):
        pipeline = _pipeline(output_dir, name)
        champion = read_champion(pipeline)
        rows = [
            (version, read_metrics(pipeline, version))
            for version in list_versions(pipeline)
        ]
    current = champion and champion["version"]
    typer.echo(f"{'':2}{'version':<9}" + "".join(f"{m:>17}" for m in HEADLINE))
    for version, metrics in rows:
        mark = "*" if version == current else " "
        cells = "".join(f"{metrics.get(m, float('nan')):>17.4f}" for m in HEADLINE)
        typer.echo(f"{mark} {version:<9}{cells}  n_test={metrics.get('n_test')}")
    typer.echo(f"champion: {current or 'none'}")


@models_app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="NAME or NAME:VERSION")],
    output_dir: OutputDir = Path("automl-output"),
    debug: Debug = False,
) -> None:
    """One version: metrics per class, its gate decisions, its model card."""
    with reported_errors(debug):
        name, _, version = reference.partition(":")
        pipeline = _pipeline(output_dir, name)
        version = check_version(version) if version else _champion_version(pipeline)
        metrics = read_metrics(pipeline, version)
        events = [r for r in read_history(pipeline) if r.get("version") == version]
    champion = read_champion(pipeline)
    status = "champion" if champion and champion["version"] == version else "version"
    typer.echo(f"{name} {version} ({status}): {pipeline / version}")
    typer.echo(
        "  " + "  ".join(f"{m} {metrics[m]:.4f}" for m in HEADLINE if m in metrics)
    )
    for label, scores in metrics.get("per_class", {}).items():
        typer.echo(
            f"  class {label!s:<12} precision {scores['precision']:.4f}  "
            f"recall {scores['recall']:.4f}  f1 {scores['f1']:.4f}  "
            f"support {scores['support']}"
        )
    for event in events:
        detail = event.get("reason") or event.get("event")
        typer.echo(f"  {event['at']}  {event['event']}: {detail}")
    typer.echo(f"  model card: {pipeline / version / 'model_card.md'}")


@models_app.command("promote")
def promote_command(
    name: Annotated[str, typer.Argument(help="pipeline name")],
    version: Annotated[str, typer.Argument(help="the version to make champion")],
    force: Annotated[
        bool,
        typer.Option(
            help="promote even below the absolute thresholds, or on other "
            "classes than the champion (a deliberate change of classes)"
        ),
    ] = False,
    output_dir: OutputDir = Path("automl-output"),
    debug: Debug = False,
) -> None:
    """Make a version the champion (it must meet its absolute thresholds and
    have the champion's classes, unless --force).

    Its model must load safely: a file that would run code on load (a Lambda)
    is refused with exit code 5, whatever --force says.
    """
    with reported_errors(debug):
        pipeline = _pipeline(output_dir, name)
        if (pipeline / check_version(version)).is_dir():  # else promote says so
            import_tensorflow_quietly()
            from tasks.registry.model_file import load_published_model

            load_published_model(pipeline / version / "model.keras")
        record = promote(output_dir / "registry", name, check_version(version), force)
    forced = " (forced past: " + "; ".join(record["failures"]) + ")"
    typer.echo(
        f"{name}: champion is now {record['version']} (was {record['previous']})"
        + (forced if record["forced"] else "")
    )


@models_app.command("rollback")
def rollback_command(
    name: Annotated[str, typer.Argument(help="pipeline name")],
    output_dir: OutputDir = Path("automl-output"),
    debug: Debug = False,
) -> None:
    """Restore the champion that was in force before the current one."""
    with reported_errors(debug):
        _pipeline(output_dir, name)
        record = rollback(output_dir / "registry", name)
    typer.echo(f"{name}: rolled back from {record['replaced']} to {record['version']}")


def _pipeline(output_dir: Path, name: str) -> Path:
    from tasks.errors import ConfigError

    pipeline = pipeline_dir(output_dir / "registry", name)
    if not list_versions(pipeline):
        raise ConfigError(
            f"No published versions of {name!r} under {output_dir / 'registry'}. "
            "Check the name and --output-dir (`automl run` publishes versions)."
        )
    return pipeline


def _champion_version(pipeline: Path) -> str:
    from tasks.errors import RegistryError

    champion = read_champion(pipeline)
    if champion is None:
        raise RegistryError(
            f"{pipeline.name} has no champion; name a version as NAME:v0001."
        )
    return champion["version"]
