"""The bad-input corpus: each case stops `automl run` before training.

Every case runs the real CLI into a registry that already has a champion, and
checks the exit code (3 for a violated contract, 2 for an unreadable file),
that the message names the problem, and that nothing was published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config import PipelineConfig
from flows.pipeline import automl_pipeline

NAME = "corpus"
QUICK_SEARCH = {
    "tuner": "random",
    "validation": "holdout",
    "max_trials": 1,
    "epochs": 1,
    "patience": 1,
}
WORDS = {"ham": "see you at lunch later home", "spam": "win free cash prize claim now"}


def _texts(rows_per_class: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        [
            {"text": " ".join(rng.choice(vocab.split(), size=5)), "label": label}
            for label, vocab in WORDS.items()
            for _ in range(rows_per_class)
        ]
    )


def _series(steps: int = 12, count: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, steps, 2)).astype("float32")
    return x, np.repeat(["up", "down"], count // 2)


@pytest.fixture(scope="module")
def registry(prefect_harness, tmp_path_factory) -> Path:
    """An output folder whose registry holds a champion for the pipeline."""
    output = tmp_path_factory.mktemp("corpus")
    _texts().to_csv(output / "good.csv", index=False)
    config = PipelineConfig(
        name=NAME,
        data={"source": str(output / "good.csv"), "kind": "text", "text_length": 6},
        augment={"enabled": False},
        search=QUICK_SEARCH,
        output_dir=str(output),
    )
    automl_pipeline(config)
    return output


def _state(output: Path) -> tuple[list[str], str]:
    pipeline = output / "registry" / NAME
    versions = sorted(p.name for p in pipeline.iterdir() if p.name.startswith("v"))
    return versions, (pipeline / "champion.json").read_text()


# Each case writes its data (and maybe a contract) under a folder and returns
# the `data` section of the config.
Case = Callable[[Path], dict]


def _csv(folder: Path, frame: pd.DataFrame, **data) -> dict:
    frame.to_csv(folder / "data.csv", index=False)
    return {"source": str(folder / "data.csv"), "kind": "text", **data}


def _raw_file(folder: Path, name: str, content: bytes, **data) -> dict:
    (folder / name).write_bytes(content)
    return {"source": str(folder / name), "kind": "text", **data}


def _contract(folder: Path, **fields) -> str:
    path = folder / "contract.yaml"
    path.write_text(yaml.safe_dump({"name": NAME, **fields}))
    return str(path)


def _npz(folder: Path, x: np.ndarray, y: np.ndarray, kind: str, **data) -> dict:
    np.savez(folder / "data.npz", x=x, y=y)
    return {"source": str(folder / "data.npz"), "kind": kind, **data}


def _image_folder(folder: Path, sizes: list[tuple[int, int]]) -> Path:
    for i, (width, height) in enumerate(sizes):
        class_dir = folder / "images" / ("a" if i % 2 else "b")
        class_dir.mkdir(parents=True, exist_ok=True)
        pixels = np.full((height, width), 40 * (i % 2) + 10, dtype="uint8")
        Image.fromarray(pixels).save(class_dir / f"{i}.png")
    return folder / "images"


def missing_label_column(folder: Path) -> dict:
    return _csv(folder, _texts().drop(columns=["label"]))


def missing_text_column(folder: Path) -> dict:
    return _csv(folder, _texts().rename(columns={"text": "body"}))


def extra_column(folder: Path) -> dict:
    columns = {"text": {"type": "string"}, "label": {"type": "string"}}
    contract = _contract(
        folder, kind="text", columns=columns, allow_extra_columns=False
    )
    return _csv(folder, _texts().assign(source="web"), contract=contract)


def wrong_types(folder: Path) -> dict:
    contract = _contract(folder, kind="text", columns={"text": {"type": "string"}})
    frame = _texts().assign(text=np.arange(24) * 1000)
    return _csv(folder, frame, contract=contract)


def nan_inside_series(folder: Path) -> dict:
    x, y = _series()
    x[3, 4, 1] = np.nan  # inside the series, not end padding
    return _npz(folder, x, y, "sequence")


def header_only_file(folder: Path) -> dict:
    return _raw_file(folder, "data.csv", b"text,label\n")


def zero_byte_file(folder: Path) -> dict:
    return _raw_file(folder, "data.csv", b"")


def single_class(folder: Path) -> dict:
    return _csv(folder, _texts().assign(label="ham"))


def unseen_label(folder: Path) -> dict:
    contract = _contract(folder, kind="text", labels=["ham", "spam"])
    frame = _texts()
    frame.loc[[2, 5], "label"] = "eggs"
    return _csv(folder, frame, contract=contract)


def truncated_png(folder: Path) -> dict:
    images = _image_folder(folder, [(8, 8)] * 6)
    png = images / "a" / "1.png"
    png.write_bytes(png.read_bytes()[:40])
    return {"source": str(images), "kind": "image"}


def wrong_image_sizes(folder: Path) -> dict:
    images = _image_folder(folder, [(8, 8)] * 5 + [(12, 9)])
    return {"source": str(images), "kind": "image"}


def non_utf8_text(folder: Path) -> dict:
    return _raw_file(folder, "data.csv", b"text,label\n\xff\xfe caf\xe9,ham\nhi,spam\n")


def ragged_rows(folder: Path) -> dict:
    return _raw_file(folder, "data.csv", b"text,label\nhello,ham\nwin,spam,extra,x\n")


def sequences_longer_than_declared(folder: Path) -> dict:
    contract = _contract(folder, kind="sequence", max_length=12)
    x, y = _series(steps=20)
    return _npz(folder, x, y, "sequence", contract=contract)


def huge_values(folder: Path) -> dict:
    contract = _contract(folder, kind="sequence", min_value=-10, max_value=10)
    x, y = _series()
    x[7, 2, 0] = 1e30
    return _npz(folder, x, y, "sequence", contract=contract)


def duplicated_rows(folder: Path) -> dict:
    contract = _contract(
        folder, kind="text", duplicates="fail", max_duplicate_fraction=0.1
    )
    frame = _texts()
    frame = pd.concat([frame, frame.iloc[:6]], ignore_index=True)
    return _csv(folder, frame, contract=contract)


def champion_label_missing(folder: Path) -> dict:
    frame = _texts()  # an upstream filter turned every "spam" into "eggs"
    return _csv(folder, frame.assign(label=frame["label"].replace("spam", "eggs")))


def pixel_column_holding_1e30(folder: Path) -> dict:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(12, 4)).astype(float)
    frame = pd.DataFrame(pixels, columns=["p0", "p1", "p2", "p3"])
    frame.loc[4, "p2"] = 1e30  # fits float32, but its square does not
    frame["label"] = np.tile(["a", "b"], 6)
    return {**_csv(folder, frame), "kind": "image", "image_shape": [2, 2, 1]}


def empty_long_sequence_table(folder: Path) -> dict:
    return _raw_file(
        folder,
        "data.csv",
        b"series,step,value,label\n",
        kind="sequence",
        sequence_id="series",
        step="step",
    )


CORPUS: list[tuple[Case, int, str]] = [
    (missing_label_column, 3, "expect_column_to_exist on 'label'"),
    (missing_text_column, 3, "expect_column_to_exist on 'text'"),
    (extra_column, 3, r"expect_table_columns_to_match_set.*source"),
    (wrong_types, 3, r"expect_column_values_to_be_in_type_list on 'text'"),
    (nan_inside_series, 3, r"on 'nan_count'.*at rows \[3\]"),
    (header_only_file, 3, r"expect_table_row_count_to_be_between.*observed 0"),
    (zero_byte_file, 2, r"data.csv is empty"),
    (single_class, 3, r"unique_value_count.*on 'label'.*\['ham'\]"),
    (unseen_label, 3, r"values_to_be_in_set on 'label'.*\['eggs'\]"),
    (truncated_png, 2, r"1.png is not a readable image"),
    (wrong_image_sizes, 3, r"on 'shape'.*9x12x1"),
    (non_utf8_text, 2, r"encoding \(UTF-8\)"),
    (ragged_rows, 2, r"could not be read.*Expected 2 fields"),
    (sequences_longer_than_declared, 3, r"on 'length'.*<= 12.*20"),
    (huge_values, 3, r"on 'max'.*\[1\.0+\d*e\+30\]"),
    (duplicated_rows, 3, r"on 'duplicate'.*6 duplicates \(20\.0%\)"),
    (
        champion_label_missing,
        3,
        r"received labels \['eggs', 'ham'\], the champion v\d{4} was trained on "
        r"\['ham', 'spam'\], missing \['spam'\].*promote --force",
    ),
    (pixel_column_holding_1e30, 3, r"on 'magnitude'.*1e\+30 in column 'p2', row 4"),
    (empty_long_sequence_table, 2, r"sequence table .*data.csv has no rows"),
]


@pytest.mark.parametrize(
    "case, exit_code, message", CORPUS, ids=[case.__name__ for case, *_ in CORPUS]
)
def test_bad_input_stops_the_run_and_publishes_nothing(
    registry, tmp_path, case, exit_code, message
):
    before = _state(registry)
    config = {
        "name": NAME,
        "data": case(tmp_path),
        "search": QUICK_SEARCH,
        "output_dir": str(registry),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))

    result = CliRunner().invoke(app, ["run", str(path)])

    assert result.exit_code == exit_code, result.output
    error = " ".join(result.stderr.split())
    assert error.startswith("error: ")
    assert "Traceback" not in result.output
    assert len(error) > 60  # one readable paragraph, not a bare exception name
    assert re.search(message, error), error
    assert _state(registry) == before
    assert not list((registry / "registry" / NAME).glob(".tmp-*"))
    champion = json.loads(before[1])
    assert (registry / "registry" / NAME / champion["version"] / "model.keras").exists()
