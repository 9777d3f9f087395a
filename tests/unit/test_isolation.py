"""Isolation groups: the members and their groups, one host's table (golden text), the diff
``network check`` reports, the plans that load the filters, and the handler over the fakes."""

from dataclasses import replace

import pytest

from napcompose.adapters.bridge_filter import parse_ports
from napcompose.cluster import parse_cluster
from napcompose.errors import ConfigError
from napcompose.execute.isolation import check_filters, repair_filters
from napcompose.isolation.diff import differences, parse_loaded
from napcompose.isolation.groups import GROUPS_LABEL, Member, members, peers, shares_network
from napcompose.isolation.ruleset import host_rules, render, rule_count
from napcompose.model import (Allocation, BridgePort, NetworkAttachment, ObservedContainer, Project, Replica,
                              ServiceSpec, UpdateConfig)
from napcompose.orchestrator import Orchestrator
from napcompose.planner import ApplyIsolation, render as render_plan
from napcompose.ports import ListReporter
from tests import nap
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
from tests.fakes_kv import MemoryKV
from tests.unit.test_orchestrator import NODES, cluster

POOLS = ("198.18.0.100-198.18.0.199",)


def shop() -> Project:
    return Project(name="shop", services=(
        ServiceSpec(name="api", image="busybox",
                    networks=(NetworkAttachment("front"), NetworkAttachment("back"))),
        ServiceSpec(name="db", image="redis", networks=(NetworkAttachment("back"),)),
        ServiceSpec(name="web", image="busybox", networks=(NetworkAttachment("front"),)),
    ))


def allocation(owner: str, ip: str, host: str) -> Allocation:
    return Allocation(ip, owner, host, "bound", 0.0, f"id-{ip}")


def container(owner: str, ip: str, host: str, label=None) -> ObservedContainer:
    project, service, index = owner.split("/")
    labels = ((GROUPS_LABEL, label),) if label is not None else ()
    return ObservedContainer(host, f"c{ip}", owner.replace("/", "_"), Replica(project, service, int(index)),
                             None, "running", ip=ip, labels=labels)


RECORDS = [allocation("shop/api/1", "198.18.0.101", "node1"), allocation("shop/db/1", "198.18.0.102", "node1"),
           allocation("shop/web/1", "198.18.0.103", "node2"), allocation("blog/app/1", "198.18.0.110", "node3"),
           allocation("old/app/1", "198.18.0.120", "node3"), allocation("manual-printer", "198.18.0.130", "node1")]
SEEN = [container("blog/app/1", "198.18.0.110", "node3", "default"),
        container("shop/web/1", "198.18.0.103", "node2", "default")]  # label to be replaced by the file's


# ------------------------------------------------------------------ the members


def test_groups_come_from_the_deployed_project_then_the_labels_then_the_project_as_a_whole():
    found = members(RECORDS, SEEN, shop())
    assert found == (
        Member("198.18.0.101", "node1", ("shop/back", "shop/front")),
        Member("198.18.0.102", "node1", ("shop/back",)),
        Member("198.18.0.103", "node2", ("shop/front",)),  # the file wins over the old label
        Member("198.18.0.110", "node3", ("blog/default",)),
        Member("198.18.0.120", "node3", ("old/default",)),  # no label: its project's every group
    )
    assert peers(found, "198.18.0.103") == ("198.18.0.101",)
    assert peers(found, "198.18.0.102") == ("198.18.0.101",)


def test_a_container_without_a_label_keeps_every_group_of_its_project():
    records = [allocation("shop/api/1", "198.18.0.101", "node1"), allocation("shop/db/1", "198.18.0.102", "node1")]
    seen = [container("shop/api/1", "198.18.0.101", "node1", "back,front")]
    found = members(records, seen)
    assert found[1] == Member("198.18.0.102", "node1", ("shop/back", "shop/default", "shop/front"))


