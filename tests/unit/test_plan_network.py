"""``network create`` / ``network rm`` planned from a NetworkObservation, and their actions run on the one
executor against in-memory hosts (tests/fakes_network.py) and an in-memory store."""

from dataclasses import replace

import pytest

from napcompose.cluster import parse_cluster
from napcompose.clustermodel import FoundNetwork, FoundResolver, HostBlock
from napcompose.errors import ConfigError, IpamError
from napcompose.execute.state import Core
from napcompose.ipam.hostblocks import HostBlocks
from napcompose.network.desired import desired_network
from napcompose.network.resolver import IMAGE, config_digest
from napcompose.observe import HostNetworkState, NetworkObservation, observe_networks
from napcompose.orchestrator.network import network_create, network_rm, plan_create, run_create
from napcompose.planner import CopyImage
from napcompose.planner.network import plan_blocks, plan_network_create, plan_network_rm, render_network
from napcompose.planner.network_actions import (CreateNetwork, LoadResolverImage, RecreateNetwork, ReleaseBlock,
                                                RemoveNetwork, ReserveBlocks, RunResolver, StartResolver)
from napcompose.ports import ListReporter
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV
from tests.fakes_network import FakeNetworks

CLUSTER = """\
network: {name: nap, subnet: 198.18.0.0/24, router: 198.18.0.1, pools: ["198.18.0.160-198.18.0.253"],
          host_blocks: [198.18.0.32-198.18.0.95]RESOLVER}
hosts:
  - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}
  - {name: node2, address: 198.18.0.12, docker_url: "ssh://root@198.18.0.12"}
  - {name: node3, address: 198.18.0.13, docker_url: "ssh://root@198.18.0.13"}
"""
C = parse_cluster(CLUSTER.replace("RESOLVER", ""), "nap-cluster.yml")
R = parse_cluster(CLUSTER.replace("RESOLVER", ", resolver: true"), "nap-cluster.yml")
HELD = (HostBlock("node1", "198.18.0.32/28", version=1), HostBlock("node2", "198.18.0.48/28", version=2))


def found(cluster, host, *attached, block="its own", nid=None):
    cidr = {"node1": "198.18.0.32/28", "node2": "198.18.0.48/28", "node3": "198.18.0.64/28"}[host]
    options = desired_network(cluster.network, cluster.host(host), cidr if block == "its own" else block)
    return FoundNetwork(nid or f"id-{host}", options, attached)


def seen(cluster, blocks=HELD, **hosts):
    """An observation: each host's state as given (a FoundNetwork, None, or an error string)."""
    states = []
    for h in cluster.hosts:
        value = hosts.get(h.name)
        states.append(HostNetworkState(h.name, error=value) if isinstance(value, str) else
                      value if isinstance(value, HostNetworkState) else HostNetworkState(h.name, value))
    return NetworkObservation(cluster, blocks, tuple(states))


# --------------------------------------------------------------------------- blocks


def test_hosts_without_a_block_take_the_first_free_ones_in_cluster_order():
    chosen, reserve = plan_blocks(C, HELD)
    assert chosen == {"node1": "198.18.0.32/28", "node2": "198.18.0.48/28", "node3": "198.18.0.64/28"}
    assert reserve == ReserveBlocks((("node3", "198.18.0.64/28"),))
    assert plan_blocks(C, HELD + (HostBlock("node3", "198.18.0.80/28", version=3),))[1] is None


def test_no_room_and_a_conflicting_cluster_file_are_refused_while_planning():
    small = parse_cluster(CLUSTER.replace("RESOLVER", "").replace("198.18.0.32-198.18.0.95", "198.18.0.32-198.18.0.63"),
                          "nap-cluster.yml")
    with pytest.raises(IpamError, match=r"no room for the blocks of host\(s\) node3"):
        plan_blocks(small, HELD)
    moved = parse_cluster(CLUSTER.replace("RESOLVER", ", reserved: [198.18.0.50]")
                          .replace("host_blocks: [198.18.0.32-198.18.0.95], ", ""), "c.yml")
    with pytest.raises(ConfigError, match=r"c.yml: network.reserved\[0\] 198.18.0.50 \(at 198.18.0.50\) is inside "
                                          "the block 198.18.0.48/28 that host node2 holds in the store"):
        plan_blocks(moved, HELD)


