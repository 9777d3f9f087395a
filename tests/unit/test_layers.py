"""The import rule: modules import only downward, and the core stays free of I/O libraries."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "napcompose"

# Lower number = lower layer. A module may import modules of its own layer or below.
LAYERS = {
    "errors": 0,
    "model": 1,
    "ports": 2,
    "config": 3, "graph": 3, "placement": 3, "ipam": 3, "hostsfile": 3, "cluster": 3, "network": 3,
    "executor": 3, "confighash": 3, "graphview": 3, "netcheck": 3,
    "imagecheck": 3,
    "shipping": 3, "shipping_copy": 3,
    "planner": 4,
    "orchestrator": 5,
    "adapters": 6,
    "cli": 7, "lab": 7, "dashboard": 7,
    "__main__": 8, "__init__": 0,
}
CORE_LAYER_MAX = 5
FORBIDDEN_IN_CORE = {"docker", "paramiko", "etcd", "subprocess", "socket", "random", "requests", "urllib3"}


def _layer_of(module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS[name]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        yield module, path


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("module,path", list(_modules()), ids=lambda v: str(v))
def test_imports_go_downward(module, path):
    own = _layer_of(module)
    for imported in _imports(path):
        top = imported.split(".")[0]
        if top == "napcompose":
            if imported == "napcompose":
                continue
            assert _layer_of(imported) <= own, f"{module} (layer {own}) imports {imported}"
        elif own <= CORE_LAYER_MAX:
            assert top not in FORBIDDEN_IN_CORE, f"core module {module} imports {imported}"


def test_every_module_has_a_layer():
    for module, _ in _modules():
        _layer_of(module)