def test_an_old_copy_kept_beside_its_new_one_keeps_its_services_groups():
    records = [allocation("shop/web/1@gen2", "198.18.0.103", "node2"), allocation("shop/web/1", "198.18.0.104", "node1"),
               allocation("shop/api/1", "198.18.0.101", "node1"), allocation("shop/web/1@bad", "198.18.0.105", "node1")]
    found = members(records, [], shop())
    assert Member("198.18.0.103", "node2", ("shop/front",)) in found  # still serving until it stops
    assert Member("198.18.0.104", "node1", ("shop/front",)) in found
    assert not [m for m in found if m.ip == "198.18.0.105"]  # not an owner nap-compose writes


def test_a_label_naming_a_bad_network_is_ignored():
    seen = [container("shop/api/1", "198.18.0.101", "node1", "front,../x;rm")]
    assert members(RECORDS[:1], seen) == (Member("198.18.0.101", "node1", ("shop/front",)),)


def test_services_share_a_network_or_not():
    project = shop()
    assert shares_network(project, "web", "api") and shares_network(project, "api", "db")
    assert not shares_network(project, "web", "db")


# ------------------------------------------------------------------ one host's table

GOLDEN = """\
# nap-compose bridge filter of node1: isolation groups and anti-spoofing
table bridge nap_compose
delete table bridge nap_compose
table bridge nap_compose {
\tset pool {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 198.18.0.100-198.18.0.199 }
\t}
\tset local {
\t\ttype ipv4_addr
\t\telements = { 198.18.0.101, 198.18.0.102 }
\t}
\tset ports {
\t\ttype ifname
\t\telements = { "veth1a2b3c4" }
\t}
\tset port_ip {
\t\ttype ifname . ipv4_addr
\t\telements = { "veth1a2b3c4" . 198.18.0.101 }
\t}
\tset port_mac {
\t\ttype ifname . ether_addr
\t\telements = { "veth1a2b3c4" . 02:42:c6:12:00:65 }
\t}
\tset g0 {
\t\ttype ipv4_addr
\t\tcomment "shop/back"
\t\telements = { 198.18.0.101, 198.18.0.102 }
\t}
\tset g1 {
\t\ttype ipv4_addr
\t\tcomment "shop/front"
\t\telements = { 198.18.0.101, 198.18.0.103 }
\t}
\tchain spoof {
\t\tiifname @ports iifname . ether saddr != @port_mac drop
\t\tiifname @ports ether type != { ip, arp } drop
\t\tiifname @ports iifname . ip saddr != @port_ip drop
\t\tiifname @ports iifname . arp saddr ip != @port_ip drop
\t\tiifname @ports iifname . arp saddr ether != @port_mac drop
\t\tiifname != @ports iifname "veth*" ip saddr @pool ip saddr != @local drop
\t\tiifname != @ports iifname "veth*" arp saddr ip @pool arp saddr ip != @local drop
\t}
\tchain groups {
\t\tip saddr != @pool accept
\t\tip daddr != @pool accept
\t\tip saddr @g0 ip daddr @g0 accept
\t\tip saddr @g1 ip daddr @g1 accept
\t\tmeta mark set 0x6e617063
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tjump spoof
\t\tether type ip jump groups comment "nap-compose ruleset DIGEST"
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tjump spoof
\t}
\tchain refused {
\t\ttype filter hook forward priority 300; policy accept;
\t\tmeta mark 0x6e617063 drop
\t}
}
table ip nap_compose
delete table ip nap_compose
table ip nap_compose {
\tchain forward {
\t\ttype filter hook forward priority filter - 10; policy accept;
\t\tmeta mark 0x6e617063 meta l4proto tcp reject with tcp reset
\t\tmeta mark 0x6e617063 reject with icmp type admin-prohibited
\t}
}
"""
PORT = BridgePort("veth1a2b3c4", "198.18.0.101", "02:42:c6:12:00:65")


def node1_rules(records=RECORDS, seen=SEEN):
    return host_rules("node1", POOLS, members(records, seen, shop()), [PORT])


def test_a_hosts_table_holds_its_groups_ports_and_local_addresses_only():
    text = render(node1_rules())
    digest = text.split("nap-compose ruleset ")[1].split('"')[0]
    assert len(digest) == 16
    assert text == GOLDEN.replace("DIGEST", digest)  # blog and old have no member on node1: no set


