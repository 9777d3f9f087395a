"""``network check`` findings, ``network create`` decisions, and the block views of ``ipam ls``/``gc``,
with the store in memory and each host's network given as a NetworkView (what Docker would report)."""

import io
import json
import textwrap

import pytest

from napcompose.cli import main
from napcompose.errors import HostError
from napcompose.cluster import parse_cluster
from napcompose.ipam import Pool
from napcompose.ipam.hostblocks import HostBlocks
from napcompose.model import Allocation, pairs
from napcompose.clustermodel import HostBlock
from napcompose.network.check import Endpoint, NetworkView, check_network
from napcompose.network.desired import decide, desired_network, options_from_inspect
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV
from tests.fakes_network import FakeNetworks
from tests.unit.test_ipam_cli import FakeEngine, FakeWiring

CLUSTER = textwrap.dedent("""\
    network: {name: nap, subnet: 198.18.0.0/24, router: 198.18.0.1, pools: ["198.18.0.160-198.18.0.253"],
              reserved: [198.18.0.254], host_blocks: [198.18.0.32-198.18.0.159], resolver: false}
    hosts:
      - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}
      - {name: node2, address: 198.18.0.12, docker_url: "ssh://root@198.18.0.12"}
      - {name: node3, address: 198.18.0.13, docker_url: "ssh://root@198.18.0.13"}
    """)
C = parse_cluster(CLUSTER, "/c/nap-cluster.yml")
BLOCKS = {"node1": HostBlock("node1", "198.18.0.32/28"), "node2": HostBlock("node2", "198.18.0.48/28"),
          "node3": HostBlock("node3", "198.18.0.64/28")}
POOL = Pool.from_cluster(C)


def ep(host, name, ip, owner=None):
    labels = {}
    if owner:
        p, s, n = owner.split("/")
        labels = {"com.docker.compose.project": p, "com.docker.compose.service": s,
                  "com.docker.compose.container-number": n}
    return Endpoint(host=host, container=name, id=f"id-{name}", ip=ip, labels=pairs(labels))


def view(host, *endpoints, block=None):
    return NetworkView(host, True, block or BLOCKS[host].cidr, tuple(endpoints))


def alloc(ip, owner, host):
    return Allocation(ip=ip, owner=owner, host=host, state="bound", since=1.0, alloc_id="a")


def test_a_clean_network_has_no_findings():
    views = [view("node1", ep("node1", "a", "198.18.0.32"), ep("node1", "shop_web_1", "198.18.0.170", "shop/web/1")),
             view("node2", ep("node2", "b", "198.18.0.48")), view("node3")]
    assert check_network(C, views, BLOCKS, [alloc("198.18.0.170", "shop/web/1", "node1")], POOL.contains) == []


def test_each_kind_of_finding_names_host_and_container():
    views = [
        view("node1", ep("node1", "shop_web_1", "198.18.0.170", "shop/web/1"),
             ep("node1", "hand", "198.18.0.100")),                       # in node5's area, no host's block
        view("node2", ep("node2", "dup", "198.18.0.170"),                 # a nap address by hand on another host
             ep("node2", "squatter", "198.18.0.13"),                     # node3's own address
             ep("node2", "router", "198.18.0.1"),
             ep("node2", "op", "198.18.0.254")),                         # reserved
        view("node3", ep("node3", "stray", "198.18.0.40"),               # inside node1's block
             ep("node3", "pooled", "198.18.0.200")),                     # a pool address nobody reserved
    ]
    findings = check_network(C, views, BLOCKS, [alloc("198.18.0.170", "shop/web/1", "node1")], POOL.contains)
    assert [(f.kind, f.address, f.host, f.container, f.message) for f in findings] == [
        ("infrastructure", "198.18.0.1", "node2", "router",
         "container router on node2 holds 198.18.0.1, the router's address"),
        ("infrastructure", "198.18.0.13", "node2", "squatter",
         "container squatter on node2 holds 198.18.0.13, the address of host node3"),
        ("outside-block", "198.18.0.40", "node3", "stray",
         "container stray on node3 holds 198.18.0.40, inside the block 198.18.0.32/28 of host node1 "
         "(its host's block is 198.18.0.64/28): an address given by hand"),
        ("outside-block", "198.18.0.100", "node1", "hand",
         "container hand on node1 holds 198.18.0.100, outside every block and the pool "
         "(its host's block is 198.18.0.32/28): an address given by hand"),
        ("duplicate", "198.18.0.170", "node1", "shop_web_1",
         "198.18.0.170 is held by 2 containers: shop_web_1 on node1, dup on node2"),
        ("duplicate", "198.18.0.170", "node2", "dup",
         "198.18.0.170 is held by 2 containers: shop_web_1 on node1, dup on node2"),
        ("reserved-for-other", "198.18.0.170", "node2", "dup",
         "container dup on node2 holds 198.18.0.170, reserved for shop/web/1 on node1"),
        ("unreserved-pool", "198.18.0.200", "node3", "pooled",
         "container pooled on node3 holds 198.18.0.200, a pool address nobody reserved: nap-compose may hand it "
         "out again (an address given by hand)"),
        ("infrastructure", "198.18.0.254", "node2", "op",
         "container op on node2 holds 198.18.0.254, reserved (198.18.0.254)"),
    ]


