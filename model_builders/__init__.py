"""Model families: each module's `build(hp, input_spec, num_classes)`.

A new family is one module and one line in `BUILDERS`. The module holds its
`build` and declares what the family can do in `CAPABILITIES` (a
`model_builders.capabilities.Capabilities`, e.g. whether XLA may compile it);
the search reads it through `capabilities(family)` and lists no family by
name. A family declaring `raw_text` (the n-gram family) gets the raw strings
instead of token ids, and `kinds` says which data kinds it supports.
Importing the package registers the custom layers in `model_builders.layers`,
so saved models load with `keras.saving.load_model(path, safe_mode=True)`.
"""

import inspect

from model_builders import cnn, layers, lstm, ngram, rocket, transformer
from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec

BUILDERS = {
    "cnn": cnn.build,
    "lstm": lstm.build,
    "ngram": ngram.build,
    "rocket": rocket.build,
    "transformer": transformer.build,
}


# What a config that names no families searches; each family's defaults run
# first, in this order. Measured on the shared datasets (benchmarks/
# RESULTS.md): the CNN (an FCN on series) beat the LSTM and the Transformer
# on every image and series set; on series MiniRocket's features with a
# linear head (rocket) train in seconds and match the FCN's accuracy; on
# text the n-gram TF-IDF family is the strong small-data baseline, with the
# CNN as the alternative.
DEFAULT_FAMILIES = {
    "image": ("cnn",),
    "sequence": ("rocket", "cnn"),
    "text": ("ngram", "cnn"),
}


def default_families(kind: str) -> list[str]:
    """The families a search over `kind` data tries when the config names none."""
    return list(DEFAULT_FAMILIES[kind])


def capabilities(family: str) -> Capabilities:
    """What `family` declares in its module's `CAPABILITIES`; defaults if nothing."""
    module = inspect.getmodule(BUILDERS[family])
    return getattr(module, "CAPABILITIES", Capabilities())


__all__ = [
    "BUILDERS",
    "DEFAULT_FAMILIES",
    "Capabilities",
    "InputSpec",
    "capabilities",
    "default_families",
    "layers",
]