# --------------------------------------------------------------------------- network create


def test_create_reserves_first_then_creates_only_what_is_missing():
    planned = plan_network_create(seen(C, node1=found(C, "node1")))
    reserve, creates = planned.plan.waves
    assert reserve == (ReserveBlocks((("node3", "198.18.0.64/28"),)),)
    assert [(type(a), a.host, a.options.ip_range, a.after) for a in creates] == [
        (CreateNetwork, "node2", "198.18.0.48/28", ("blocks",)), (CreateNetwork, "node3", "198.18.0.64/28", ("blocks",))]
    assert [(r.host, r.status) for r in planned.networks] == [("node1", "present"), ("node2", "created"),
                                                              ("node3", "created")]


def test_a_drifted_network_is_left_alone_unless_empty_and_asked_and_a_silent_host_fails():
    blocks = HELD + (HostBlock("node3", "198.18.0.64/28", version=3),)
    observation = seen(C, blocks, node1=found(C, "node1", "web_1", block=None), node2=found(C, "node2", block=None),
                       node3="cannot connect over SSH: timed out")
    planned = plan_network_create(observation)
    assert planned.plan.waves == ()
    assert [(r.host, r.status) for r in planned.networks] == [("node1", "drift"), ("node2", "drift"),
                                                              ("node3", "failed")]
    assert planned.networks[2].detail == "cannot connect over SSH: timed out"
    recreated = plan_network_create(observation, recreate_empty=True)
    assert recreated.plan.actions == (
        RecreateNetwork("node2", "id-node2", desired_network(C.network, C.host("node2"), "198.18.0.48/28"),
                        recreated.networks[1].detail),)
    assert [r.status for r in recreated.networks] == ["drift", "recreated", "failed"]


def _with_resolver(host, network, resolver=None, image=None):
    return HostNetworkState(host, network, resolver, image)


def test_the_resolver_image_is_loaded_into_one_host_and_copied_from_there_after_every_network():
    planned = plan_network_create(seen(R), resolver_digest="d1")
    reserve, creates, loads, copies, runs = planned.plan.waves
    network_keys = tuple(a.key for a in creates)
    assert loads == (LoadResolverImage(IMAGE, "node1", "no host has it", network_keys),)
    assert [(a.source, a.host, a.after) for a in copies] == [
        ("node1", "node2", network_keys + (f"{IMAGE}@node1",)), ("node1", "node3", network_keys + (f"{IMAGE}@node1",))]
    assert all(isinstance(a, CopyImage) for a in copies)
    assert [(type(a), a.host, a.replace, a.after) for a in runs] == [
        (RunResolver, "node1", None, network_keys + (f"{IMAGE}@node1",)),
        (RunResolver, "node2", None, network_keys + (f"{IMAGE}@node2",)),
        (RunResolver, "node3", None, network_keys + (f"{IMAGE}@node3",))]
    assert runs[0].config == config_digest(R.network.resolver, R.host("node1"), "d1")
    assert [(s.host, s.status) for s in planned.resolvers] == [("node1", "created"), ("node2", "created"),
                                                               ("node3", "created")]


