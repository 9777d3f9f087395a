"""PeerMap (addresses grouped once) and peer_entries give the entries of a scan over every address."""

from typing import Dict, List

from hypothesis import given, settings, strategies as st

from napcompose.names.hostsfile import PeerMap, address_key, _name_sources, _network_aliases, peer_entries, render_block
from napcompose.model import Dependency, Link, NetworkAttachment, Project, Replica, ServiceSpec

NAMES = ("a", "b", "c", "d")


def scanned_entries(project, service, addresses):
    """The entries as first written: for each link, a scan of every address."""
    names: Dict[str, List[str]] = {}
    for link in _name_sources(project.service(service)):
        replicas = sorted((r for r in addresses if r.project == project.name and r.service == link.service),
                          key=lambda r: r.index)
        for replica in replicas:
            bucket = names.setdefault(addresses[replica], [])
            for name in (f"{replica.service}_{replica.index}", replica.name):
                if name not in bucket:
                    bucket.append(name)
        if replicas:
            bucket = names[addresses[replicas[0]]]
            for name in (link.alias, link.service) + _network_aliases(project.service(link.service)):
                if name not in bucket:
                    bucket.append(name)
    return tuple((address, tuple(names[address])) for address in sorted(names, key=address_key))


@st.composite
def scenarios(draw):
    services = []
    for name in NAMES:
        links = tuple(Link(target, draw(st.sampled_from([target, f"{target}-alias", "shared"])))
                      for target in draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)))
        depends = tuple(Dependency(t) for t in draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)))
        aliases = tuple(draw(st.lists(st.sampled_from(["x", "y", "shared"]), max_size=2, unique=True)))
        services.append(ServiceSpec(name=name, image="busybox", links=links, depends_on=depends,
                                    networks=(NetworkAttachment("default", aliases=aliases),)))
    project = Project(name="p", services=tuple(services))
    # addresses shared between replicas, other projects' replicas and indexes with gaps all occur
    addresses = draw(st.dictionaries(
        st.builds(Replica, st.sampled_from(["p", "q"]), st.sampled_from(NAMES), st.integers(1, 5)),
        st.sampled_from([f"198.18.9.{i}" for i in (1, 2, 10, 100)] + ["(new:x)"]), max_size=14))
    return project, addresses


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_same_entries_and_blocks_as_a_scan_of_every_address(scenario):
    project, addresses = scenario
    peers = PeerMap(project, addresses)
    for name in NAMES:
        expected = scanned_entries(project, name, addresses)
        assert peer_entries(project, name, addresses) == expected
        assert peers.entries(name) == expected
        assert peers.block(name) == render_block("p", expected)


def test_the_groups_are_by_index_and_of_the_project_only():
    project = Project(name="p", services=(ServiceSpec(name="a", image="i"),))
    addresses = {Replica("p", "a", 3): "198.18.9.3", Replica("p", "a", 1): "198.18.9.1",
                 Replica("q", "a", 2): "198.18.9.2"}
    assert PeerMap(project, addresses).replicas("a") == [(Replica("p", "a", 1), "198.18.9.1"),
                                                         (Replica("p", "a", 3), "198.18.9.3")]
