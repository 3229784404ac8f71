"""The one way a trial's model is built and compiled.

Raw input, the fitted normalisation, a family's body (the family is itself a
hyperparameter with conditional scopes, so one search compares families), a
softmax; compiled with one optimizer, loss and metric policy.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders import BUILDERS
from tasks.preprocess import Preprocessing
from tasks.tuning.device import resolve_xla


class PipelineHyperModel(kt.HyperModel):
    """Raw input -> normalisation -> a family's body -> softmax, compiled."""

    def __init__(
        self,
        preprocessing: Preprocessing,
        num_classes: int,
        families: list[str],
        xla: str = "auto",
        steps_per_execution: int = 1,
    ):
        super().__init__(name="automl")
        self.num_classes = num_classes
        self.preprocessing = preprocessing
        self.families = families
        self.xla = xla
        self.steps_per_execution = steps_per_execution

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        family = hp.Choice("family", self.families, default=self.families[0])
        with hp.conditional_scope("family", [family]):
            spec = self.preprocessing.input_spec
            body = BUILDERS[family](hp, spec, self.num_classes)
        learning_rate = hp.Float(
            "learning_rate", 1e-4, 1e-2, sampling="log", default=2e-3
        )
        inputs = self.preprocessing.inputs()
        outputs = body(self.preprocessing.layer()(inputs))
        model = keras.Model(inputs, outputs, name=f"automl_{family}")
        compile_model(
            model,
            learning_rate,
            jit_compile=resolve_xla(self.xla, family),
            steps_per_execution=self.steps_per_execution,
        )
        return model


def compile_model(
    model: keras.Model,
    learning_rate: float,
    jit_compile: bool = False,
    steps_per_execution: int = 1,
) -> None:
    """The one place models are compiled: Adam, cross-entropy, accuracy and F1."""
    model.compile(
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.F1Score(average="macro", name="f1_macro"),
        ],
    )