def test_unreachable_hosts_and_missing_networks_are_findings_too():
    findings = check_network(C, [NetworkView("node1", False), view("node2")], BLOCKS, [], POOL.contains,
                             {"node3": "node3: cannot connect over SSH: timed out"})
    assert [(f.kind, f.host, f.message) for f in findings] == [
        ("unreachable", "node3", "host node3 did not answer (node3: cannot connect over SSH: timed out); its "
                                 "containers are not checked"),
        ("no-network", "node1", "host node1 has no network nap (run `nap-compose network create`)"),
    ]


def test_a_network_whose_ip_range_is_not_its_block_is_a_finding():
    views = [view("node1"), NetworkView("node2", True, None, ()),
             view("node3", block="198.18.0.32/28")]
    findings = check_network(C, views, BLOCKS, [], POOL.contains)
    assert [(f.kind, f.host, f.message) for f in findings] == [
        ("wrong-range", "node2", "network nap on node2 has ip-range (none), not its block 198.18.0.48/28: "
                                 "containers started there without an address may take addresses of other hosts "
                                 "(`nap-compose network create` says how to migrate)"),
        ("wrong-range", "node3", "network nap on node3 has ip-range 198.18.0.32/28, not its block 198.18.0.64/28: "
                                 "containers started there without an address may take addresses of other hosts "
                                 "(`nap-compose network create` says how to migrate)"),
    ]


# --------------------------------------------------------------------------- network create decisions


def _found(ip_range):
    attrs = {"Name": "nap", "Driver": "bridge",
             "IPAM": {"Config": [{"Subnet": "198.18.0.0/24", "Gateway": "198.18.0.12",
                                  "AuxiliaryAddresses": {"DefaultGatewayIPv4": "198.18.0.1"}}]},
             "Options": {"com.docker.network.bridge.enable_ip_masquerade": "false",
                         "com.docker.network.bridge.name": "br0"}}
    if ip_range:
        attrs["IPAM"]["Config"][0]["IPRange"] = ip_range
    return options_from_inspect(attrs)


DESIRED = desired_network(C.network, C.hosts[1], "198.18.0.48/28")


def test_the_block_is_the_networks_ip_range():
    assert DESIRED.ip_range == "198.18.0.48/28"
    assert decide("node2", DESIRED, _found("198.18.0.48/28"), (), False)[0] == "none"
    action, result = decide("node2", DESIRED, None, (), False)
    assert action == "create" and result.status == "created" and result.block == "198.18.0.48/28"


