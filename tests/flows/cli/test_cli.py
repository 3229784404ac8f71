"""CLI errors: one readable paragraph and a distinct exit code, no traceback."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from tests.helpers import run_automl


@pytest.mark.parametrize(
    "content, match",
    [
        ("name: d\nsearch:\n  max_trialz: 3\n", "unknown key 'search.max_trialz'"),
        ("name: d\nsearch:\n  epochs: lots\n", "received 'lots'"),
        ("name: [oops\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2_with_one_paragraph(tmp_path, content, match):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert match in result.stderr
    assert "Traceback" not in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["run", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_missing_data_file_exits_2(prefect_harness, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        f"name: d\ndata:\n  source: {tmp_path / 'gone.csv'}\n"
        f"output_dir: {tmp_path / 'out'}\n"
    )
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "gone.csv' does not exist" in result.stderr


@pytest.mark.slow  # a fresh console-script process (~10 s): `make test-slow`
def test_installed_console_script_reports_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: d\nbogus: 1\n")
    completed = subprocess.run(
        [sys.executable, "-m", "flows.cli.main", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "unknown key 'bogus'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_help_lists_run():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0 and "run" in result.output


# Two flow runs in fresh processes (~40 s): `make test-slow`, which CI runs.
@pytest.mark.slow
def test_an_error_inside_the_flow_is_one_paragraph_without_traceback(tmp_path):
    # The missing file is found by the load task inside the Prefect flow run,
    # whose engine logs the failure to the console with a traceback.
    path = tmp_path / "c.yaml"
    path.write_text(
        f"name: d\ndata:\n  source: {tmp_path / 'gone.csv'}\n"
        f"output_dir: {tmp_path / 'out'}\n"
    )
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect-home"))
    brief = run_automl(env, "run", str(path), "--no-progress")
    assert brief.returncode == 2, brief.stderr
    assert "Traceback" not in brief.stderr
    assert "DataError, reported below" in brief.stderr  # Prefect's line, brief
    paragraph = brief.stderr.split("error: ", 1)[1]
    assert "gone.csv' does not exist" in paragraph
    debug = run_automl(env, "run", str(path), "--no-progress", "--debug")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "gone.csv" in debug.stderr
