"""The data contract model, and where contracts come from (file, built-in, config)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from data_contracts.errors import ContractError

_BUILTIN_DIR = Path(__file__).resolve().parent
_BUILTIN_NAME = re.compile(r"[a-z0-9_-]+")
DEFAULT_SOURCE = "default from pipeline config"
# The largest |value| a float32 pipeline can normalise: the model's first layer
# divides by each channel's standard deviation, whose variance (at most the
# largest squared value) is a float32 weight. float32 ends at 3.4e38, so values
# must stay below its square root, 1.8e19; 1e18 squares to 1e36, which leaves
# room for sums of up to ~340 squares before float32 overflows.
FLOAT32_SAFE_MAX_ABS = 1e18


ColumnType = Literal["integer", "number", "string", "boolean"]


class ColumnSpec(BaseModel):
    """One field of a table: its type, whether it may be missing, its range.

    Example:
        >>> ColumnSpec(type="number", nullable=False, min_value=0, max_value=1)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ColumnType | None = None
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None


class DriftThresholds(BaseModel):
    """How far new data may move from the champion's training data.

    Args:
        label_shift: the largest change allowed in any label's share of the
            rows, in absolute terms (0.1 = ten percentage points).
        feature_psi: the largest population stability index allowed for any
            profiled statistic (0.1 small, 0.25 large, by common practice).
        action: `warn` records and prints the drift; `fail` stops the run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    label_shift: float | None = Field(default=0.1, gt=0.0, le=1.0)
    feature_psi: float | None = Field(default=0.25, gt=0.0)
    action: Literal["warn", "fail"] = "warn"


class DataContract(BaseModel):
    """What valid data looks like for one dataset; compiles to a GE suite.

    Array data (images, sequences) is checked through its per-example profile
    table (see `profile_arrays`), so `label`, the shape and the value range
    are columns of that table. Tables (texts, pixel columns) also have their
    `columns` checked as they are: presence, type, nulls, range.
    `max_imbalance` is the largest allowed ratio of the biggest class to the
    smallest; `duplicates` says what to do when more than
    `max_duplicate_fraction` of the examples repeat an earlier one (splits
    are by content digest, so copies always share a split); `drift`
    compares the data with the champion's training data. New checks are new
    optional fields with a default that keeps today's behaviour, plus one
    rule in `suite.py`.

    Two checks guard what training can use. `max_abs_value` (images,
    sequences and pixel tables; default `FLOAT32_SAFE_MAX_ABS`, 1e18): every
    value must be finite and within +-max_abs_value, because the pipeline
    normalises in float32 with each channel's variance, which must fit in
    float32 (at most 3.4e38, so values below its square root, 1.8e19); the
    failure names the column, or the example and its position. NaN stays
    governed by `allow_nan` (sequences pad with NaN). `labels_vs_champion`
    compares the labels with those of the champion's training data, once a
    champion exists: `fail` (the default) stops the run when a label the
    champion knows is missing, since the two models would not be comparable;
    `warn` only reports it, for a deliberate change of classes (the gate
    then keeps the champion, and `automl models promote --force` accepts
    the new model); `off` skips the comparison. Labels the champion never
    saw are a warning unless `off`.

    Example:
        >>> DataContract(name="digits", kind="image", labels=list(range(10)),
        ...              example_shape=[8, 8, 1], min_value=0, max_value=16)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["image", "sequence", "text"]
    label: str = Field(default="label", min_length=1)
    labels: list[str | int] | None = None
    min_rows: int = Field(default=1, ge=0)
    min_classes: int = Field(default=2, ge=1)
    min_examples_per_class: int = Field(default=1, ge=1)
    example_shape: list[int] | None = None
    min_value: float | None = None
    max_value: float | None = None
    allow_nan: bool = False
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    num_features: int | None = Field(default=None, ge=1)
    columns: dict[str, ColumnSpec] | None = None
    allow_extra_columns: bool = True
    max_imbalance: float | None = Field(default=None, ge=1.0)
    duplicates: Literal["allow", "warn", "fail"] = "allow"
    max_duplicate_fraction: float = Field(default=0.0, ge=0.0, lt=1.0)
    drift: DriftThresholds | None = None
    max_abs_value: float = Field(default=FLOAT32_SAFE_MAX_ABS, gt=0.0)
    labels_vs_champion: Literal["fail", "warn", "off"] = "fail"
    source: str = "<default>"

    @model_validator(mode="after")
    def _check_consistency(self) -> DataContract:
        if self.example_shape is not None and (
            not self.example_shape or min(self.example_shape) < 1
        ):
            raise ValueError(
                f"example_shape must be a non-empty list of positive sizes such as "
                f"[8, 8, 1]; received {self.example_shape}"
            )
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value > self.max_value
        ):
            raise ValueError(
                f"min_value ({self.min_value}) is greater than max_value "
                f"({self.max_value}); swap them"
            )
        if self.labels is not None:
            if len(set(self.labels)) != len(self.labels):
                raise ValueError(f"labels must be distinct; received {self.labels}")
            if len(self.labels) < self.min_classes:
                raise ValueError(
                    f"labels lists {len(self.labels)} classes but min_classes is "
                    f"{self.min_classes}; add labels or lower min_classes"
                )
        return self