def test_a_network_without_its_block_is_drift_with_the_step_that_migrates_it():
    action, result = decide("node2", DESIRED, _found(None), ("web1", "web2"), False)
    assert action == "none" and result.status == "drift" and not result.ok
    assert result.drift == ("ip-range: want 198.18.0.48/28, found (none)",)
    assert result.detail == (
        "network nap has no host block: Docker cannot change an ip-range in place, so containers started on it "
        "without an address may take addresses another host hands out. Remove the 2 container(s) attached "
        "(web1, web2; `nap-compose down` for a nap-compose project), run `nap-compose network create "
        "--recreate-empty`, then start them again (`nap-compose up`)")
    _, empty = decide("node2", DESIRED, _found(None), (), False)
    assert empty.detail.endswith("No container is attached: run `nap-compose network create --recreate-empty`")


def test_recreate_empty_recreates_only_where_no_container_is_attached():
    action, result = decide("node2", DESIRED, _found(None), (), True)
    assert (action, result.status, result.ok) == ("recreate", "recreated", True)
    action, result = decide("node2", DESIRED, _found(None), ("web1",), True)
    assert (action, result.status) == ("none", "drift")
    assert result.detail == ("network nap differs from the cluster file and is not recreated: 1 container(s) "
                             "attached (web1)")


# --------------------------------------------------------------------------- through the CLI


class NetWiring(FakeWiring):
    """Each host's engine reports the network as ``views`` says (a host without a view has none); the
    hosts' networks and resolvers are ``fake`` (tests/fakes_network.py)."""

    def __init__(self, kv):
        super().__init__(kv)
        self.views, self.unreachable = [], {}
        self.fake = FakeNetworks()

    def engine(self, host, connections):
        return _ViewingEngine(host.name, self, self.engines.get(host.name))

    def networks(self, cluster, connections, built=None):
        self.fake.built = built.digest if built is not None else None
        return self.fake

    def images(self, connections, reporter):
        return self.fake.images


class _ViewingEngine:
    def __init__(self, host, wiring, engine):
        self.host, self._wiring, self._engine = host, wiring, engine

    def network_view(self, network):
        if self.host in self._wiring.unreachable:
            raise HostError(self.host, self._wiring.unreachable[self.host])
        found = [v for v in self._wiring.views if v.host == self.host]
        return found[0] if found else NetworkView(self.host, False)

    def __getattr__(self, name):
        return getattr(self._engine, name)


@pytest.fixture
def cli(tmp_path):
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER)
    kv = MemoryKV()
    wiring = NetWiring(kv)

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path), wiring=wiring)
        return status, out.getvalue(), err.getvalue()

    run.kv, run.wiring = kv, wiring
    HostBlocks(kv, "/nap-compose", FakeClock()).ensure(C)
    return run


def test_network_check_exits_1_on_a_duplicate_and_reports_it_as_json(cli):
    assert cli("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.170", "--host", "node1")[0] == 0
    cli.wiring.views = [view("node1", ep("node1", "shop_web_1", "198.18.0.170", "shop/web/1")),
                        view("node2", ep("node2", "copy", "198.18.0.170")), view("node3")]
    status, out, err = cli("network", "check", "--format", "json")
    assert (status, err) == (1, "")
    data = json.loads(out)
    assert [(f["kind"], f["host"], f["container"]) for f in data["findings"]] == [
        ("duplicate", "node1", "shop_web_1"), ("duplicate", "node2", "copy"), ("reserved-for-other", "node2", "copy")]
    assert [h["ip_range"] for h in data["hosts"]] == ["198.18.0.32/28", "198.18.0.48/28", "198.18.0.64/28"]
    status, out, _ = cli("network", "check")
    assert status == 1
    assert out.splitlines()[0].split()[:3] == ["duplicate", "node1", "shop_web_1"]


def test_network_check_of_a_clean_network_exits_0(cli):
    cli.wiring.views = [view("node1", ep("node1", "a", "198.18.0.33")), view("node2"), view("node3")]
    assert cli("network", "check") == (0, "network nap: 1 container(s) on 3 host(s), no problem found\n", "")