def test_a_resolver_as_asked_is_kept_a_stopped_one_started_and_one_made_otherwise_replaced():
    spec = R.network.resolver
    blocks = HELD + (HostBlock("node3", "198.18.0.64/28", version=3),)
    right = {h.name: config_digest(spec, h, "d1") for h in R.hosts}
    observation = seen(R, blocks,
                       node1=_with_resolver("node1", found(R, "node1"), FoundResolver("a", True, "running", right["node1"]),
                                            "d1"),
                       node2=_with_resolver("node2", found(R, "node2"), FoundResolver("b", False, "exited", right["node2"]),
                                            "d1"),
                       node3=_with_resolver("node3", found(R, "node3"), FoundResolver("c", True, "running", "old"), "d0"))
    planned = plan_network_create(observation, resolver_digest="d1")
    copies, runs = planned.plan.waves
    assert [(a.source, a.host, a.after) for a in copies] == [("node1", "node3", ())]
    assert runs == (StartResolver("node2", "b", "exited"), RunResolver("node3", right["node3"], "c", "made otherwise",
                                                                        (f"{IMAGE}@node3",)))
    assert [(s.host, s.status) for s in planned.resolvers] == [("node1", "ok"), ("node2", "started"),
                                                               ("node3", "replaced")]
    assert render_network(planned) == [
        f"image {IMAGE} on node3: copy from node1 (missing or made from other programs)",
        "names resolver on node2: start (exited)",
        "names resolver on node3: replace (made otherwise)",
        "network on node1: present (network nap already as wanted)",
        "network on node2: present (network nap already as wanted)",
        "network on node3: present (network nap already as wanted)",
        "names resolver on node1: ok (dnsmasq on 198.18.0.11:53)"]


def test_no_resolver_is_touched_while_a_network_is_not_as_wanted():
    planned = plan_network_create(seen(R, node1=found(R, "node1", "web", block=None)), resolver_digest="d1")
    assert not any(isinstance(a, (LoadResolverImage, CopyImage, RunResolver, StartResolver))
                   for a in planned.plan.actions)
    assert planned.resolvers == ()


# --------------------------------------------------------------------------- network rm


def test_rm_removes_empty_networks_then_releases_blocks_and_refuses_where_containers_are_attached():
    observation = NetworkObservation(C, HELD, (HostNetworkState("node1", found(C, "node1")),
                                               HostNetworkState("node2", found(C, "node2", "web_1", "db_1")),
                                               HostNetworkState("node3", None)))
    planned = plan_network_rm(observation)
    removals, releases = planned.plan.waves
    assert removals == (RemoveNetwork("node1", "nap", "id-node1", "network rm"),)
    assert releases == (ReleaseBlock("node1", "198.18.0.32/28", "its network is gone", ("network@node1",)),
                        ReleaseBlock("node3", "(none)", "its network is gone"))
    assert [(r.host, r.status, r.detail) for r in planned.networks] == [
        ("node1", "removed", "network nap removed"),
        ("node2", "failed", "network nap is not removed: 2 container(s) attached (web_1, db_1)"),
        ("node3", "absent", "no network nap")]
    assert planned.released == (("node1", "198.18.0.32/28"), ("node3", None))
    assert render_network(planned) == ["network nap on node1: remove (network rm)",
                                       "block 198.18.0.32/28 of node1: release (its network is gone)",
                                       "block (none) of node3: release (its network is gone)",
                                       "network on node2: failed (network nap is not removed: 2 container(s) "
                                       "attached (web_1, db_1))",
                                       "network on node3: absent (no network nap)"]


# --------------------------------------------------------------------------- on the executor


class Road:
    """The network road over FakeNetworks and HostBlocks in a MemoryKV."""

    def __init__(self, cluster, built="d1"):
        self.kv = MemoryKV()
        self.clock = FakeClock()
        self.blocks = HostBlocks(self.kv, cluster.store.prefix, self.clock)
        self.networks = FakeNetworks(built)
        self.reporter = ListReporter()
        self.core = Core(cluster, {}, lambda host: None, None, self.reporter, self.clock,
                         images=self.networks.images, networks=self.networks, blocks=self.blocks)

    def stored(self):
        return {b.host: b.cidr for b in self.blocks.list()}


def test_create_runs_on_the_executor_and_a_second_run_has_nothing_to_do():
    road = Road(R)
    done = network_create(road.core, resolver_digest="d1")
    assert [r.status for r in done.networks] == ["created"] * 3
    assert [s.status for s in done.resolvers] == ["created"] * 3
    assert road.stored() == {"node1": "198.18.0.32/28", "node2": "198.18.0.48/28", "node3": "198.18.0.64/28"}
    assert {h: n.options.ip_range for h, n in road.networks.networks.items()} == road.stored()
    assert ("network nap", "Creating", "done", "on node2") in road.reporter.events
    again = plan_create(road.core, resolver_digest="d1")
    assert again.plan.waves == ()
    assert [r.status for r in again.networks] == ["present"] * 3 and [s.status for s in again.resolvers] == ["ok"] * 3


