"""Model families: each module's `build(hp, input_spec, num_classes)`.

A new family is one module and one line in `BUILDERS`. Importing the package
registers the custom layers in `model_builders.layers`, so saved models load
with `keras.saving.load_model(path, safe_mode=True)`.
"""

from model_builders import cnn, layers, lstm, transformer
from model_builders.input_spec import InputSpec

BUILDERS = {
    "cnn": cnn.build,
    "lstm": lstm.build,
    "transformer": transformer.build,
}

__all__ = ["BUILDERS", "InputSpec", "layers"]