def test_ipam_ls_shows_the_blocks_and_with_all_the_containers_in_them(cli):
    cli("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.170", "--host", "node1")
    cli.wiring.views = [view("node1", ep("node1", "a", "198.18.0.33"), ep("node1", "shop_web_1", "198.18.0.170")),
                        view("node2"), view("node3")]
    status, out, _ = cli("ipam", "ls")
    assert status == 0
    assert out == ("ADDRESS         OWNER         HOST   STATE     SINCE\n"
                   "198.18.0.32/28  (host block)  node1  block     2027-01-15T08:00:00Z\n"
                   "198.18.0.48/28  (host block)  node2  block     2027-01-15T08:00:00Z\n"
                   "198.18.0.64/28  (host block)  node3  block     2027-01-15T08:00:00Z\n"
                   "198.18.0.170    shop/web/1    node1  reserved  2027-01-15T08:00:00Z\n")
    status, out, _ = cli("ipam", "ls", "--all")
    assert out.splitlines()[2] == "  198.18.0.33   a             node1  in-block  -"
    status, out, _ = cli("ipam", "ls", "--all", "--format", "json")
    data = json.loads(out)
    assert data[0] == {"address": "198.18.0.32/28", "owner": "(host block)", "host": "node1", "state": "block",
                       "since": "2027-01-15T08:00:00Z", "containers": [{"address": "198.18.0.33", "name": "a"}]}


def test_gc_keeps_live_hosts_blocks_ignores_block_containers_and_offers_a_removed_hosts_block(cli, tmp_path):
    cli.wiring.engines = {n: FakeEngine(n) for n in ("node1", "node2", "node3")}
    cli.wiring.views = [view("node1", ep("node1", "a", "198.18.0.33"))]
    assert cli("ipam", "gc") == (0, "no leaked addresses\n", "")
    (tmp_path / "nap-cluster.yml").write_text("\n".join(l for l in CLUSTER.splitlines() if "node3" not in l) + "\n")
    status, out, _ = cli("ipam", "gc")
    assert status == 0
    assert out == ("ADDRESS         OWNER         HOST   STATE  SINCE\n"
                   "198.18.0.64/28  (host block)  node3  block  2027-01-15T08:00:00Z\n"
                   "1 block(s) of host(s) no longer in the cluster file; make sure their network is gone, then "
                   "`nap-compose ipam gc --yes` releases them\n")
    assert len(cli.kv.list("/nap-compose/host-blocks/")) == 3
    assert cli("ipam", "gc", "--yes")[1].endswith("released block 198.18.0.64/28 (host node3)\n")
    assert sorted(cli.kv.list("/nap-compose/host-blocks/")) == ["/nap-compose/host-blocks/198.18.0.32",
                                                                "/nap-compose/host-blocks/198.18.0.48"]


def _network(host, *attached, block="its own"):
    """The network as nap-compose makes it on ``host``, with ``block`` (None: none) as its ip-range."""
    from napcompose.clustermodel import FoundNetwork

    cidr = BLOCKS[host].cidr if block == "its own" else block
    return FoundNetwork(f"id-{host}", desired_network(C.network, C.host(host), cidr), attached)


def test_network_rm_releases_the_block_only_where_the_network_is_gone(cli):
    fake = cli.wiring.fake
    fake.networks = {"node1": _network("node1"), "node2": _network("node2"), "node3": _network("node3", "web")}
    status, out, err = cli("network", "rm", "--host", "node2", "--host", "node3")
    assert status == 7
    assert sorted({host for _, host in fake.calls}) == ["node2", "node3"]  # node1 is never asked
    assert ("remove_network", "node3") not in fake.calls
    assert out == "node2  removed  network nap removed; block 198.18.0.48/28 released\n"
    assert err == "ERROR: node3: network nap is not removed: 1 container(s) attached (web)\n"
    assert sorted(fake.networks) == ["node1", "node3"]
    assert sorted(cli.kv.list("/nap-compose/host-blocks/")) == ["/nap-compose/host-blocks/198.18.0.32",
                                                                "/nap-compose/host-blocks/198.18.0.64"]