def load_contract(path: str | Path) -> DataContract:
    """Read a contract from a YAML file.

    Args:
        path: the YAML file; its keys are the fields of `DataContract`.

    Returns:
        The contract, with `source` set to the file's path.

    Raises:
        ContractError: the file is missing, not YAML, or has unknown/invalid keys.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(
            f"Cannot read contract file '{path}': {exc.strerror or exc}. Expected a "
            "readable YAML file; fix the contract path in the pipeline config, or "
            "remove it to use the default contract."
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(
            f"Contract file '{path}' is not valid YAML: {_yaml_problem(exc)}. "
            "Fix the YAML syntax (indentation, 'key: value' pairs, quotes) and run "
            "again."
        ) from exc
    if not isinstance(data, dict):
        raise ContractError(
            f"Contract file '{path}' holds a {type(data).__name__}, expected a "
            f"mapping of contract keys ({_allowed_keys()}). Write one 'key: value' "
            "per line, e.g. 'name: digits' and 'kind: image'."
        )
    return _build(data | {"source": str(path)}, f"Contract file '{path}'")


def builtin_contract(name: str) -> DataContract | None:
    """The contract shipped with the package as `data_contracts/<name>.yaml`.

    Returns:
        The contract, or None when no built-in contract has that name.
    """
    path = _BUILTIN_DIR / f"{name}.yaml"
    if not _BUILTIN_NAME.fullmatch(name) or not path.is_file():
        return None
    return load_contract(path)


def default_contract(
    name: str,
    kind: str,
    label: str = "label",
    example_shape: list[int] | None = None,
    text_column: str | None = None,
) -> DataContract:
    """The contract for a dataset without a contract file, built from its config.

    It asks for what every pipeline needs: the label present and non-null, no
    NaN, consistent example shapes (equal to `example_shape` when given), at
    least two classes and at least one row; sequences and texts not empty, a
    text table's text column present. Drift from the champion's data and
    duplicate examples warn (the warning counts them: they are kept together
    in one split); a label the champion knows that the data lacks fails.

    Raises:
        ContractError: the config values do not make a valid contract.
    """
    fields = {
        "name": name,
        "kind": kind,
        "label": label,
        "example_shape": list(example_shape) if example_shape else None,
        "min_length": 1 if kind in ("sequence", "text") else None,
        "columns": {text_column: {"nullable": True}} if text_column else None,
        "drift": {"action": "warn"},
        "duplicates": "warn",
        "source": DEFAULT_SOURCE,
    }
    return _build(fields, f"The default contract for '{name}'")


def _build(fields: dict[str, Any], what: str) -> DataContract:
    try:
        return DataContract(**fields)
    except pydantic.ValidationError as exc:
        problems = "; ".join(_describe_error(error) for error in exc.errors())
        raise ContractError(
            f"{what} is invalid: {problems}. Allowed keys: {_allowed_keys()}. "
            "Fix these values and run again."
        ) from exc


def _describe_error(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key '{where}'"
    message = error["msg"].removeprefix("Value error, ")
    if not where:
        return message
    return f"'{where}': {message} (received {error['input']!r})"


def _allowed_keys() -> str:
    return ", ".join(key for key in DataContract.model_fields if key != "source")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return problem
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
