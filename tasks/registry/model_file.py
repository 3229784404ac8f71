"""Reading a published `model.keras`: the one way any command loads a model.

A `.keras` file is a zip of `config.json` and weights. Keras rebuilds the
model from the config, and a `Lambda` layer's config may carry Python
bytecode that runs while the model is rebuilt. Loading with
`safe_mode=True` refuses that; this module turns the refusal, and a missing
or damaged file, into an error that names the file and says what to do.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from tasks.errors import RegistryError, UnsafeModelError

# How Keras words a refusal under safe_mode (Lambda bytecode, non-modeling
# APIs, classes outside Keras): any of these means "this file would run code".
_REFUSALS = ("safe_mode", "arbitrary code execution", "disallowed", "KerasSaveable")


def load_published_model(path: str | Path) -> keras.Model:
    """Load a `.keras` file with `safe_mode=True`; nothing in it is executed.

    Args:
        path: a `model.keras`, usually `<registry>/<name>/<version>/model.keras`.

    Returns:
        The model, with this project's custom layers (registered by
        `model_builders`) rebuilt from their configs.

    Raises:
        UnsafeModelError: Keras refused the file because loading it could run
            code (a `Lambda` layer holding a Python lambda, and the like).
        RegistryError: the file is missing, truncated or not a `.keras` file.
    """
    import model_builders  # noqa: F401  (registers the custom layers)

    path = Path(path)
    if not path.is_file():
        raise RegistryError(
            f"Received the model file {path}, which does not exist; expected "
            "every published version to hold model.keras. Republish it from its "
            "pipeline config (`automl run CONFIG`), or use another version."
        )
    if not zipfile.is_zipfile(path):
        raise RegistryError(
            f"Received the model file {path}, which is not a zip archive (it is "
            "truncated or corrupt); expected the .keras archive that publishing "
            "writes. Republish it from its pipeline config (`automl run CONFIG`), "
            "or use another version."
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        reason = str(exc).split(". ")[0].strip().rstrip(".")
        if any(word in str(exc) for word in _REFUSALS):
            raise UnsafeModelError(
                f"Refused to load {path}: loading it could run code stored in the "
                f"file (Keras safe_mode refused it: {reason}). Expected a model "
                "the pipeline published, made of Keras layers and this "
                "project's registered layers only (no Lambda). Republish it from "
                "its pipeline config (`automl run CONFIG`); never load a file "
                "you do not trust with safe_mode=False."
            ) from exc
        raise RegistryError(
            f"Could not load the model file {path} ({type(exc).__name__}: "
            f"{reason}); expected a .keras file published by this project. It is "
            "damaged or was written by another program: republish it from its "
            "pipeline config (`automl run CONFIG`), or use another version."
        ) from exc
