"""The import rules: modules import only downward, the core stays free of I/O, the clock and randomness,
no module reaches into another module's private (underscore) names, no import cycle exists (between
modules, imports inside functions included, or between packages), and every package says what it owns.

Relative imports (``from ..graph import x``) are resolved and checked like absolute ones, and
``from napcompose import graph`` counts as importing ``napcompose.graph``.
"""

import ast
import pathlib

import networkx as nx
import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "napcompose"

# Lower number = lower layer. A module may import modules of its own layer or below.
LAYERS = {
    "errors": 0,
    "model": 1, "clustermodel": 1, "imageref": 1,
    "ports": 2,
    "config": 3, "graph": 3, "placement": 3, "ipam": 3, "names": 3, "cluster": 3,
    "network": 3, "isolation": 3, "parallel": 3, "confighash": 3, "graphview": 3,
    "imagecheck": 3, "lock": 3, "shipping": 3, "doctor": 3,
    "observe": 4,
    "planner": 5,
    "execute": 6,
    "orchestrator": 7, "reconcile": 7,
    "adapters": 8,
    "cli": 9, "lab": 9, "dashboard": 9,
    "__main__": 10, "__init__": 0,
}
CORE_LAYER_MAX = 7
# I/O libraries, the clock and randomness reach the core only through the ports, passed in.
FORBIDDEN_IN_CORE = {"docker", "paramiko", "etcd", "etcd3gw", "subprocess", "socket", "requests", "urllib3",
                     "time", "datetime", "random", "secrets"}

# Temporary exceptions, each naming the importing module and what it imports; the list is meant to empty.
ALLOWED_PRIVATE_IMPORTS = set()


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


def _is_module(name):
    rel = pathlib.Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