def test_network_rm_of_a_host_without_the_network_releases_its_block_and_one_that_fails_keeps_it(cli):
    fake = cli.wiring.fake
    fake.networks = {"node2": _network("node2")}
    fake.fail("remove_network", "node2", "device or resource busy")
    status, out, err = cli("network", "rm", "--host", "node1", "--host", "node2")
    assert status == 7
    assert out == "node1  absent  no network nap; block 198.18.0.32/28 released\n"
    assert err == "ERROR: node2: network nap: device or resource busy\n"
    assert sorted(cli.kv.list("/nap-compose/host-blocks/")) == ["/nap-compose/host-blocks/198.18.0.48",
                                                                "/nap-compose/host-blocks/198.18.0.64"]


def test_network_rm_of_an_unknown_host_touches_nothing(cli):
    assert cli("network", "rm", "--host", "node9") == (
        2, "", "ERROR: network rm: host(s) node9 not in the cluster file (node1, node2, node3)\n")
    assert cli.wiring.fake.calls == []
    assert len(cli.kv.list("/nap-compose/host-blocks/")) == 3


def test_network_create_reserves_every_block_before_any_host_is_changed(cli, tmp_path):
    fake = cli.wiring.fake
    fake.networks = {"node1": _network("node1"), "node2": _network("node2", block="198.18.0.160/28")}
    held_at_first_change = []

    def watch(operation, host):
        if operation != "find_network" and not held_at_first_change:
            held_at_first_change.append(sorted(cli.kv.list("/nap-compose/host-blocks/")))

    fake.on_call = watch
    text = CLUSTER.replace("  - {name: node3", "  - {name: node4, address: 198.18.0.14}\n  - {name: node3")
    (tmp_path / "nap-cluster.yml").write_text(text)
    status, out, err = cli("network", "create", "--recreate-empty")
    assert (status, err) == (0, "")
    assert held_at_first_change == [[f"/nap-compose/host-blocks/198.18.0.{n}" for n in (32, 48, 64, 80)]]
    assert out.splitlines() == [
        "node1  present   network nap already as wanted",
        "node2  recreated network nap had no container attached and was made again (host block 198.18.0.48/28)",
        "         ip-range: want 198.18.0.48/28, found 198.18.0.160/28",
        "node4  created   network nap: subnet 198.18.0.0/24, host block 198.18.0.80/28, gateway 198.18.0.14, "
        "router 198.18.0.1",
        "node3  created   network nap: subnet 198.18.0.0/24, host block 198.18.0.64/28, gateway 198.18.0.13, "
        "router 198.18.0.1"]
    assert {h: n.options.ip_range for h, n in fake.networks.items()} == {
        "node1": "198.18.0.32/28", "node2": "198.18.0.48/28", "node4": "198.18.0.80/28", "node3": "198.18.0.64/28"}
    assert cli("network", "create")[1].count("already as wanted") == 4


def test_network_create_leaves_a_drifted_network_with_containers_and_exits_1(cli):
    fake = cli.wiring.fake
    fake.networks = {"node1": _network("node1"), "node2": _network("node2", "web", block=None),
                     "node3": _network("node3")}
    status, out, err = cli("network", "create")
    assert status == 1
    assert "node2  drift     network nap has no host block" in out
    assert err == "ERROR: network nap: 1 of 3 host(s) failed or differ: node2\n"
    assert [c for c in fake.calls if c[0] != "find_network"] == []


def test_network_create_dry_run_prints_the_plan_and_touches_nothing(cli, tmp_path):
    fake = cli.wiring.fake
    fake.networks = {"node1": _network("node1")}
    text = CLUSTER.replace("  - {name: node3", "  - {name: node4, address: 198.18.0.14}\n  - {name: node3")
    (tmp_path / "nap-cluster.yml").write_text(text)
    before = cli.kv.keys()
    status, out, err = cli("network", "create", "--dry-run")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "block 198.18.0.80/28 for node4: reserve in the store (each host's block of the subnet)",
        "network nap on node2: create (network nap: subnet 198.18.0.0/24, host block 198.18.0.48/28, gateway "
        "198.18.0.12, router 198.18.0.1)",
        "network nap on node4: create (network nap: subnet 198.18.0.0/24, host block 198.18.0.80/28, gateway "
        "198.18.0.14, router 198.18.0.1)",
        "network nap on node3: create (network nap: subnet 198.18.0.0/24, host block 198.18.0.64/28, gateway "
        "198.18.0.13, router 198.18.0.1)",
        "network on node1: present (network nap already as wanted)"]
    assert cli.kv.keys() == before
    assert {op for op, _ in fake.calls} == {"find_network"}
    assert list(fake.networks) == ["node1"]


