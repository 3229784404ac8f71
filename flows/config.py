"""The one configuration object: a frozen pydantic model, loaded from YAML.

`PipelineConfig` is also the flow's only parameter, so Prefect validates it and
renders it as a form. The flow hands each task only its own slice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks.errors import ConfigError

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Section):
    """Where the examples come from and what they are."""

    source: str = Field(
        "sklearn:digits",
        description="sklearn:digits, a .csv .tsv .parquet .npz file, "
        "or an image folder with one subfolder per class",
    )
    kind: Literal["image", "sequence", "text"] = "image"
    label: str = Field("label", description="label column (tables)")
    text_column: str = Field("text", description="text column (text kind, tables)")
    image_shape: list[PositiveInt] | None = Field(
        None, description="images given as pixel columns: (height, width, channels)"
    )
    image_size: list[PositiveInt] | None = Field(
        None, description="image folders: resize to (height, width)"
    )
    sequence_id: str | None = Field(
        None, description="long-format sequence tables: the column naming each series"
    )
    step: str | None = Field(
        None, description="long-format sequence tables: the column ordering steps"
    )
    text_length: PositiveInt = Field(
        128, description="text: tokens kept per example (longer texts are cut)"
    )
    max_tokens: PositiveInt = Field(
        20000, description="text: vocabulary size, learnt from the train split"
    )
    contract: str | None = Field(
        None,
        description="a contract YAML path or a built-in contract name; "
        "default: the built-in one for the source, else one derived from this config",
    )
    test_fraction: Fraction = 0.2
    validation_fraction: Fraction = 0.1

    def loader_options(self) -> dict[str, Any]:
        """The keyword arguments of `tasks.load.load_dataset` for this source."""
        return self.model_dump(
            include={"kind", "label", "sequence_id", "step", "image_size"}
        )

    def reader_options(self) -> dict[str, Any]:
        """How examples are read from the loaded data (profiling, examples)."""
        return self.model_dump(include={"label", "text_column", "image_shape"})

    @model_validator(mode="after")
    def _check_shapes(self) -> DataConfig:
        if self.image_shape is not None and len(self.image_shape) != 3:
            raise ValueError(
                f"image_shape must be [height, width, channels], got {self.image_shape}"
            )
        if (self.sequence_id is None) != (self.step is None):
            raise ValueError(
                "long-format sequences need both sequence_id and step columns"
            )
        if self.image_size is not None and len(self.image_size) != 2:
            raise ValueError(
                f"image_size must be [height, width], got {self.image_size}"
            )
        if self.test_fraction + self.validation_fraction >= 0.9:
            raise ValueError(
                "test_fraction + validation_fraction must leave at least 10% "
                f"for training, got {self.test_fraction} + {self.validation_fraction}"
            )
        return self


class AugmentConfig(_Section):
    """Train-only augmentation; off for any transform that would change a label."""

    enabled: bool = True
    flip: Literal["none", "horizontal", "vertical", "both"] = "none"
    rotation: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    zoom: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    translation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    contrast: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.0, description="sequences: Gaussian noise in units of each feature's std"
    )
    scaling: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.0, description="sequences: std of a random gain around 1 per series"
    )
    shift: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="sequences: time shift up to this fraction of the steps"
    )
    token_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="text: share of words dropped at random"
    )


class SearchConfig(_Section):
    """What Keras Tuner searches and for how long."""

    families: list[str] = Field(default_factory=lambda: ["cnn"], min_length=1)
    tuner: Literal["random", "bayesian", "hyperband"] = "bayesian"
    max_trials: PositiveInt = 20
    epochs: PositiveInt = 20
    batch_size: PositiveInt = 32
    patience: Annotated[int, Field(ge=0)] = 5
    time_budget_minutes: Annotated[float, Field(gt=0)] = 10.0
    objective: Literal["val_f1_macro", "val_accuracy", "val_loss"] = "val_f1_macro"


class TrainConfig(_Section):
    """How each trial trains on the device: compilation and numeric precision."""

    xla: Literal["auto", "on", "off"] = Field(
        "auto",
        description="XLA (jit_compile): auto = on GPU for the CNN and Transformer "
        "families, off for the LSTM (cuDNN) and on CPU",
    )
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "auto",
        description="auto = mixed_bfloat16 on GPUs that support it (compute "
        "capability 8.0+), float32 elsewhere; outputs stay float32",
    )
    steps_per_execution: PositiveInt = Field(
        1, description="batches per compiled step; more cuts overhead for tiny models"
    )
    strategy: Literal["default", "mirrored"] = Field(
        "default",
        description="mirrored = each trial builds and fits under "
        "tf.distribute.MirroredStrategy, over all of the machine's GPUs",
    )
    backup_seconds: Annotated[float, Field(ge=0.0)] = Field(
        30.0,
        description="a running trial backs up its weights, optimizer and epoch "
        "at an epoch end once this long has passed since its last backup: what "
        "--resume goes on from; 0 backs up every epoch",
    )


GateMetric = Literal[
    "accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro"
]


class PublishConfig(_Section):
    """The champion/challenger gate."""

    metric: GateMetric = "f1_macro"
    min_improvement: Annotated[float, Field(ge=0.0)] = 0.0
    thresholds: dict[GateMetric, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        description="absolute floors a champion must meet, e.g. {accuracy: 0.9}",
    )
    min_class_recall: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        None, description="a floor on every class's recall"
    )


class PipelineConfig(_Section):
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
