"""The terminal's progress bar over trials and epochs, for `automl run`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from tasks.tuning.progress import SearchProgress, listening


class TerminalProgress:
    """Two bars: trials of the search, epochs of the running trial."""

    def __init__(self, console: Console | None = None):
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.trials = self.bars.add_task("trials", total=None, note="")
        self.epochs = self.bars.add_task("epochs", total=None, note="")

    def __call__(self, progress: SearchProgress) -> None:
        best = "" if progress.best_score is None else f"best {progress.best_score:.4f}"
        if progress.event == "trial_begin":
            self.bars.update(
                self.trials,
                total=progress.max_trials,
                completed=progress.trials_done,
                note=best,
            )
            self.bars.reset(
                self.epochs,
                total=progress.epochs,
                description=f"trial {progress.trial} ({progress.family})",
                note="",
            )
        elif progress.event == "epoch_end":
            self.bars.update(self.epochs, completed=progress.epoch)
        else:
            self.bars.update(
                self.trials,
                total=progress.max_trials,
                completed=progress.trials_done,
                note=best,
            )

    def __enter__(self) -> TerminalProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.bars.stop()


@contextlib.contextmanager
def terminal_progress(enabled: bool) -> Iterator[None]:
    """Show the bars while the block runs, when `enabled` (a terminal)."""
    if not enabled:
        yield
        return
    with TerminalProgress() as bars, listening(bars):
        yield
