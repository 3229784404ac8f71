"""What a flow run shows in the Prefect dashboard: tables, markdown, links."""

from __future__ import annotations

import re
from pathlib import Path

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from data_contracts import ValidationReport
from tasks.publish import PublishResult
from tasks.tuning.progress import SearchProgress


def artifact_key(name: str, what: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return f"{re.sub('[^a-z0-9-]', '-', name)}-{what}"


def contract_artifact(name: str, report: ValidationReport) -> None:
    """The contract's result, one row per expectation."""
    create_markdown_artifact(
        key=artifact_key(name, "data-contract"),
        markdown=report.markdown(),
        description=report.summary().splitlines()[0],
    )


def publish_artifacts(
    name: str,
    published: PublishResult,
    metrics: dict,
    leaderboard: list[dict],
    model_card: str,
    run_dir: Path,
) -> None:
    """Metrics, leaderboard, model card, gate decision and log links."""
    headline = ["accuracy", "precision_macro", "recall_macro", "f1_macro"]
    create_table_artifact(
        key=artifact_key(name, "metrics"),
        table=[{"metric": m, "value": round(metrics[m], 4)} for m in headline]
        + [
            {"metric": f"f1 {label}", "value": round(scores["f1"], 4)}
            for label, scores in metrics["per_class"].items()
        ],
        description=f"{name} {published.version}: test-split metrics",
    )
    create_table_artifact(
        key=artifact_key(name, "leaderboard"),
        table=[
            {
                **{k: row[k] for k in ("trial", "family", "best_epoch", "seconds")},
                "score": None if row["score"] is None else round(row["score"], 4),
            }
            for row in leaderboard
        ],
        description="Keras Tuner trials, best first",
    )
    create_markdown_artifact(key=artifact_key(name, "model-card"), markdown=model_card)
    champion = published.champion_score
    create_markdown_artifact(
        key=artifact_key(name, "gate"),
        markdown=(
            f"## {name} {published.version}: "
            f"{'promoted to champion' if published.promoted else 'not promoted'}\n\n"
            f"| | version | {published.metric} |\n|---|---|---|\n"
            f"| candidate | {published.version} | {published.candidate_score:.4f} |\n"
            f"| champion | {published.champion_version or '-'} | "
            f"{'-' if champion is None else f'{champion:.4f}'} |\n\n"
            f"{_p_value_line(published)}\n\n{published.reason}"
        ),
    )
    for what, path in (
        ("tensorboard", run_dir / "tensorboard"),
        ("data-docs", run_dir / "data_docs" / "index.html"),
    ):
        create_link_artifact(
            key=artifact_key(name, what),
            link=path.resolve().as_uri(),
            link_text=str(path),
        )


def _p_value_line(published: PublishResult) -> str:
    """The gate's paired test, in one line of the gate artifact."""
    if published.p_value is None:
        return "p-value: none (no paired comparison with a champion)"
    return (
        f"p-value: {published.p_value:.4g} (McNemar's exact test, both models "
        f"scored on the same {published.num_compared} test examples)"
    )


class SearchProgressArtifact:
    """The flow run's search progress bar in the dashboard, moved per trial."""

    def __init__(self, name: str, max_trials: int | None):
        self.max_trials = max_trials
        self.artifact_id = create_progress_artifact(
            progress=0.0,
            key=artifact_key(name, "search-progress"),
            description=f"Search: 0 of {max_trials or '?'} trials",
        )

    def __call__(self, progress: SearchProgress) -> None:
        if progress.event != "trial_end":
            return
        fraction = progress.fraction
        best = progress.best_score
        best = "" if best is None else f", best {best:.4f}"
        update_progress_artifact(
            self.artifact_id,
            progress=100.0 * (fraction if fraction is not None else 0.0),
            description=(
                f"Search: {progress.trials_done} of "
                f"{progress.max_trials or '?'} trials{best}"
            ),
        )

    def finish(self, num_trials: int, best_score: float) -> None:
        """Full bar: a budget or early end leaves fewer trials than the maximum."""
        update_progress_artifact(
            self.artifact_id,
            progress=100.0,
            description=f"Search done: {num_trials} trials, best {best_score:.4f}",
        )
