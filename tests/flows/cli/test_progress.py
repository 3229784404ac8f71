"""The terminal progress bars, fed the search's progress events."""

import io

from rich.console import Console

from flows.cli.progress import TerminalProgress
from tasks.tuning.progress import SearchProgress, listening, report


def test_bars_follow_trials_and_epochs():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with TerminalProgress(console) as bars, listening(bars):
        report(SearchProgress("trial_begin", "0", 0, 3, epochs=4, family="cnn"))
        for epoch in (1, 2, 3, 4):
            report(SearchProgress("epoch_end", "0", 0, 3, epoch=epoch, epochs=4))
        report(SearchProgress("trial_end", "0", 1, 3, epochs=4, best_score=0.875))
    text = out.getvalue()
    assert "trial 0 (cnn)" in text and "4/4" in text
    assert "1/3" in text and "best 0.8750" in text


def test_a_failing_listener_never_stops_the_search(caplog):
    def broken(progress):
        raise OSError("terminal gone")

    seen = []
    with listening(broken, seen.append):
        report(SearchProgress("trial_end", "0", 1, 2))
    assert len(seen) == 1 and "terminal gone" in caplog.text
    assert SearchProgress("trial_end", "0", 1, 2).fraction == 0.5
    assert SearchProgress("trial_end", "0", 1, None).fraction is None
