"""Known errors become one readable paragraph on stderr and a distinct exit code.

0 success, 1 anything unexpected, 2 bad usage, config or unreadable data, 3
data contract violated, 4 refused by the promotion gate, 5 a model file refused
because loading it could run code. `--debug` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

import typer

from tasks.errors import AutoMLError

EXIT_CONTRACT = 3


class reported_errors:
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
        if not is_known(exc):
            message = (
                f"{type(exc).__name__}: {exc}. "
                "Run again with --debug for the traceback."
            )
        else:
            message = str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(exit_code_for(exc))


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


def is_known(exc: BaseException) -> bool:
    """Whether the CLI explains `exc` in its own paragraph (no traceback)."""
    return isinstance(exc, AutoMLError) or exit_code_for(exc) != 1


class _BriefKnownErrors(logging.Formatter):
    """A console formatter that shows a known error's log record in one line.

    Prefect logs a failed task or flow run with the exception's repr and
    traceback; for an error `automl` explains in its own paragraph just
    after, that is a screenful of noise. The record itself is left as it is,
    so the Prefect API (the dashboard) still receives the traceback.
    """

    def __init__(self, inner: logging.Formatter):
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not is_known(exc):
            return self.inner.format(record)
        brief = logging.makeLogRecord(record.__dict__)
        brief.msg, brief.args = f"{type(exc).__name__}, reported below", ()
        brief.exc_info, brief.exc_text = None, None
        return self.inner.format(brief)


@contextlib.contextmanager
def brief_known_errors(debug: bool) -> Iterator[None]:
    """Inside the block, Prefect's console shows known errors without traceback.

    Unchanged with `debug`: then the traceback is what the user asked for.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    consoles = [
        handler
        for logger in (logging.getLogger(), logging.getLogger("prefect"))
        for handler in logger.handlers
        if isinstance(handler, PrefectConsoleHandler)
    ]
    saved = [(handler, handler.formatter) for handler in consoles]
    if not debug:
        for handler, formatter in saved:
            handler.setFormatter(_BriefKnownErrors(formatter or logging.Formatter()))
    try:
        yield
    finally:
        for handler, formatter in saved:
            handler.setFormatter(formatter)


def import_tensorflow_quietly() -> None:
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
