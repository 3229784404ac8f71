"""Random-convolution family: MiniRocket features and a linear classifier.

MiniRocket (Dempster et al., KDD 2021) matches far slower methods on the
UCR archive with about 10,000 random-convolution features and a linear
model; on OSULeaf it scores 0.958 where 1-NN scores 0.52. The transform is
a frozen `MiniRocketFeatures` layer fitted on a sample of the training
series (`InputSpec.reference_series`); only the linear head trains. The
search computes the features once per fit and trains the head on them
(`tasks.tuning.frozen_stem`): a 3-fold trial on OSULeaf took 43-62 s
against an FCN's 4-5 minutes; the published model still takes raw series.
"""

from __future__ import annotations

import keras
import keras_tuner as kt

from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec
from model_builders.rocket_layer import (
    MiniRocketFeatures,
    fit_minirocket,
    plan_dilations,
)

# Series only. XLA is left off: the transform unrolls into thousands of small
# ops, which XLA compiles slowly for no gain on a transform run once per fit.
CAPABILITIES = Capabilities(xla=False, kinds=("sequence",))

# The reference's 10,000 features, fewer on long series: the transform costs
# steps x features comparisons per series, kept under this many.
NUM_FEATURES = 10_000
MAX_COMPARISONS = 20_000_000
HEAD_NAME = "rocket_head"


def build(hp: kt.HyperParameters, input_spec: InputSpec, num_classes: int):
    """Build an uncompiled MiniRocket classifier: frozen features, linear head.

    The search space: the L2 penalty of the linear head (the reference's
    ridge regression chooses its penalty by cross-validation; 0.1 had the
    lowest validation loss of 1e-3, 1e-2, 0.1 and 0.3 on 3 folds of
    OSULeaf's training series) and dropout on the features.

    Args:
        hp: the trial's hyperparameters; names are scoped `rocket/...`.
        input_spec: a sequence spec with `reference_series`.
        num_classes: the number of output classes.

    Returns:
        An uncompiled `keras.Model`: the features layer, then a nested head
        model named `rocket_head`.

    Raises:
        ValueError: the spec is not a sequence, or has no reference series.
    """
    _check_spec(input_spec)
    l2 = hp.Float("rocket/l2", 1e-3, 1.0, sampling="log", default=0.1)
    dropout = hp.Choice("rocket/dropout", [0.0, 0.25, 0.5], default=0.0)
    steps = input_spec.shape[0]
    budget = max(NUM_FEATURES // 10, min(NUM_FEATURES, MAX_COMPARISONS // steps))
    dilations, per_dilation = plan_dilations(steps, budget)
    stem = MiniRocketFeatures(dilations, per_dilation, seed=0, name="minirocket")
    inputs = keras.Input(shape=input_spec.shape, name="rocket_input")
    features = stem(inputs)
    fit_minirocket(stem, input_spec.reference_series)
    head_input = keras.Input(shape=(stem.num_features,), name="features")
    x = keras.layers.Dropout(dropout)(head_input)
    probs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=keras.regularizers.L2(l2),
        name="probs",
        dtype="float32",
    )(x)
    head = keras.Model(head_input, probs, name=HEAD_NAME)
    return keras.Model(inputs, head(features), name="rocket")


def _check_spec(input_spec: InputSpec) -> None:
    if input_spec.kind != "sequence":
        raise ValueError(
            f"The rocket family received an InputSpec of kind {input_spec.kind!r}; "
            f"expected one of {list(CAPABILITIES.kinds)}. Leave 'rocket' out of "
            "search.families for image or text data."
        )
    if input_spec.reference_series is None or not len(input_spec.reference_series):
        raise ValueError(
            "The rocket family received a sequence InputSpec without "
            "reference_series; expected a sample of normalised training series "
            "to fit its biases. Build the spec with tasks.preprocess."
            "fit_preprocessing(x_train, kind='sequence').input_spec."
        )
