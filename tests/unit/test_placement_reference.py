"""The indexed placement gives exactly the answers of the straightforward one, errors included."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from napcompose.errors import NapComposeError
from napcompose.model import ObservedContainer, PlacementSpec, PortSpec, Project, Replica, ServiceSpec
from napcompose.clustermodel import Host
from napcompose.placement.place import place
from tests import placement_reference as reference

SERVICES = ("a", "b", "c", "d", "e")
STRATEGIES = ("spread", "binpack", "random")


def outcome(fn, *args):
    """The placement, or the error's type and message: both implementations must agree on either."""
    try:
        return fn(*args)
    except NapComposeError as exc:
        return (type(exc).__name__, str(exc))


@st.composite
def clusters(draw):
    count = draw(st.integers(0, 7))
    names = draw(st.permutations([f"node{i}" for i in range(1, count + 1)]))  # any order offered
    hosts = tuple(Host(name, f"198.18.9.{i + 1}", f"ssh://root@198.18.9.{i + 1}",
                       labels=tuple(sorted(draw(st.dictionaries(st.sampled_from(["zone", "disk"]),
                                                                st.sampled_from(["a", "b"]), max_size=2))
                                           .items())))
                  for i, name in enumerate(names))
    return hosts


@st.composite
def services(draw, host_names):
    chosen = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=5, unique=True))
    specs = []
    for name in chosen:
        others = [s for s in chosen]
        constraints = draw(st.lists(st.sampled_from(
            ["node.labels.zone==a", "node.labels.zone!=a", "node.labels.disk==b", "node.hostname!=node1",
             "node.hostname==node2"]), max_size=2, unique=True))
        pinned = draw(st.one_of(st.just(()), st.lists(st.sampled_from(list(host_names) or ["node1"]),
                                                      max_size=2).map(tuple)))
        placement = PlacementSpec(
            constraints=tuple(constraints),
            preferences=draw(st.sampled_from([(), ("spread=node.labels.zone",)])),
            max_per_host=draw(st.one_of(st.none(), st.integers(1, 3))),
            strategy=draw(st.one_of(st.none(), st.sampled_from(STRATEGIES))),
            affinity=tuple(draw(st.lists(st.sampled_from(others), max_size=1, unique=True))),
            anti_affinity=tuple(draw(st.lists(st.sampled_from(others), max_size=2, unique=True))),
            hosts=pinned)
        ports = tuple(PortSpec(p, "tcp", p) for p in draw(st.lists(st.sampled_from([80, 443]), max_size=2,
                                                                        unique=True)))
        specs.append(ServiceSpec(name=name, image="busybox", scale=draw(st.integers(0, 8)), ports=ports,
                                 placement=placement))
    return tuple(sorted(specs, key=lambda s: s.name))


@st.composite
def scenarios(draw):
    hosts = draw(clusters())
    host_names = [h.name for h in hosts] + ["gone"]
    specs = draw(services([h.name for h in hosts]))
    project = Project(name="p", services=specs, strategy=draw(st.sampled_from(STRATEGIES)),
                      seed=draw(st.integers(0, 5)))
    observed = []
    for n, (host, project_name, service, index, port) in enumerate(draw(st.lists(st.tuples(
            st.sampled_from(host_names), st.sampled_from(["p", "q"]), st.sampled_from(SERVICES),
            st.integers(1, 9), st.sampled_from([None, 80, 443])), max_size=12))):
        replica = Replica(project_name, service, index)
        observed.append(ObservedContainer(
            host=host, id=f"c{n}", name=replica.name, replica=replica, config_hash="h", state="running",
            ports=(f"0.0.0.0:{port}->{port}/tcp",) if port else ()))
    scales = draw(st.dictionaries(st.sampled_from([s.name for s in specs]), st.integers(0, 8), max_size=2))
    return project, hosts, tuple(observed), scales


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_same_answers_as_the_reference_over_random_clusters(scenario):
    project, hosts, observed, scales = scenario
    assert outcome(place, project, hosts, observed, scales) == \
        outcome(reference.place, project, hosts, observed, scales)


def _big(strategy, rules):
    hosts = tuple(Host(f"h{i:02d}", f"198.18.9.{i + 1}", f"ssh://root@198.18.9.{i + 1}",
                       labels=(("zone", "ab"[i % 2]),)) for i in range(40))
    specs = tuple(ServiceSpec(name=f"s{i:02d}", image="busybox", scale=7, placement=PlacementSpec(**rules))
                  for i in range(30))
    observed = tuple(ObservedContainer(host=f"h{i % 13:02d}", id=f"x{i}", name=f"q_x_{i}",
                                       replica=Replica("q", "x", i), config_hash="h", state="running")
                     for i in range(1, 25))
    return Project(name="p", services=specs, strategy=strategy, seed=11), hosts, observed


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("rules", [{}, {"max_per_host": 1}, {"constraints": ("node.labels.zone==a",)},
                                   {"max_per_host": 2, "constraints": ("node.labels.zone!=a",)}])
def test_same_answers_on_a_larger_cluster(strategy, rules):
    project, hosts, observed = _big(strategy, rules)
    assert outcome(place, project, hosts, observed, None) == \
        outcome(reference.place, project, hosts, observed, None)
