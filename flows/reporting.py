"""Known errors become one readable paragraph on stderr and a distinct exit code.

0 success, 1 anything unexpected, 2 bad usage, config or unreadable data, 3
data contract violated, 4 refused by the promotion gate, 5 a model file refused
because loading it could run code. `--debug` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import tempfile

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