def test_the_table_is_the_same_whatever_order_the_inputs_come_in():
    assert render(node1_rules(list(reversed(RECORDS)), list(reversed(SEEN)))) == render(node1_rules())


def test_rules_grow_with_groups_only_and_never_with_containers():
    many = [allocation(f"p{n}/s{i}/1", f"10.0.{n}.{i}", "node1") for n in range(100) for i in range(1, 6)]
    rules = host_rules("node1", ("10.0.0.0/16",), members(many, []), [])
    assert len(rules.groups) == 100 and rule_count(rules) == 16 + 100
    assert render(rules).count(" accept\n") == 2 + 100


# ------------------------------------------------------------------ the diff


def test_a_loaded_table_equal_to_the_records_shows_no_difference_and_a_changed_one_names_what():
    world = FakeWorld(["node1"])
    rules = node1_rules()
    world.bridge.load("node1", render(rules))
    assert differences(rules, parse_loaded(world.bridge.loaded("node1"))) == []
    fewer = host_rules("node1", POOLS, members(RECORDS[:1] + RECORDS[2:], SEEN, shop()), [])
    assert differences(fewer, parse_loaded(world.bridge.loaded("node1"))) == [
        "group shop/back: extra 198.18.0.102", "local: extra 198.18.0.102", "port_ip: extra veth1a2b3c4 . 198.18.0.101",
        "port_mac: extra veth1a2b3c4 . 02:42:c6:12:00:65", "ports: extra veth1a2b3c4"]
    assert differences(rules, None) == ["no nap-compose table is loaded"]
    edited = world.bridge.tables["node1"].replace("ip daddr != @pool accept", "accept")
    world.bridge.tables["node1"] = edited
    assert differences(rules, parse_loaded(world.bridge.loaded("node1"))) == [
        "chain groups: rules differ from nap-compose's"]


NFT_LISTING = """table bridge nap_compose {
\tset pool {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 198.18.0.100/30, 198.18.0.104-198.18.0.199 }
\t}

\tset port_ip {
\t\ttype ifname . ipv4_addr
\t\telements = { "veth1a2b3c4" . 198.18.0.101,
\t\t\t     "veth5d6e7f8" . 198.18.0.102 }
\t}

\tchain groups {
\t\tip saddr != @pool accept
\t}
}
"""


def test_nfts_own_listing_of_prefixes_and_wrapped_concatenations_reads_as_the_rendered_sets():
    loaded = parse_loaded(NFT_LISTING)
    assert dict(loaded.sets) == {"pool": {"198.18.0.100-198.18.0.199"},
                                 "port_ip": {"veth1a2b3c4 . 198.18.0.101", "veth5d6e7f8 . 198.18.0.102"}}
    assert dict(loaded.chains) == {"groups": ("ip saddr != @pool accept",)}
    assert parse_loaded("table bridge filter {\n}\n") is None
    with pytest.raises(ValueError):
        parse_loaded(NFT_LISTING.replace("198.18.0.100/30", "198.18.0.300/30"))


def test_the_ports_found_inside_and_on_the_host_pair_up_by_index():
    out = ("pid 41 2: eth0@if9: <BROADCAST,UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \\"
           "    link/ether 02:42:c6:12:00:65 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
           "host 9: veth1a2b3c4@if2: <BROADCAST,UP> mtu 1500 master br0 state UP\n"
           "host 4: eth0@if5: <BROADCAST,UP> mtu 1500 master br0 state UP\n"
           "host 7: bad;name@if2: <BROADCAST,UP> mtu 1500 master br0\n")
    inside, ports = parse_ports(out)
    assert inside == {41: (9, "02:42:c6:12:00:65")} and ports == {9: "veth1a2b3c4", 4: "eth0"}
    # the same read from the container's sysfs by the shell: "sys <pid> <iflink> <address>"
    inside, _ = parse_ports("sys 52 11 02:42:c6:12:00:66\nsys 53 x 02:42:c6:12:00:67\nsys 54 12 02:42:c6:12:00\n")
    assert inside == {52: (11, "02:42:c6:12:00:66")}


