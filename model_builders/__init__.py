"""Model families: each module's `build(hp, input_spec, num_classes)`.

A new family is one module and one line in `BUILDERS`. The module holds its
`build` and declares what the family can do in `CAPABILITIES` (a
`model_builders.capabilities.Capabilities`, e.g. whether XLA may compile it);
the search reads it through `capabilities(family)` and lists no family by
name. Importing the package registers the custom layers in
`model_builders.layers`, so saved models load with
`keras.saving.load_model(path, safe_mode=True)`.
"""

import inspect

from model_builders import cnn, layers, lstm, transformer
from model_builders.capabilities import Capabilities
from model_builders.input_spec import InputSpec

BUILDERS = {
    "cnn": cnn.build,
    "lstm": lstm.build,
    "transformer": transformer.build,
}


def capabilities(family: str) -> Capabilities:
    """What `family` declares in its module's `CAPABILITIES`; defaults if nothing."""
    module = inspect.getmodule(BUILDERS[family])
    return getattr(module, "CAPABILITIES", Capabilities())


__all__ = ["BUILDERS", "Capabilities", "InputSpec", "capabilities", "layers"]
