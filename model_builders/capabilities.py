"""What a model family can do beyond building, declared in its own module.

Each family module sets `CAPABILITIES = Capabilities(...)`; the search reads
it through `model_builders.capabilities(family)`, so nothing elsewhere lists
families by name. A family that declares nothing gets the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """A model family's capabilities.

    Args:
        xla: whether XLA (`jit_compile`) may compile the family's models on a
            GPU. False for LSTMs: Keras picks the cuDNN kernel on GPU, which
            XLA cannot compile.
        raw_text: whether the family reads the raw strings and vectorizes
            them itself (from the vocabularies in its `InputSpec`), instead
            of the token ids of the fitted preprocessing layer.
        kinds: the data kinds the family can build a model for.
    """

    xla: bool = False
    raw_text: bool = False
    kinds: tuple[str, ...] = ("image", "sequence", "text")