# ------------------------------------------------------------------ the cluster setting


def test_isolation_is_on_unless_the_cluster_file_turns_it_off(tmp_path):
    base = ("hosts: [{name: node1, address: 198.18.0.1}]\n"
            "network: {subnet: 198.18.0.0/24, router: 198.18.0.254, pools: [198.18.0.100-198.18.0.199]%s}\n"
            "store: {url: 'file:///tmp/x.json'}\n")
    assert parse_cluster(base % "", str(tmp_path / "c.yml")).network.isolation is True
    assert parse_cluster(base % ", isolation: true", str(tmp_path / "c.yml")).network.isolation is True
    assert parse_cluster(base % ", isolation: false", str(tmp_path / "c.yml")).network.isolation is False
    with pytest.raises(ConfigError) as error:
        parse_cluster(base % ", isolation: 'no'", str(tmp_path / "c.yml"))
    assert "c.yml" in str(error.value) and "network.isolation: must be true or false, not 'no'" in str(error.value)


# ------------------------------------------------------------------ plans and the handler


class Rig:
    def __init__(self, isolation=True):
        base = cluster()
        self.cluster = replace(base, network=replace(base.network, isolation=isolation))
        self.world = FakeWorld(NODES)
        self.clock = FakeClock()
        self.ipam = make_ipam(self.cluster, self.clock, MemoryKV())
        self.orc = Orchestrator(self.cluster, self.world.engines, self.world.files, self.ipam, ListReporter(),
                                self.clock, images=self.world.images, bridge_filter=self.world.bridge)

    def check(self):
        return check_filters(self.cluster, self.world.engines, self.ipam, self.world.bridge, list(NODES))


def test_a_second_up_that_changes_nothing_loads_no_filter():
    rig = Rig()
    assert not nap.up(rig.orc, shop()).failed
    plan, _ = rig.orc.plan(shop(), nap.options(["up"], shop()))
    assert not [a for a in plan.actions if isinstance(a, ApplyIsolation)]
    loads = len(rig.world.bridge.loads)
    assert not nap.up(rig.orc, shop()).failed and len(rig.world.bridge.loads) == loads
    assert rig.check() == []


def test_up_loads_the_filters_before_the_containers_and_after_them_announcing_what_started():
    rig = Rig()
    plan, _ = rig.orc.plan(shop(), nap.options(["up"], shop()))
    kinds = [[type(a).__name__ for a in wave] for wave in plan.waves]
    before = next(i for i, wave in enumerate(kinds) if "ApplyIsolation" in wave)
    first_create = next(i for i, wave in enumerate(kinds) if "Create" in wave)
    assert before < first_create and "ApplyIsolation" in kinds[-1]
    last = [a for a in plan.waves[-1] if isinstance(a, ApplyIsolation)][0]
    assert last.hosts == NODES and {r.service for r in last.announce} == {"api", "db", "web"}
    assert "bridge filters on node1, node2, node3: load the groups with the replicas about to start" \
           in render_plan(plan)
    report = nap.up(rig.orc, shop())
    assert not report.failed, report.failed
    assert sorted(set(rig.world.bridge.loads)) == list(NODES) and len(rig.world.bridge.loads) == 6
    assert sorted(ip for _, ip in rig.world.bridge.announced) == sorted(
        rig.ipam.lookup(f"shop/{s}/1").ip for s in ("api", "db", "web"))
    assert rig.check() == []
    web_host = rig.ipam.lookup("shop/web/1").host
    table = rig.world.bridge.tables[web_host]
    assert 'comment "shop/front"' in table and rig.ipam.lookup("shop/web/1").ip in table


def test_down_takes_the_addresses_out_of_every_group_once_they_are_released():
    rig = Rig()
    assert not nap.up(rig.orc, shop()).failed
    assert not nap.down(rig.orc, shop()).failed
    for host in NODES:
        assert "shop/" not in rig.world.bridge.tables[host]
    assert rig.check() == []