def test_network_create_reports_a_host_that_did_not_answer_and_creates_the_others(cli):
    fake = cli.wiring.fake
    fake.unreachable = {"node3": "connection refused"}
    status, out, err = cli("network", "create")
    assert status == 7
    assert out.splitlines()[2] == "node3  failed    cannot connect over SSH: connection refused"
    assert err == "ERROR: network nap: 1 of 3 host(s) failed or differ: node3\n"
    assert sorted(fake.networks) == ["node1", "node2"]


def test_network_create_refuses_a_cluster_file_overlapping_a_held_block_and_asks_no_host(cli, tmp_path):
    # without host_blocks, blocks come from the free space; a reserved address now lands in node2's block
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER.replace(
        "reserved: [198.18.0.254], host_blocks: [198.18.0.32-198.18.0.159]", "reserved: [198.18.0.254, 198.18.0.50]"))
    before = cli.kv.keys()
    status, out, err = cli("network", "create")
    assert (status, out) == (3, "")
    assert err == (f"ERROR: {tmp_path}/nap-cluster.yml: network.reserved[1] 198.18.0.50 (at 198.18.0.50) is inside "
                   "the block 198.18.0.48/28 that host node2 holds in the store; change the cluster file, or remove "
                   "network nap on node2 and release its block first (`nap-compose network rm --host node2`)\n")
    assert cli.kv.keys() == before
    assert cli.wiring.fake.calls == []


def test_network_check_names_a_host_that_did_not_answer_with_its_reason(cli):
    cli.wiring.views = [view("node1"), view("node2")]
    cli.wiring.unreachable = {"node3": "connection refused"}
    status, out, _ = cli("network", "check", "--format", "json")
    data = json.loads(out)
    assert status == 1
    assert [h["host"] for h in data["hosts"]] == ["node1", "node2"]
    assert [(f["kind"], f["host"]) for f in data["findings"]] == [("unreachable", "node3")]
    assert "connection refused" in data["findings"][0]["message"]
    assert "node3: connection refused" not in data["findings"][0]["message"]


def test_observe_network_asks_every_host_and_names_the_ones_that_did_not_answer():
    from napcompose.observe import observe_network
    from tests.fakes_engine import FakeWorld

    cluster = parse_cluster(CLUSTER, "nap-cluster.yml")
    world = FakeWorld([h.name for h in cluster.hosts])
    world.engines["node2"].unreachable = "connection refused"
    views, failed = observe_network(cluster, world.engines)
    assert [(v.host, v.exists, v.endpoints) for v in views] == [("node1", True, ()), ("node3", True, ())]
    assert failed == {"node2": "cannot connect to the Docker engine: connection refused"}  # no "node2: "


RESOLVER_CLUSTER = CLUSTER.replace("resolver: false}", "resolver: true}")


def _resolver_cluster(cli, tmp_path, text=RESOLVER_CLUSTER):
    from types import SimpleNamespace

    calls = []
    cli.wiring.resolver_image = lambda: calls.append("image") or SimpleNamespace(digest="d1")
    (tmp_path / "nap-cluster.yml").write_text(text)
    return parse_cluster(text, str(tmp_path / "nap-cluster.yml")), calls


