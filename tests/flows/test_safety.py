"""Safe by default: hostile model files, unsafe loaders, names that leave a folder.

The hostile file is a real `.keras` archive whose `Lambda` layer holds Python
bytecode that leaves a marker file behind when it runs. Every command that
loads a model must refuse it (exit code 5) without running it; a control
shows that the same file does run code when loaded with `safe_mode=False`.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import keras
import pytest
import typer
import yaml
from typer.testing import CliRunner

from flows.cli.main import app
from tasks.errors import RegistryError, UnsafeModelError
from tasks.registry.model_file import load_published_model
from tests.helpers import save_tiny_npz, tiny_image_arrays

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flows", "tasks", "data_contracts", "model_builders")
# Where a model may be loaded: the one safe loader, and the export's check of
# the SavedModel it wrote a moment before (a graph, no Python to run).
MODEL_LOADERS = {
    "tasks/registry/model_file.py": {"load_model"},
    "tasks/export.py": {"saved_model.load"},
    # Keras Tuner's `Tuner.load_model(trial)`: builds the trial's model from its
    # hyperparameters and loads only weights from the search's own checkpoint.
    "tasks/tuning/refit.py": {"load_model"},
}
# Modules that unpickle (or unmarshal) what they read, and loaders that run code.
UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "dill",
    "cloudpickle",
    "joblib",
    "shelve",
    "marshal",
}
UNSAFE_ATTRIBUTES = {
    "unsafe_load",
    "full_load",
    "UnsafeLoader",
    "FullLoader",
    "enable_unsafe_deserialization",
}
TINY_DATA = {"source": "tiny.npz", "kind": "image"}


def _touch_when_called(marker: str):
    """A Python lambda that leaves `marker` behind whenever it runs."""
    return lambda x: (__import__("pathlib").Path(marker).touch(), x)[1]


def craft_lambda_model(path: Path, marker: Path) -> Path:
    """Write a `.keras` file whose Lambda layer would touch `marker` on load."""
    inputs = keras.Input((8, 8, 1), name="inputs")
    hidden = keras.layers.Lambda(_touch_when_called(str(marker)))(inputs)
    hidden = keras.layers.Flatten()(hidden)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that a lambda is unsafe
        keras.Model(inputs, outputs).save(path)
    marker.unlink()  # building the model ran the lambda once; loading must not
    return path


def _rewrite_config(source: Path, target: Path, edit) -> Path:
    """Copy a `.keras` archive with `edit(config)` applied to its config.json."""
    with zipfile.ZipFile(source) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return target


@pytest.fixture
def crafted(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "code-ran"
    return craft_lambda_model(tmp_path / "crafted.keras", marker), marker


def test_lambda_model_is_refused_without_running_its_code(crafted):
    path, marker = crafted
    with pytest.raises(UnsafeModelError) as caught:
        load_published_model(path)
    message = str(caught.value)
    assert f"Refused to load {path}: loading it could run code" in message
    assert "`Lambda` layer" in message and "never load a file" in message
    assert caught.value.exit_code == 5 and isinstance(caught.value, RegistryError)
    assert not marker.exists()


def test_the_crafted_file_does_run_code_when_loaded_unsafely(crafted):
    # The control: without safe_mode the same file runs its lambda on load, so
    # the refusal above is what keeps the marker away.
    path, marker = crafted
    keras.saving.load_model(path, safe_mode=False)
    assert marker.exists()


def test_a_non_modeling_keras_function_in_the_config_is_refused(crafted, tmp_path):
    def point_at_get_file(config):
        layer = next(
            layer
            for layer in config["config"]["layers"]
            if layer["class_name"] == "Lambda"
        )
        layer["config"]["function"] = {
            "module": "keras.utils",
            "class_name": "function",
            "config": "get_file",
            "registered_name": "get_file",
        }

    path = _rewrite_config(crafted[0], tmp_path / "get_file.keras", point_at_get_file)
    with pytest.raises(UnsafeModelError, match="keras.utils.get_file"):
        load_published_model(path)


def _safe_model_file(tmp_path: Path) -> Path:
    inputs = keras.Input((8, 8, 1), name="inputs")
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    path = tmp_path / "safe.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero_the_weights(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["model.weights.h5"] = b"\0" * len(files["model.weights.h5"])
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


@pytest.mark.parametrize(
    "damage, match",
    [
        (Path.unlink, "which does not exist"),
        (_truncate, "which is not a zip archive"),
        (lambda p: p.write_text("not a model"), "which is not a zip archive"),
        (_zero_the_weights, "Could not load the model file"),
    ],
    ids=["missing", "truncated", "not-a-zip", "zeroed-weights"],
)
def test_a_damaged_model_file_is_a_registry_error_naming_it(tmp_path, damage, match):
    path = _safe_model_file(tmp_path)
    load_published_model(path)  # intact, it loads
    damage(path)
    with pytest.raises(RegistryError, match=match) as caught:
        load_published_model(path)
    assert type(caught.value) is RegistryError and caught.value.exit_code == 1
    assert str(path) in str(caught.value)
    assert "republish it from its pipeline config" in str(caught.value).lower()


# --- the commands, as real processes, on a registry whose champion is hostile --


@pytest.fixture
def hostile_registry(publish_tiny_model, tmp_path) -> tuple[Path, Path, Path]:
    """A `tiny` pipeline whose champion v0001 is the crafted Lambda model.

    Returns the output folder, the crafted `model.keras` and the marker.
    """
    x, y = tiny_image_arrays()
    source = save_tiny_npz(tmp_path / "tiny.npz")
    _, version = publish_tiny_model("tiny", x, y, {**TINY_DATA, "source": str(source)})
    assert json.loads((version.parent / "champion.json").read_text())["version"] == (
        "v0001"
    )
    marker = tmp_path / "code-ran"
    craft_lambda_model(version / "model.keras", marker)
    return tmp_path, version / "model.keras", marker


def test_promote_refuses_a_version_whose_model_would_run_code(hostile_registry):
    output, model_file, marker = hostile_registry
    champion = (model_file.parent.parent / "champion.json").read_text()
    result = CliRunner().invoke(
        app,
        ["models", "promote", "tiny", "v0001", "--force", "--output-dir", str(output)],
    )
    assert result.exit_code == 5, result.output
    assert f"Refused to load {model_file}" in " ".join(result.output.split())
    assert not marker.exists()
    assert (model_file.parent.parent / "champion.json").read_text() == champion


def _automl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.faults
@pytest.mark.parametrize("reference", ["tiny", "tiny:v0001"])
def test_predict_refuses_the_crafted_model_with_exit_5(hostile_registry, reference):
    output, model_file, marker = hostile_registry
    out = output / "out.csv"
    inputs = str(output / "tiny.npz")
    completed = _automl(
        "predict", reference, inputs, "--out", str(out), "--output-dir", str(output)
    )
    assert completed.returncode == 5, completed.stderr[-3000:]
    stderr = _one_line(completed.stderr)
    assert f"Refused to load {model_file}: loading it could run code" in stderr
    assert "`Lambda` layer" in stderr and "Traceback" not in stderr
    assert not marker.exists() and not out.exists()


@pytest.mark.faults
def test_predict_on_a_truncated_model_exits_1_naming_the_file(hostile_registry):
    output, model_file, _ = hostile_registry
    _truncate(model_file)
    out = output / "out.csv"
    inputs = str(output / "tiny.npz")
    completed = _automl(
        "predict", "tiny", inputs, "--out", str(out), "--output-dir", str(output)
    )
    assert completed.returncode == 1, completed.stderr[-3000:]
    stderr = _one_line(completed.stderr)
    assert f"model file {model_file}, which is not a zip archive" in stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def prefect_env(prefect_harness) -> dict:
    """The environment for CLI subprocesses: the harness's Prefect API."""
    from prefect.settings import PREFECT_API_URL

    return {"PREFECT_API_URL": PREFECT_API_URL.value()}