def test_a_failed_create_is_that_hosts_error_and_no_resolver_is_touched():
    road = Road(R)
    road.networks.fail("create_network", "node2", "bridge br0 is in use")
    done = network_create(road.core, resolver_digest="d1")
    assert [(r.host, r.status, r.detail) for r in done.networks][1] == (
        "node2", "failed", "network nap: bridge br0 is in use")
    assert done.resolvers == ()
    assert road.networks.resolvers == {} and road.networks.resolver_images == {}


def test_a_failed_image_load_fails_the_resolvers_waiting_for_it():
    road = Road(R)
    road.networks.fail("load_resolver_image", "node1", "no space left on device")
    done = network_create(road.core, resolver_digest="d1")
    assert [(s.host, s.status, s.detail) for s in done.resolvers] == [
        ("node1", "failed", f"import image {IMAGE}: no space left on device"),
        ("node2", "failed", f"dependency {IMAGE}@node1 failed"),
        ("node3", "failed", f"dependency {IMAGE}@node1 failed")]
    assert road.networks.resolvers == {}


def test_a_block_taken_by_another_host_meanwhile_stops_the_run_before_any_host_is_touched():
    road = Road(C)
    planned = plan_create(road.core)
    # another run gives node9's block the address node1 planned to take
    road.kv.create("/nap-compose/host-blocks/198.18.0.32",
                   '{"block": "198.18.0.32/28", "host": "node9", "since": 1.0}')
    with pytest.raises(IpamError, match="the block 198.18.0.32/28 planned for host node1 went elsewhere"):
        run_create(road.core, planned)
    assert road.networks.networks == {}
    assert [op for op, _ in road.networks.calls] == ["find_network"] * 3


def test_rm_on_the_executor_releases_the_block_once_the_network_is_gone():
    road = Road(C)
    network_create(road.core)
    road.networks.networks["node2"] = replace(road.networks.networks["node2"], attached=("web_1",))
    done = network_rm(road.core, ["node1", "node2"])
    assert [(r.host, r.status) for r in done.networks] == [("node1", "removed"), ("node2", "failed")]
    assert done.released == (("node1", "198.18.0.32/28"),)
    assert road.stored() == {"node2": "198.18.0.48/28", "node3": "198.18.0.64/28"}
    assert sorted(road.networks.networks) == ["node2", "node3"]


def test_observe_networks_asks_only_the_named_hosts_and_turns_a_silent_one_into_its_reason():
    road = Road(R)
    road.networks.unreachable = {"node3": "connection refused"}
    observation = observe_networks(R, road.networks, HELD, hosts=["node2", "node3"], resolvers=True)
    assert [(s.host, s.reachable, s.error) for s in observation.hosts] == [
        ("node2", True, None), ("node3", False, "cannot connect over SSH: connection refused")]
    assert sorted(set(road.networks.calls)) == [("find_network", "node2"), ("find_network", "node3"),
                                                ("find_resolver", "node2"), ("resolver_image", "node2")]


def test_gc_releases_the_block_of_a_host_gone_from_the_cluster_file_after_every_address():
    from napcompose.model import Allocation, HostStatus
    from napcompose.observe import Observation
    from napcompose.planner import Release
    from napcompose.planner.gc import AddressRecords, plan_gc

    observation = Observation(C, "", (), tuple(HostStatus(h.name, True) for h in C.hosts), everything=True)
    leaked = Allocation(ip="198.18.0.170", owner="shop/web/1", host="node1", state="bound", since=1.0, alloc_id="a")
    records = AddressRecords((), (leaked,), 1e9, 60.0, HELD + (HostBlock("node9", "198.18.0.80/28"),))
    releases, blocks = plan_gc(observation, records).waves
    assert [type(a) for a in releases] == [Release]
    assert blocks == (ReleaseBlock("node9", "198.18.0.80/28", "its host left the cluster file", ("release 198.18.0.170",)),)
    assert plan_gc(observation, replace(records, blocks=HELD)).waves == (releases,)