def test_network_create_starts_the_resolvers_after_the_networks_and_reports_each(cli, tmp_path):
    from napcompose.clustermodel import FoundResolver
    from napcompose.network.resolver import config_digest

    cluster, calls = _resolver_cluster(cli, tmp_path)
    fake = cli.wiring.fake
    spec = cluster.network.resolver
    fake.resolver_images = {"node1": "d1", "node2": "d1"}
    fake.resolvers = {"node1": FoundResolver("r1", True, "running", config_digest(spec, cluster.hosts[0], "d1")),
                      "node2": FoundResolver("r2", False, "exited", config_digest(spec, cluster.hosts[1], "d1"))}
    fake.fail("copy", "node3", "no space left on device")
    fake.on_call = lambda operation, host: calls.append(operation) if operation != "find_network" else None
    status, out, err = cli("network", "create")
    assert calls[0] == "image"
    changes = [c for c in calls[1:] if c not in ("find_resolver", "resolver_image")]
    assert changes[:3] == ["create_network"] * 3 and set(changes[3:]) == {"copy", "start_resolver"}
    assert status == 7
    assert out.endswith("node1  resolver  ok        dnsmasq on 198.18.0.11:53\n"
                        "node2  resolver  started   dnsmasq on 198.18.0.12:53\n"
                        "node3  resolver  failed    load image nap-compose/resolver:latest from node1: "
                        "no space left on device\n")
    assert err == "ERROR: names resolver: 1 of 3 host(s) failed: node3\n"
    assert "node3" not in fake.resolvers


def test_network_create_loads_the_resolver_image_into_one_host_and_copies_it_to_the_others(cli, tmp_path):
    from napcompose.clustermodel import FoundResolver

    _resolver_cluster(cli, tmp_path)
    fake = cli.wiring.fake
    fake.resolvers = {"node2": FoundResolver("old", True, "running", "another config")}
    status, out, err = cli("network", "create")
    assert (status, err) == (0, "")
    assert [c for c in fake.calls if c[0] in ("load_resolver_image", "copy")] == [
        ("load_resolver_image", "node1"), ("copy", "node2"), ("copy", "node3")]
    assert out.splitlines()[3:] == ["node1  resolver  created   dnsmasq on 198.18.0.11:53",
                                    "node2  resolver  replaced  dnsmasq on 198.18.0.12:53",
                                    "node3  resolver  created   dnsmasq on 198.18.0.13:53"]
    assert fake.resolver_images == {"node1": "d1", "node2": "d1", "node3": "d1"}
    assert fake.resolvers["node2"].id != "old"


def test_network_create_without_dnsmasq_on_this_machine_touches_no_host_and_reserves_nothing(cli, tmp_path):
    from napcompose.errors import ConfigError

    def no_dnsmasq():
        raise ConfigError("network.resolver needs dnsmasq on this machine to build the resolver's image: "
                          "/usr/sbin/dnsmasq is missing (install Debian's dnsmasq-base)")

    cli.wiring.resolver_image = no_dnsmasq
    (tmp_path / "nap-cluster.yml").write_text(RESOLVER_CLUSTER.replace("  - {name: node3", "  - {name: node4, "
                                                                       "address: 198.18.0.14}\n  - {name: node3"))
    before = cli.kv.keys()
    status, out, err = cli("network", "create")
    assert (status, out) == (3, "")
    assert "/usr/sbin/dnsmasq is missing (install Debian's dnsmasq-base)" in err
    assert cli.kv.keys() == before  # node4's block was not reserved
    assert cli.wiring.fake.calls == []


def test_network_check_reports_a_resolver_that_is_down(cli, tmp_path):
    from napcompose.clustermodel import FoundResolver
    from napcompose.network.resolver import config_digest

    cluster, _ = _resolver_cluster(cli, tmp_path)
    spec = cluster.network.resolver
    cli.wiring.fake.resolvers = {
        h.name: FoundResolver(f"r-{h.name}", h.name != "node2", "exited", config_digest(spec, h, "d1"))
        for h in cluster.hosts}
    status, out, err = cli("network", "check")
    assert status == 1
    assert ("resolver-down      node2      -                        the names resolver on node2 is down: "
            "nap-compose-resolver is exited (run `nap-compose network create`)") in out
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("resolver-down")] == [
        ["resolver-down", "node2"]]