@pytest.mark.faults
def test_run_refuses_to_rescore_a_crafted_champion_and_publishes_nothing(
    hostile_registry, prefect_env
):
    output, model_file, marker = hostile_registry
    config = output / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "data": {"source": str(output / "tiny.npz"), "kind": "image"},
                "augment": {"enabled": False},
                "search": {
                    "tuner": "random",
                    "validation": "holdout",
                    "max_trials": 1,
                    "epochs": 1,
                    "patience": 1,
                    "batch_size": 16,
                },
                "output_dir": str(output),
            }
        )
    )
    completed = _automl("run", str(config), "--no-progress", env=prefect_env)
    assert completed.returncode == 5, completed.stderr[-3000:]
    stderr = _one_line(completed.stderr)
    assert f"error: Refused to load {model_file}: loading it could run code" in stderr
    assert not marker.exists()
    pipeline = model_file.parents[1]
    assert sorted(p.name for p in pipeline.iterdir() if p.name.startswith("v")) == [
        "v0001"
    ]
    assert json.loads((pipeline / "champion.json").read_text())["version"] == "v0001"


@pytest.mark.faults
def test_the_predict_flow_refuses_the_crafted_model(hostile_registry, prefect_harness):
    from flows.predict import batch_predict

    output, model_file, marker = hostile_registry
    with pytest.raises(UnsafeModelError, match="Refused to load"):
        batch_predict(
            "tiny",
            str(output / "tiny.npz"),
            str(output / "flow.csv"),
            output_dir=str(output),
        )
    assert not marker.exists() and not (output / "flow.csv").exists()


