"""The one configuration object: a frozen pydantic model, loaded from YAML.

`PipelineConfig` is also the flow's only parameter, so Prefect validates it and
renders it as a form. The flow hands each task only its own slice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError

from flows.config_sections import (
    AugmentConfig,
    DataConfig,
    GateMetric,
    PublishConfig,
    SearchConfig,
    Section,
    TrainConfig,
)
from tasks.errors import ConfigError

__all__ = [
    "PRESETS",
    "AugmentConfig",
    "DataConfig",
    "GateMetric",
    "PipelineConfig",
    "PublishConfig",
    "SearchConfig",
    "TrainConfig",
    "apply_preset",
    "demo_config",
    "load_config",
    "load_pipeline_config",
    "parse_config",
]


class PipelineConfig(Section):
    """A whole pipeline: data, contract, search, gate, and where outputs go."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", max_length=64)]
    data: DataConfig = Field(default_factory=DataConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    seed: int = 0
    output_dir: str = "automl-output"


def demo_config() -> PipelineConfig:
    """The built-in digits demo: sklearn's 8x8 digits, the CNN family."""
    return PipelineConfig(
        name="digits",
        data=DataConfig(source="sklearn:digits", kind="image", image_shape=[8, 8, 1]),
        augment=AugmentConfig(rotation=0.03, zoom=0.05, translation=0.05),
        search=SearchConfig(
            families=["cnn"],
            tuner="bayesian",
            max_trials=6,
            epochs=40,
            patience=6,
            time_budget_minutes=3.0,
        ),
    )


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # A first answer in about a minute on a laptop: a few short trials.
    "quick": {
        "search": {
            "max_trials": 8,
            "epochs": 40,
            "patience": 6,
            "time_budget_minutes": 0.6,
        },
        "train": {"steps_per_execution": 8},
    },
}


def apply_preset(config: PipelineConfig, preset: str) -> PipelineConfig:
    """The config with a preset's settings laid over its sections.

    Raises:
        ConfigError: an unknown preset.
    """
    if preset not in PRESETS:
        raise ConfigError(
            f"Received the preset {preset!r}; expected one of {sorted(PRESETS)}."
        )
    raw = config.model_dump()
    for section, values in PRESETS[preset].items():
        raw[section] = {**raw[section], **values}
    return parse_config(raw, source=f"preset {preset!r}")


def parse_config(raw: Any, source: str = "<config>") -> PipelineConfig:
    """Validate a mapping into a `PipelineConfig`, with a readable error.

    Raises:
        ConfigError: naming each bad key, what was received and what is expected.
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: received a {type(raw).__name__}, expected a mapping of "
            "config keys (name, data, search, ...). Start from examples/digits.yaml."
        )
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(
            f"{source} is not a valid pipeline config: {problems}. "
            "Fix these keys (see examples/ and the README's config reference)."
        ) from None


def load_config(path: str | Path) -> PipelineConfig:
    """Read a YAML config file with a safe loader and validate it.

    Raises:
        ConfigError: the file is missing, is not YAML, or fails validation.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"Config file {str(path)!r} does not exist. Pass the path of a YAML "
            "config (see examples/), or run `automl run` alone for the digits demo."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Config file {str(path)!r} is not valid YAML ({exc}). "
            "Fix the syntax; examples/ holds working configs."
        ) from None
    return parse_config(raw, source=str(path))


def load_pipeline_config(
    path: str | Path | None, output_dir: str | Path | None = None
) -> PipelineConfig:
    """The config at `path` (the digits demo when None), with `output_dir` if given.

    Raises:
        ConfigError: as `load_config`.
    """
    config = demo_config() if path is None else load_config(path)
    if output_dir is not None:
        config = config.model_copy(update={"output_dir": str(output_dir)})
    return config


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    if error["type"] == "missing":
        return f"missing required key {where!r}"
    received = error.get("input")
    message = error["msg"]
    return f"{where!r}: {message} (received {received!r})"