def test_check_names_a_host_whose_table_drifted_and_repair_loads_it():
    rig = Rig()
    assert not nap.up(rig.orc, shop()).failed
    rig.world.bridge.tables.pop("node2")
    drift = rig.check()
    assert [(d.host, d.lines) for d in drift] == [("node2", ("no nap-compose table is loaded",))]
    assert repair_filters(rig.cluster, rig.world.engines, rig.ipam, rig.world.bridge, list(NODES)) == {
        "node1": None, "node2": None, "node3": None}
    assert rig.check() == []


def test_a_host_whose_filter_cannot_be_loaded_is_reported_and_the_others_are_loaded():
    rig = Rig()
    rig.world.bridge.failures["node3"] = "nft could not load nap-compose's bridge filter: Operation not permitted"
    report = nap.up(rig.orc, shop())
    failed = [o for o in report.outcomes if not o.ok]
    assert {(o.subject, o.host) for o in failed} == {("bridge filter", "node3")}
    assert all("Operation not permitted" in o.error and o.error.startswith("node3: ") for o in failed)
    assert {"node1", "node2"} <= set(rig.world.bridge.tables)


def test_without_isolation_nothing_is_planned_and_repair_removes_a_table_left_behind():
    rig = Rig(isolation=False)
    plan, _ = rig.orc.plan(shop(), nap.options(["up"], shop()))
    assert not any(isinstance(a, ApplyIsolation) for a in plan.actions)
    rig.world.bridge.load("node1", render(node1_rules()))
    assert [d.host for d in rig.check()] == ["node1"]
    repair_filters(rig.cluster, rig.world.engines, rig.ipam, rig.world.bridge, list(NODES))
    assert rig.world.bridge.tables == {} and rig.check() == []


def test_names_are_given_only_for_services_sharing_a_network():
    rig = Rig()
    assert not nap.up(rig.orc, shop()).failed
    web = rig.world.container("shop_web_1")
    names = {name for name, _ in web.request.extra_hosts}
    assert "api" in names and "db" not in names and "shop_db_1" not in names
    api = {name for name, _ in rig.world.container("shop_api_1").request.extra_hosts}
    assert {"web", "db"} <= api


def test_up_with_a_bad_isolation_setting_names_the_file_and_key_and_touches_nothing(tmp_path):
    from tests.unit.test_cli_project import CLUSTER, Cli

    cli = Cli(tmp_path)
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER.replace("router: 198.18.0.1,", "router: 198.18.0.1, isolation: 1,"))
    status, out, err = cli("up", "-d")
    assert status == 3, err
    assert "nap-cluster.yml" in err and "network.isolation: must be true or false, not 1" in err
    assert cli.untouched() and cli.world.bridge.loads == []


def test_before_the_containers_the_ports_bound_last_time_are_kept_without_asking_the_engine():
    from napcompose.isolation.diff import bound_ports

    assert bound_ports(parse_loaded(render(node1_rules()))) == (PORT,)
    rig = Rig()
    assert not nap.up(rig.orc, shop()).failed
    asked = []
    ports = rig.world.bridge.ports
    rig.world.bridge.ports = lambda host, containers: asked.append(host) or ports(host, containers)
    words = ["up", "--force-recreate"]  # both loads: new containers, and their ports bound after
    plan, addresses = rig.orc.plan(shop(), nap.options(words, shop()))
    report = rig.orc.execute(shop(), plan, addresses, nap.options(words, shop()))
    assert not report.failed and sorted(asked) == list(NODES)  # the last load only
    assert rig.check() == []