# --- no pickle, no unsafe loaders, one way to load a model --------------------


def unsafe_calls(source: str) -> list[str]:
    """What in `source` could run code from data: pickle, unsafe YAML, eval."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            for module in modules:
                if module.split(".")[0] in UNSAFE_MODULES:
                    found.append(f"line {node.lineno}: import {module}")
        if isinstance(node, ast.Attribute) and node.attr in UNSAFE_ATTRIBUTES:
            found.append(f"line {node.lineno}: {node.attr}")
        if isinstance(node, ast.Name) and node.id == "pickle":
            found.append(f"line {node.lineno}: pickle")
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name in {"eval", "exec", "__import__"}:
            found.append(f"line {node.lineno}: {name}()")
        if name == "yaml.load" and not any(
            k.arg == "Loader" and _call_name(k.value).endswith("SafeLoader")
            for k in node.keywords
        ):
            found.append(f"line {node.lineno}: yaml.load without SafeLoader")
        for keyword in node.keywords:
            value = getattr(keyword.value, "value", None)
            if (keyword.arg, value) in {("safe_mode", False), ("allow_pickle", True)}:
                found.append(f"line {node.lineno}: {keyword.arg}={value}")
    return found


def _call_name(node: ast.AST) -> str:
    """`a.b.c` for a call of (or a reference to) `a.b.c`, else ''."""
    node = node.func if isinstance(node, ast.Call) else node
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def model_loads(source: str) -> set[str]:
    """The model loaders `source` calls (Keras, SavedModel, TFSMLayer)."""
    loaders = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            last = name.rsplit(".", 1)[-1]
            if last in {"load_model", "model_from_json", "TFSMLayer"}:
                loaders.add(last)
            if name.endswith("saved_model.load"):
                loaders.add("saved_model.load")
    return loaders


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "from pickle import loads",
        "import joblib",
        "data = pickle.loads(b)",
        "yaml.load(text)",
        "yaml.load(text, Loader=yaml.Loader)",
        "yaml.unsafe_load(text)",
        "np.load(path, allow_pickle=True)",
        "keras.saving.load_model(path, safe_mode=False)",
        "keras.config.enable_unsafe_deserialization()",
        "eval(text)",
        "exec(code)",
    ],
)
def test_the_guard_catches_each_unsafe_call(snippet):
    assert unsafe_calls(snippet), snippet


def test_the_guard_lets_safe_calls_pass():
    safe = (
        "yaml.safe_load(text)\nyaml.load(text, Loader=yaml.SafeLoader)\n"
        "np.load(path, allow_pickle=False)\nload_model(path, safe_mode=True)\n"
        "frame.eval('a + b')\n"
    )
    assert unsafe_calls(safe) == []


def test_no_source_uses_pickle_unsafe_yaml_or_eval():
    sources = _sources()
    assert len(sources) > 40, "the packages moved: update PACKAGES"
    found = {
        str(path.relative_to(ROOT)): calls
        for path in sources
        if (calls := unsafe_calls(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_every_model_load_goes_through_load_published_model():
    found = {
        str(path.relative_to(ROOT)): loads
        for path in _sources()
        if (loads := model_loads(path.read_text(encoding="utf-8")))
    }
    assert found == MODEL_LOADERS
    for module in ("tasks/predict.py", "tasks/registry/rescore.py"):
        assert "load_published_model(" in (ROOT / module).read_text(encoding="utf-8")


def _is_pickle(content: bytes) -> bool:
    # Protocol 2+ starts with PROTO (0x80) and its number; every pickle ends
    # with STOP ('.'). Raw tensor bytes may start with 0x80, hence both.
    return (
        len(content) > 2
        and content[0] == 0x80
        and content[1] in range(2, 6)
        and content.endswith(b".")
    )


def test_a_published_version_holds_no_pickle(publish_tiny_model, tmp_path):
    from tasks.publish import publish_version

    x, y = tiny_image_arrays()
    model, _ = publish_tiny_model("tiny", x, y, TINY_DATA)
    published = publish_version(
        tmp_path / "registry",
        "tiny",
        model,
        {"f1_macro": 0.6, "labels": [0, 1, 2]},
        documents={
            "leaderboard.csv": [{"trial": "0", "score": 0.6}],
            "model_card.md": "# tiny\n",
            "search.json": {"num_trials": 1},
        },
        export_sample=x[:8],
    )
    files = [p for p in (tmp_path / "registry").rglob("*") if p.is_file()]
    assert any(p.parent.name == "export" for p in files)  # the SavedModel too
    assert not [p for p in files if p.suffix in {".pkl", ".pickle", ".joblib"}]
    contents = {str(p): p.read_bytes() for p in files}
    for path in Path(published.path).rglob("*.keras"):
        with zipfile.ZipFile(path) as archive:
            contents.update(
                {f"{path}!{n}": archive.read(n) for n in archive.namelist()}
            )
    assert len(contents) > 10
    assert [name for name, content in contents.items() if _is_pickle(content)] == []
    assert _is_pickle(pickle.dumps({"a": 1}))  # the check can fire


# --- names that become paths, and where servers listen ------------------------


@pytest.mark.parametrize(
    "args, match",
    [
        (["models", "list", "../tiny"], "name '../tiny'; expected lowercase"),
        (["models", "show", "../tiny"], "name '../tiny'; expected lowercase"),
        (["models", "show", "tiny:../../x"], "version '../../x'; expected a version"),
        (["models", "promote", "../tiny", "v0001"], "name '../tiny'; expected"),
        (["models", "promote", "tiny", "../v0001"], "version '../v0001'; expected"),
        (["models", "rollback", "tiny/../tiny"], "name 'tiny/../tiny'; expected"),
        (["tensorboard", "../registry"], "name '../registry'; expected lowercase"),
    ],
)
def test_names_from_the_command_line_cannot_leave_their_folder(
    publish_tiny_model, tmp_path, args, match
):
    x, y = tiny_image_arrays()
    publish_tiny_model("tiny", x, y, TINY_DATA)
    result = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert match in _one_line(result.stderr)


@pytest.mark.parametrize("command", ["retrain", "notify"])
def test_service_commands_refuse_a_name_that_is_a_path(tmp_path, command):
    # Checked before any server is asked: the name becomes part of an API path.
    args = [command, "../tiny"] + ([str(tmp_path)] if command == "notify" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "name '../tiny'; expected lowercase" in _one_line(result.stderr)


@pytest.mark.parametrize("command", ["run", "worker"])
@pytest.mark.parametrize("run_id", ["../x", "/tmp/x", ".."])
def test_a_run_id_that_is_a_path_is_refused(tmp_path, command, run_id):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"name": "tiny", "output_dir": str(tmp_path)}))
    role = ["--distributed"] if command == "run" else ["--chief", "127.0.0.1:8000"]
    result = CliRunner().invoke(app, [command, str(config), *role, "--run-id", run_id])
    assert result.exit_code == 2, result.output
    assert f"--run-id received {run_id!r}; expected one folder name" in _one_line(
        result.stderr
    )
    assert not (tmp_path / "runs").exists()


def test_every_server_listens_on_loopback_unless_told_otherwise():
    from tasks.tuning.distributed.role import chief_role

    defaults = {}
    groups = [("", typer.main.get_command(app))]
    while groups:
        prefix, group = groups.pop()
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                groups.append((f"{prefix}{name} ", command))
            for param in command.params:
                if param.name == "host":
                    defaults[prefix + name] = param.default
    assert defaults == {"run": "127.0.0.1", "tensorboard": "127.0.0.1"}
    assert chief_role(8000).host == "127.0.0.1"
