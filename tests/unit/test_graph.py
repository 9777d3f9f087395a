import pytest

from napcompose.errors import DependencyCycleError
from napcompose.graph import build_graph, dependencies, dependents, start_waves, stop_waves
from napcompose.model import Dependency, Link, Project, ServiceSpec


def project(**deps):
    """project(web=["db"], ...) with link edges; names with no entry have no dependencies."""
    names = set(deps) | {d for ds in deps.values() for d in ds}
    services = tuple(ServiceSpec(name=n, links=tuple(Link(d, d) for d in deps.get(n, ()))) for n in sorted(names))
    return Project(name="p", services=services)


def test_waves_follow_dependencies_and_sort_names():
    p = project(web=["api", "cache"], api=["db"], worker=["db"])
    assert start_waves(p) == (("cache", "db"), ("api", "worker"), ("web",))
    assert stop_waves(p) == (("web",), ("api", "worker"), ("cache", "db"))


def test_every_edge_source_counts():
    services = (
        ServiceSpec(name="a", depends_on=(Dependency("b"),)),
        ServiceSpec(name="b", volumes_from=("c:ro", "container:outside")),
        ServiceSpec(name="c", network_mode="service:d"),
        ServiceSpec(name="d", ipc="service:e", pid="host"),
        ServiceSpec(name="e", external_links=(Link("legacy_db_1", "db"),)),
    )
    p = Project(name="p", services=services)
    assert start_waves(p) == (("e",), ("d",), ("c",), ("b",), ("a",))
    graph = build_graph(p)
    assert graph.edges["b", "c"]["kinds"] == ("volumes_from",)
    assert "legacy_db_1" not in graph


def test_edge_points_from_consumer_to_dependency():
    graph = build_graph(project(web=["db"]))
    assert list(graph.edges) == [("web", "db")]


def test_transitive_dependencies_and_dependents():
    p = project(web=["api"], api=["db"], other=[])
    assert dependencies(p, "web") == {"api", "db"}
    assert dependents(p, "db") == {"api", "web"}
    assert dependencies(p, "other") == set()


@pytest.mark.parametrize("deps,message", [
    ({"web": ["api"], "api": ["web"]}, "dependency cycle: api -> web -> api"),
    ({"web": ["web"]}, "dependency cycle: web -> web"),
    ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}, "dependency cycle: a -> b -> c -> a"),
])
def test_cycles_are_named(deps, message):
    with pytest.raises(DependencyCycleError) as info:
        start_waves(project(**deps))
    assert str(info.value) == message
    assert info.value.exit_status == 3


def test_no_services_no_waves():
    assert start_waves(Project(name="p", services=())) == ()


def test_start_waves_are_networkx_topological_generations():
    import random

    import networkx as nx

    from napcompose.graph import check_project_acyclic

    rng = random.Random(7)
    for _ in range(200):
        names = [f"s{i}" for i in range(rng.randint(1, 12))]
        # edges only towards later names: acyclic by construction
        deps = {n: rng.sample(names[i + 1:], rng.randint(0, len(names) - i - 1)) for i, n in enumerate(names)}
        p = project(**deps)
        check_project_acyclic(p)
        expected = tuple(tuple(sorted(w)) for w in
                         nx.topological_generations(build_graph(p).reverse(copy=False)))
        assert start_waves(p) == expected


@pytest.mark.parametrize("deps,message", [
    ({"web": ["api"], "api": ["web"]}, "dependency cycle: api -> web -> api"),
    ({"web": ["web"]}, "dependency cycle: web -> web"),
    ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}, "dependency cycle: a -> b -> c -> a"),
])
def test_the_project_check_names_the_same_cycle(deps, message):
    from napcompose.graph import check_project_acyclic

    with pytest.raises(DependencyCycleError) as info:
        check_project_acyclic(project(**deps))
    assert str(info.value) == message


def test_reading_a_project_and_planning_do_not_import_networkx():
    """networkx takes most of a second to import on a busy machine; start order does without it."""
    import subprocess
    import sys

    code = ("import sys; import napcompose.cli.project_cmd, napcompose.config, napcompose.orchestrator; "
            "from napcompose.graph import start_waves; from napcompose.model import Project, ServiceSpec; "
            "start_waves(Project(name='p', services=(ServiceSpec(name='a'),))); "
            "print('networkx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
