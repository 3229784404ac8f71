"""Model families: each module's `build(hp, input_spec, num_classes)`.

A new family is one module and one line in `BUILDERS`.
"""

from model_builders import cnn
from model_builders.input_spec import InputSpec

BUILDERS = {
    "cnn": cnn.build,
}

__all__ = ["BUILDERS", "InputSpec"]
