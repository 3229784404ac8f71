"""The config's sections (data, augment, search, train, publish), one model each.

`flows.config.PipelineConfig` puts them together; import them from there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class Section(BaseModel):
    """A frozen part of the config that refuses unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(Section):
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
    cache_megabytes: Annotated[int, Field(ge=0)] = Field(
        512,
        description="image folders: decoded pixels (uint8) are kept in memory "
        "when all of them fit in this many MB; else every epoch decodes again. "
        "Tables larger on disk than this (or than 64 MB) are read in batches",
    )
    sequence_id: str | None = Field(
        None, description="long-format sequence tables: the column naming each series"
    )
    step: str | None = Field(
        None, description="long-format sequence tables: the column ordering steps"
    )
    text_length: PositiveInt | None = Field(
        None,
        description="text: tokens kept per example (longer texts are cut); "
        "unset: what holds 95% of the training texts whole (8 to 512)",
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
            include={
                "kind",
                "label",
                "sequence_id",
                "step",
                "image_size",
                "cache_megabytes",
                "text_column",
                "image_shape",
            }
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


class AugmentConfig(Section):
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


class SearchConfig(Section):
    """What Keras Tuner searches, for how long, and what it publishes.

    Left unset, the training length, the number of trials, the validation
    scheme, the refit and the ensemble adapt to the data (see the README's
    "Search defaults").
    """

    families: list[str] | None = Field(
        None,
        min_length=1,
        description="model families to search, first first; unset: the "
        "measured defaults for the data kind (model_builders.DEFAULT_FAMILIES)",
    )
    tuner: Literal["random", "bayesian", "hyperband"] = "bayesian"
    max_trials: PositiveInt | None = Field(
        None,
        description="at most this many trials; unset: as many as the budget allows",
    )
    epochs: PositiveInt | None = Field(
        None, description="epochs per trial; unset: from the number of examples"
    )
    batch_size: PositiveInt | None = Field(
        None, description="unset: from the number of examples (8 to 64)"
    )
    patience: Annotated[int, Field(ge=0)] | None = Field(
        None, description="early-stopping patience; unset: a tenth of the epochs"
    )
    time_budget_minutes: Annotated[float, Field(gt=0)] = 10.0
    objective: Literal["val_f1_macro", "val_accuracy", "val_loss"] | None = Field(
        None,
        description="what ranks trials; unset: val_loss when cross-validating "
        "(on a few dozen examples accuracy and F1 tie, loss does not), else "
        "val_f1_macro",
    )
    validation: Literal["auto", "holdout", "kfold"] = Field(
        "auto",
        description="auto = k-fold cross-validation on train+validation when the "
        "validation split is too small to rank trials, else the validation split",
    )
    folds: Annotated[int, Field(ge=2)] | None = Field(
        None, description="k of k-fold; unset: from the number of examples"
    )
    refit: Literal["auto", "always", "never"] = Field(
        "auto",
        description="retrain the chosen configurations on train+validation for "
        "their best number of epochs; auto = when cross-validating",
    )
    ensemble_size: PositiveInt | None = Field(
        None,
        description="the published model averages the top-k configurations' "
        "probabilities; unset: up to 5 when cross-validating (as far as the "
        "refits fit a quarter of the budget), else 1",
    )


class TrainConfig(Section):
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


class PublishConfig(Section):
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
    max_p_value: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        None,
        description="keep the champion unless the candidate is significantly "
        "better: McNemar's exact p-value on the test examples the champion never "
        "trained on at most this (e.g. 0.05); off when unset",
    )