def _base(module, path, node):
    """The absolute module an ImportFrom names, relative ones resolved against ``module``."""
    if node.level == 0:
        return node.module
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _imports(module, path):
    """(imported module, name taken from it or None, line) for every import of ``module``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            for alias in node.names:
                if _is_module(f"{base}.{alias.name}"):  # ``from napcompose import graph``
                    yield f"{base}.{alias.name}", None, node.lineno
                else:
                    yield base, alias.name, node.lineno


def _module_aliases(module, path):
    """Local names bound to napcompose modules: ``from napcompose.config import schema`` binds schema."""
    tree = ast.parse(path.read_text())
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("napcompose.") and alias.asname:
                    bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            for alias in node.names:
                if base.split(".")[0] == "napcompose" and _is_module(f"{base}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    return tree, bound


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_uses(module, path):
    """(other module, private name, line) wherever ``module`` takes a private name of another module."""
    for imported, name, line in _imports(module, path):
        if imported.split(".")[0] == "napcompose" and name and _private(name) and imported != module:
            yield imported, name, line
    tree, bound = _module_aliases(module, path)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and _private(node.attr) and bound[node.value.id] != module):
            yield bound[node.value.id], node.attr, node.lineno


MODULES = list(_modules())


@pytest.mark.parametrize("module,path", MODULES, ids=lambda v: str(v))
def test_imports_go_downward(module, path):
    own = _layer_of(module)
    for imported, _, line in _imports(module, path):
        top = imported.split(".")[0]
        if top == "napcompose":
            if imported == "napcompose":
                continue
            assert _layer_of(imported) <= own, f"{path}:{line}: {module} (layer {own}) imports {imported}"
        elif own <= CORE_LAYER_MAX:
            assert top not in FORBIDDEN_IN_CORE, f"{path}:{line}: core module {module} imports {imported}"


@pytest.mark.parametrize("module,path", MODULES, ids=lambda v: str(v))
def test_no_module_takes_another_modules_private_names(module, path):
    found = [f"{path}:{line}: {module} uses {other}.{name}" for other, name, line in _private_uses(module, path)
             if (module, other, name) not in ALLOWED_PRIVATE_IMPORTS]
    assert not found, "make the name public in its module (or move it):\n" + "\n".join(found)


def test_every_allowed_exception_is_still_needed():
    used = {(module, other, name) for module, path in MODULES for other, name, _ in _private_uses(module, path)}
    assert ALLOWED_PRIVATE_IMPORTS <= used, f"no longer needed: {sorted(ALLOWED_PRIVATE_IMPORTS - used)}"


def test_every_module_has_a_layer():
    for module, _ in MODULES:
        _layer_of(module)


def _unit(module):
    """The package a module belongs to for the package rule: ``napcompose.X`` (a top-level module is its own)."""
    return ".".join(module.split(".")[:2])


def _import_graph(modules):
    """(module graph, package graph): an edge for every napcompose import, late ones inside functions
    included (ast.walk sees them). Importing ``a.b.c`` also runs ``a.b``'s __init__, but that is no
    edge: a package that imports its own modules would otherwise always be a cycle."""
    graph, packages = nx.DiGraph(), nx.DiGraph()
    for module, path in modules:
        graph.add_node(module)
        for imported, _, _ in _imports(module, path):
            if imported.split(".")[0] == "napcompose" and imported not in ("napcompose", module):
                graph.add_edge(module, imported)
                if _unit(module) != _unit(imported):
                    packages.add_edge(_unit(module), _unit(imported))
    return graph, packages


def _cycle(graph):
    """One cycle of ``graph`` as ``a -> b -> a``, or None."""
    try:
        edges = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return " -> ".join([edges[0][0]] + [b for _, b in edges])


def test_no_module_import_cycle():
    # A cycle hidden behind a late import still means neither module can be understood (or loaded) alone.
    cycle = _cycle(_import_graph(MODULES)[0])
    assert cycle is None, f"import cycle: {cycle} (move the shared piece to a module both import)"


def test_no_package_import_cycle():
    cycle = _cycle(_import_graph(MODULES)[1])
    assert cycle is None, f"package cycle: {cycle}"


@pytest.mark.parametrize("init", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: str(p.parent.name))
def test_every_package_opens_with_a_docstring_saying_what_it_owns(init):
    docstring = ast.get_docstring(ast.parse(init.read_text()))
    assert docstring and len(docstring.split()) >= 4, f"{init}: open with a docstring saying what the package owns"


# The checker itself, on small sources: a rule that cannot fail proves nothing.

def _write(tmp_path, module, text):
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_relative_imports_are_resolved():
    path = PACKAGE / "orchestrator" / "lifecycle.py"
    node = ast.parse("from ..cli import main\nfrom . import hosts\nfrom .hosts import x\n").body
    assert [_base("napcompose.orchestrator.lifecycle", path, n) for n in node] == [
        "napcompose.cli", "napcompose.orchestrator", "napcompose.orchestrator.hosts"]
    init = PACKAGE / "config" / "__init__.py"
    assert _base("napcompose.config", init, ast.parse("from .checks import x\n").body[0]) == \
        "napcompose.config.checks"


def test_the_checker_sees_relative_upward_imports_and_private_names(tmp_path):
    path = _write(tmp_path, "napcompose.config.bad",
                  "from ..cli import main\nfrom ..graph import _cycle, edges_of\nfrom .. import graph\n"
                  "from napcompose.config import schema\nx = schema._type_name\ny = graph.__name__\n")
    imports = list(_imports("napcompose.config.bad", path))
    assert ("napcompose.cli", "main", 1) in imports
    assert ("napcompose.graph", None, 3) in imports
    assert list(_private_uses("napcompose.config.bad", path)) == [
        ("napcompose.graph", "_cycle", 2), ("napcompose.config.schema", "_type_name", 5)]


def test_the_checker_sees_a_cycle_behind_a_late_import_and_between_packages(tmp_path):
    modules = [
        ("napcompose.lab.a", _write(tmp_path, "napcompose.lab.a", "from napcompose.lab.b import f\n")),
        ("napcompose.lab.b", _write(tmp_path, "napcompose.lab.b", "def f():\n    from .a import g\n")),
        ("napcompose.ipam.c", _write(tmp_path, "napcompose.ipam.c", "from napcompose.graph import x\n")),
        ("napcompose.graph", _write(tmp_path, "napcompose.graph", "from napcompose.ipam.c import y\n")),
    ]
    graph, packages = _import_graph(modules)
    assert _cycle(graph.subgraph(["napcompose.lab.a", "napcompose.lab.b"])) in (
        "napcompose.lab.a -> napcompose.lab.b -> napcompose.lab.a",
        "napcompose.lab.b -> napcompose.lab.a -> napcompose.lab.b")
    assert _cycle(packages) in ("napcompose.ipam -> napcompose.graph -> napcompose.ipam",
                                "napcompose.graph -> napcompose.ipam -> napcompose.graph")
    assert _cycle(nx.DiGraph([("a", "b"), ("b", "c")])) is None


def test_the_docstring_rule_fails_on_a_bare_package(tmp_path):
    bare = _write(tmp_path, "napcompose.bare.__init__", "from .x import y\n")
    with pytest.raises(AssertionError):
        test_every_package_opens_with_a_docstring_saying_what_it_owns(bare)
