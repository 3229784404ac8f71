"""`automl contract init` and `automl validate` on the real shared datasets.

A bootstrapped contract must pass on the data it was made from and fail on a
corrupted copy, with exit code 3 and the problem named.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_digits
from typer.testing import CliRunner

# Imported here, not first inside CliRunner: Prefect binds its log handlers to
# the stderr of the moment it is imported, and CliRunner's closes after a call.
import flows.validation  # noqa: F401
from flows.cli.main import app

DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}"
)


def _config(tmp_path: Path, name: str, stem: str, **data) -> Path:
    path = tmp_path / f"{stem}.yaml"
    config = {"name": name, "data": data, "output_dir": str(tmp_path / "out")}
    path.write_text(yaml.safe_dump(config))
    return path


def _init_then_validate(tmp_path: Path, name: str, **data) -> Path:
    """Bootstrap a contract from `data`, check the data passes it; its path."""
    contract = tmp_path / "contracts" / f"{name}.yaml"
    config = _config(tmp_path, name, "reference", **data)
    result = CliRunner().invoke(
        app, ["contract", "init", str(config), "--out", str(contract)]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {contract}" in result.output
    checked = _config(tmp_path, name, "checked", contract=str(contract), **data)
    result = CliRunner().invoke(app, ["validate", str(checked)])
    assert result.exit_code == 0, result.output
    assert f"Data contract '{name}' passed" in result.output
    return contract


def _validate(tmp_path: Path, name: str, contract: Path, **data):
    config = _config(tmp_path, name, "corrupted", contract=str(contract), **data)
    return CliRunner().invoke(app, ["validate", str(config)])


def test_digits_contract_passes_digits_and_fails_a_corrupted_copy(tmp_path):
    contract = _init_then_validate(
        tmp_path, "digits", source="sklearn:digits", kind="image"
    )
    digits = load_digits()
    x, y = digits.images[..., None].copy(), digits.target.copy()
    x[[4, 9], 3, 3, 0] = 40.0  # outside 0..16
    y[17] = 11  # not a digit
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    result = _validate(
        tmp_path, "digits", contract, source=str(tmp_path / "bad.npz"), kind="image"
    )
    assert result.exit_code == 3, result.output
    assert "on 'max'" in result.stderr and "[40.0]" in result.stderr
    assert "on 'label'" in result.stderr and "[11]" in result.stderr


@needs_shared
def test_sms_spam_contract_passes_and_fails_a_corrupted_copy(tmp_path):
    source = DATASETS / "sms_spam" / "SMSSpamCollection.tsv"
    data = {"kind": "text", "label": "Label", "text_column": "SMS"}
    contract = _init_then_validate(tmp_path, "sms", source=str(source), **data)
    table = pd.read_csv(source, sep="\t", quoting=3)
    table.loc[[3, 8], "Label"] = "spma"
    table["Extra"] = 1
    bad = tmp_path / "bad.tsv"
    table.to_csv(bad, sep="\t", index=False, quoting=3)
    result = _validate(tmp_path, "sms", contract, source=str(bad), **data)
    assert result.exit_code == 3, result.output
    assert "expect_table_columns_to_match_set" in result.stderr
    assert "on 'Label'" in result.stderr and "'spma'" in result.stderr


@needs_shared
def test_basicmotions_contract_passes_and_fails_a_corrupted_copy(tmp_path):
    source = DATASETS / "ucr" / "BasicMotions.npz"
    contract = _init_then_validate(
        tmp_path, "motions", source=str(source), kind="sequence"
    )
    with np.load(source) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["x_train"][2, 40, 1] = 1e30
    arrays["x_test"][5, 10:20, :] = np.nan  # a gap inside a series, not padding
    np.savez(tmp_path / "bad.npz", **arrays)
    result = _validate(
        tmp_path, "motions", contract, source=str(tmp_path / "bad.npz"), kind="sequence"
    )
    assert result.exit_code == 3, result.output
    assert "on 'max'" in result.stderr and "e+30" in result.stderr
    assert "on 'nan_count'" in result.stderr


def test_contract_init_refuses_to_overwrite_without_force(tmp_path):
    config = _config(tmp_path, "digits", "c", source="sklearn:digits", kind="image")
    existing = tmp_path / "mine.yaml"
    existing.write_text("name: mine\n")
    result = CliRunner().invoke(
        app, ["contract", "init", str(config), "--out", str(existing)]
    )
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert existing.read_text() == "name: mine\n"


def test_validate_reports_an_unreadable_source_with_exit_2(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    config = _config(tmp_path, "x", "c", source=str(tmp_path / "empty.csv"))
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 2
    assert "empty.csv" in result.stderr and "Traceback" not in result.output
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
