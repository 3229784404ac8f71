"""The one way a trial's model is built and compiled.

Raw input, the fitted normalisation, a family's body (the family is itself a
hyperparameter with conditional scopes, so one search compares families), a
softmax; compiled with one optimizer, loss and metric policy (the training
hyperparameters and their recipe are `tasks.tuning.recipe`'s). Its `fit`
(Keras Tuner's documented hook) wires each trial's callbacks for resuming and
applies the recipe's class weights.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders import BUILDERS, capabilities
from tasks.preprocess import Preprocessing
from tasks.tuning import frozen_stem
from tasks.tuning.callbacks import BestEpochInMemory
from tasks.tuning.compat import SaveBestEpoch
from tasks.tuning.device import precision_policy, resolve_xla
from tasks.tuning.recipe import (
    TrainingRecipe,
    choose_training,
    learning_rate_schedule,
    make_loss,
    make_optimizer,
)
from tasks.tuning.resume import ResumableEarlyStopping, TrialBackup


class PipelineHyperModel(kt.HyperModel):
    """Raw input -> normalisation -> a family's body -> softmax, compiled.

    Args:
        recipe: the planned training steps (for the learning-rate schedule)
            and class weights; the default plans nothing: constant rates and
            no class weights.
    """

    def __init__(
        self,
        preprocessing: Preprocessing,
        num_classes: int,
        families: list[str],
        xla: str = "auto",
        steps_per_execution: int = 1,
        dtype_policy: str = "float32",
        recipe: TrainingRecipe | None = None,
    ):
        super().__init__(name="automl")
        self.dtype_policy = dtype_policy
        self.num_classes = num_classes
        self.preprocessing = preprocessing
        self.families = families
        self.xla = xla
        self.steps_per_execution = steps_per_execution
        self.recipe = recipe or TrainingRecipe()

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return self.build_planned(hp, None)

    def build_planned(
        self, hp: kt.HyperParameters, training_steps: int | None
    ) -> keras.Model:
        """`hp`'s model with its learning-rate schedule planned over `training_steps`.

        A refit trains for its trial's best epoch count with nothing to stop
        it: planned over its own steps, its warm-up and cosine decay end when
        it ends, so its last epochs train at a small rate. Under the trial's
        longer plan it would stop mid-schedule, near the peak rate, where its
        weights (and batch-norm statistics) are still moving. None, or a
        search that planned no schedule (constant rates), keeps the search's
        plan.
        """
        planned = self.recipe.training_steps
        steps = training_steps if planned and training_steps else planned
        # Under the policy here, not around the search: Keras Tuner clears the
        # Keras session before each build, and that resets the global policy.
        with precision_policy(self.dtype_policy):
            return self._build_model(hp, steps)

    def _build_model(
        self, hp: kt.HyperParameters, training_steps: int | None
    ) -> keras.Model:
        family = hp.Choice("family", self.families, default=self.families[0])
        with hp.conditional_scope("family", [family]):
            spec = self.preprocessing.input_spec
            body = BUILDERS[family](hp, spec, self.num_classes)
        choices = choose_training(hp, family, self.recipe.search_label_smoothing)
        inputs = self.preprocessing.inputs()
        if capabilities(family).raw_text:
            outputs = body(inputs)  # the family vectorizes the strings itself
        else:
            outputs = body(self.preprocessing.layer()(inputs))
        model = keras.Model(inputs, outputs, name=f"automl_{family}")
        compile_model(
            model,
            learning_rate_schedule(
                choices.learning_rate,
                training_steps,
                choices.lr_schedule,
            ),
            jit_compile=resolve_xla(self.xla, family),
            steps_per_execution=self.steps_per_execution,
            weight_decay=choices.weight_decay,
            label_smoothing=choices.label_smoothing,
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
        The recipe's class weights apply unless the caller passes its own.
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
        if self.recipe.class_weight is not None:
            kwargs.setdefault("class_weight", self.recipe.class_weight)
        # A body with a frozen stem (rocket) trains its head on features
        # computed once; any other model fits as it is.
        history = frozen_stem.fit(model, *args, callbacks=others + backups, **kwargs)
        for backup in backups:
            backup.whole_history(history)
        return history


def compile_model(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    jit_compile: bool = False,
    steps_per_execution: int = 1,
    weight_decay: float = 0.0,
    label_smoothing: float = 0.0,
) -> None:
    """The one place models are compiled: AdamW, cross-entropy, accuracy and F1.

    Args:
        model: the model to compile.
        learning_rate: a rate or a schedule (`recipe.learning_rate_schedule`).
        jit_compile, steps_per_execution: as `keras.Model.compile`'s.
        weight_decay: AdamW's decoupled decay; 0 trains as plain Adam.
        label_smoothing: the cross-entropy's smoothing of the one-hot labels.

    Under a `mixed_float16` policy Keras wraps the optimizer in a
    `LossScaleOptimizer` itself.
    """
    model.compile(
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
        optimizer=make_optimizer(learning_rate, weight_decay),
        loss=make_loss(label_smoothing),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.F1Score(average="macro", name="f1_macro"),
        ],
    )
