"""The house rules that keep the code easy to change, checked on every run.

Module and function sizes, one-way imports without cycles, no classes made at
run time, and library internals confined to the compat modules (issue 14).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "tasks", "model_builders", "data_contracts")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 80
# The only modules allowed to touch Keras Tuner's or TensorFlow's private names.
COMPAT_MODULES = {"tasks.tuning.compat"}
PRIVATE_PREFIXES = ("keras_tuner.src", "tensorflow.python", "tensorflow.core")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"), str(MODULES[name]))


def _imports(name: str) -> set[str]:
    """Every project module `name` imports, anywhere in it (TYPE_CHECKING too)."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                base = f"{parent}.{base}" if base else parent
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        targets.update(c for c in candidates if c in MODULES and c != name)
    return targets


def test_the_tasks_package_keeps_few_modules_at_its_top_level():
    top = sorted(p.name for p in (ROOT / "tasks").glob("*.py"))
    assert len(top) <= 15, top


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, (
                f"{name}.{node.name} has {length} lines"
            )


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: _imports(name) for name in MODULES}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_imports_point_one_way():
    """flows -> tasks -> (model_builders, data_contracts); nothing imports flows."""
    for name in MODULES:
        top = name.split(".")[0]
        for target in _imports(name):
            other = target.split(".")[0]
            if top != "flows":
                assert other != "flows", f"{name} imports {target}"
            if top in ("model_builders", "data_contracts"):
                assert other not in ("tasks",), f"{name} imports {target}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_class_is_made_at_run_time(name):
    for node in ast.walk(_tree(name)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "type"
            and len(node.args) == 3
        ):
            pytest.fail(f"{name}:{node.lineno} creates a class with type()")


def test_library_internals_live_in_the_compat_module_only():
    users = set()
    for name in MODULES:
        for node in ast.walk(_tree(name)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            if any(n.startswith(PRIVATE_PREFIXES) for n in names):
                users.add(name)
    assert users <= COMPAT_MODULES, sorted(users - COMPAT_MODULES)
