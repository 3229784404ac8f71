"""The one way a trial's model is built and compiled.

Raw input, the fitted normalisation, a family's body (the family is itself a
hyperparameter with conditional scopes, so one search compares families), a
softmax; compiled with one optimizer, loss and metric policy. Its `fit`
(Keras Tuner's documented hook) wires each trial's callbacks for resuming.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders import BUILDERS, capabilities
from tasks.preprocess import Preprocessing
from tasks.tuning.callbacks import BestEpochInMemory
from tasks.tuning.compat import SaveBestEpoch
from tasks.tuning.device import precision_policy, resolve_xla
from tasks.tuning.resume import ResumableEarlyStopping, TrialBackup


class PipelineHyperModel(kt.HyperModel):
    """Raw input -> normalisation -> a family's body -> softmax, compiled."""

    def __init__(
        self,
        preprocessing: Preprocessing,
        num_classes: int,
        families: list[str],
        xla: str = "auto",
        steps_per_execution: int = 1,
        dtype_policy: str = "float32",
    ):
        super().__init__(name="automl")
        self.dtype_policy = dtype_policy
        self.num_classes = num_classes
        self.preprocessing = preprocessing
        self.families = families
        self.xla = xla
        self.steps_per_execution = steps_per_execution

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        # Under the policy here, not around the search: Keras Tuner clears the
        # Keras session before each build, and that resets the global policy.
        with precision_policy(self.dtype_policy):
            return self._build_model(hp)

    def _build_model(self, hp: kt.HyperParameters) -> keras.Model:
        family = hp.Choice("family", self.families, default=self.families[0])
        with hp.conditional_scope("family", [family]):
            spec = self.preprocessing.input_spec
            body = BUILDERS[family](hp, spec, self.num_classes)
        learning_rate = hp.Float(
            "learning_rate", 1e-4, 1e-2, sampling="log", default=2e-3
        )
        inputs = self.preprocessing.inputs()
        if capabilities(family).raw_text:
            outputs = body(inputs)  # the family vectorizes the strings itself
        else:
            outputs = body(self.preprocessing.layer()(inputs))
        model = keras.Model(inputs, outputs, name=f"automl_{family}")
        compile_model(
            model,
            learning_rate,
            jit_compile=resolve_xla(self.xla, family),
            steps_per_execution=self.steps_per_execution,
        )
        return model

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        """Train one trial's model; a resumed trial goes on where it stopped.

        Keras Tuner has appended its own callbacks, one of which saves the
        best epoch's weights: replaced by one that keeps them in memory and
        writes them when training ends and before each backup, so a
        backed-up epoch's best weights are on disk too. The trial's backup
        (`TrialBackup`, added by the tuner) goes last; a resumed trial's best
        checkpoint is only replaced by an epoch better than those before the
        interruption, its early stopping keeps its patience, and the History
        Keras Tuner scores holds every epoch, those before the resume too.
        """
        backups = [c for c in callbacks if isinstance(c, TrialBackup)]
        others = [
            BestEpochInMemory.replacing(c) if type(c) is SaveBestEpoch else c
            for c in callbacks
            if not isinstance(c, TrialBackup)
        ]
        for backup in backups:
            for saver in (c for c in others if isinstance(c, BestEpochInMemory)):
                earlier = backup.earlier_values(saver.objective.name)
                if earlier:
                    pick = min if saver.objective.direction == "min" else max
                    saver.best_value = pick(earlier)
                backup.before_backup = saver.flush
            for stopper in (c for c in others if isinstance(c, ResumableEarlyStopping)):
                stopper.resumed_history = backup.earlier_values(stopper.monitor)
        history = model.fit(*args, callbacks=others + backups, **kwargs)
        for backup in backups:
            backup.whole_history(history)
        return history


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