def test_a_start_first_updates_new_copy_is_in_its_groups_on_every_host_before_it_starts():
    from tests.unit.test_rolling import HC

    def project(version):
        web = ServiceSpec(name="web", image="busybox", scale=2, environment=(("V", version),), healthcheck=HC,
                          update=UpdateConfig(order="start-first"), networks=(NetworkAttachment("front"),))
        api = ServiceSpec(name="api", image="busybox", networks=(NetworkAttachment("front"),))
        return Project(name="shop", services=(api, web))

    rig = Rig()
    assert not nap.up(rig.orc, project("1")).failed
    old = {rig.ipam.lookup(f"shop/web/{i}").ip for i in (1, 2)}
    seen = []
    for host, engine in rig.world.engines.items():
        def start(container_id, engine=engine, plain=engine.start_container):
            ip = engine.containers[container_id].request.ip
            # every host's web group holds the address the moment its container starts
            seen.append((ip, all(ip in rig.world.bridge.tables[h] for h in NODES)))
            plain(container_id)
        engine.start_container = start
    report = nap.up(rig.orc, project("2"))
    assert not report.failed, report.failed
    new = {rig.ipam.lookup(f"shop/web/{i}").ip for i in (1, 2)}
    assert new.isdisjoint(old) and {ip for ip, _ in seen} >= new
    assert all(joined for ip, joined in seen if ip in new), seen
    assert rig.check() == []



def test_a_one_off_joins_its_services_groups_before_it_is_created():
    from napcompose.model import HostStatus
    from napcompose.observe.observation import Addresses, Observation
    from napcompose.planner.run import RunOptions, plan_run

    def plan(isolation):
        base = cluster()
        c = replace(base, network=replace(base.network, isolation=isolation))
        observation = Observation(c, "shop", hosts=tuple(HostStatus(h.name, True) for h in c.hosts))
        return plan_run(shop(), observation, Addresses(), RunOptions(service="web", slug="ab" * 32))

    kinds = [[type(a).__name__ for a in wave] for wave in plan(True).waves]
    joins = next(i for i, wave in enumerate(kinds) if "ApplyIsolation" in wave)
    assert kinds.index(["Reserve"]) < joins < kinds.index(["CreateOneOff"])
    [load] = [a for a in plan(True).actions if isinstance(a, ApplyIsolation)]
    assert load.phase == "before" and load.hosts == NODES
    assert not [a for a in plan(False).actions if isinstance(a, ApplyIsolation)]


def test_a_command_given_no_way_to_the_filters_fails_instead_of_leaving_new_replicas_out_of_their_groups():
    rig = Rig()
    orc = Orchestrator(rig.cluster, rig.world.engines, rig.world.files, rig.ipam, ListReporter(), rig.clock,
                       images=rig.world.images)  # isolation on, no bridge filter wired
    report = nap.up(orc, shop())
    assert [o.error for o in report.failed if o.subject == "bridge filters"] == [
        "isolation is on but this command was given no way to load the hosts' bridge filters"] * 2


def test_a_start_first_copy_is_not_started_outside_its_groups_when_the_filters_cannot_be_reached():
    from tests.unit.test_rolling import HC

    def project(version):
        web = ServiceSpec(name="web", image="busybox", environment=(("V", version),), healthcheck=HC,
                          update=UpdateConfig(order="start-first"), networks=(NetworkAttachment("front"),))
        return Project(name="shop", services=(web,))

    rig = Rig()
    assert not nap.up(rig.orc, project("1")).failed
    old = rig.ipam.lookup("shop/web/1").ip
    blind = Orchestrator(rig.cluster, rig.world.engines, rig.world.files, rig.ipam, ListReporter(), rig.clock,
                         images=rig.world.images)  # isolation on, no bridge filter wired
    report = nap.up(blind, project("2"))
    errors = [o.error for o in report.failed]
    assert any("no way to load the hosts' bridge filters" in e and f"the old one still runs at {old}" in e
               for e in errors), errors
    assert rig.ipam.lookup("shop/web/1").ip == old  # the old copy kept its address and serves on


def test_every_container_started_is_told_to_the_filters_and_none_without_isolation():
    rig = Rig()
    assert not nap.up(rig.orc, shop()).failed
    started = sorted(rig.world.bridge.started_ids)
    assert started == sorted((host, c.id) for host, e in rig.world.engines.items() for c in e.containers.values())
    assert len(started) == 3
    quiet = Rig(isolation=False)
    assert not nap.up(quiet.orc, shop()).failed
    assert quiet.world.bridge.started_ids == []
