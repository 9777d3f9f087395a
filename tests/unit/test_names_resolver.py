"""The resolvers' names: the cluster setting, the project's file, the plans that write it, what it holds."""

from dataclasses import replace

import pytest

from napcompose.cluster import parse_cluster, render_cluster
from napcompose.clustermodel import ResolverSpec
from napcompose.errors import ConfigError
from napcompose.model import Link, NetworkAttachment, Project, Replica, ServiceSpec
from napcompose.names.records import mark_name, names_files, project_domain, render_names
from napcompose.orchestrator import Orchestrator
from napcompose.planner import WriteNames, render
from napcompose.ports import ListReporter
from tests import nap
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
from tests.fakes_kv import MemoryKV
from tests.unit.test_orchestrator import NODES, cluster

DIR = "/var/lib/nap-compose/names"


def shop(api_scale=1):
    return Project(name="shop", services=(
        ServiceSpec(name="api", image="busybox", scale=api_scale,
                    networks=(NetworkAttachment("default", aliases=("backend",)),)),
        ServiceSpec(name="client", image="busybox"),
        ServiceSpec(name="web", image="busybox", links=(Link("api", "service"),)),
    ))


class Rig:
    def __init__(self):
        base = cluster()
        self.cluster = replace(base, network=replace(base.network, resolver=ResolverSpec()))
        self.world = FakeWorld(NODES)
        self.clock = FakeClock()
        self.ipam = make_ipam(self.cluster, self.clock, MemoryKV())
        self.reporter = ListReporter()
        self.orc = Orchestrator(self.cluster, self.world.engines, self.world.files, self.ipam,
                                self.reporter, self.clock, images=self.world.images)

    def files(self, host, project="shop"):
        return sorted(p for p in self.world.files(host).tree if p.startswith(f"{DIR}/{host}/{project}@")
                      and p.endswith(".hosts"))

    def names(self, host, project="shop"):
        """Every names line of the project's files on ``host`` (headers left out)."""
        tree = self.world.files(host).tree
        return "".join(line + "\n" for p in self.files(host, project) for line in tree[p][2].decode().splitlines()
                       if not line.startswith("#"))

    def puts(self):
        return sum(1 for h in NODES for op, path in self.world.files(h).staged if op == "put" and path.endswith(".hosts"))

    def address(self, project, service, index):
        return self.ipam.lookup(f"{project}/{service}/{index}").ip


# ------------------------------------------------------------------ the cluster setting


CLUSTER = """
hosts:
  - {{name: node1, address: 198.18.0.1}}
network:
  subnet: 198.18.0.0/24
  router: 198.18.0.254
  pools: [198.18.0.100-198.18.0.199]
  {resolver}
store: {{url: "file:///tmp/x.json"}}
"""


def test_the_resolver_is_on_unless_the_cluster_file_turns_it_off():
    assert parse_cluster(CLUSTER.format(resolver=""), "c.yml").network.resolver == ResolverSpec()
    assert parse_cluster(CLUSTER.format(resolver="resolver: true"), "c.yml").network.resolver == ResolverSpec()
    off = parse_cluster(CLUSTER.format(resolver="resolver: false"), "c.yml")
    assert off.network.resolver is None
    assert parse_cluster(render_cluster(off), "c.yml").network.resolver is None  # rendered as false, not dropped
    spec = parse_cluster(CLUSTER.format(resolver="resolver: {upstream: [198.18.0.53], domain: lan.nap}"),
                             "c.yml").network.resolver
    assert (spec.upstream, spec.domain, spec.directory) == (("198.18.0.53",), "lan.nap", DIR)
    with_spec = parse_cluster(CLUSTER.format(resolver="resolver: {upstream: [198.18.0.53], domain: lan.nap}"), "c.yml")
    assert parse_cluster(render_cluster(with_spec), "c.yml").network.resolver == spec


@pytest.mark.parametrize("setting,message", [
    ("resolver: {upstream: [dns.example]}", "network.resolver.upstream[0]: 'dns.example' is not an IPv4 address"),
    ("resolver: {domain: 'Bad_Domain'}", "network.resolver.domain: 'Bad_Domain' is not a DNS domain"),
    ("resolver: {directory: relative/dir}", "network.resolver.directory: 'relative/dir' is not an absolute path"),
    ("resolver: {upstreams: []}", "did you mean 'upstream'?"),
])
def test_a_bad_resolver_setting_names_its_key(setting, message):
    with pytest.raises(ConfigError) as raised:
        parse_cluster(CLUSTER.format(resolver=setting), "c.yml")
    assert message in str(raised.value) and "c.yml" in str(raised.value)


# ------------------------------------------------------------------ the file


def test_the_file_gives_every_replica_the_service_name_and_its_own_names_under_the_project_domain():
    addresses = {Replica("shop", "api", 1): "198.18.0.101", Replica("shop", "api", 2): "198.18.0.102",
                 Replica("other", "api", 1): "198.18.0.150"}
    text = render_names(shop(2), "nap", addresses)
    assert text == ("# nap-compose shop: the names of its serving replicas\n"
                    "198.18.0.101 api.shop.nap backend.shop.nap api_1.shop.nap api-1.shop.nap shop-api-1.shop.nap "
                    "shop_api_1.shop.nap\n"
                    "198.18.0.102 api.shop.nap backend.shop.nap api_2.shop.nap api-2.shop.nap shop-api-2.shop.nap "
                    "shop_api_2.shop.nap\n")
    assert project_domain("shop", "nap") == "shop.nap"
    files = names_files(shop(2), "nap", addresses)
    assert files == {"shop@api.hosts": text}  # one file per service
    assert mark_name("shop@api.hosts", text) != mark_name("shop@api.hosts", text + "x")
    assert mark_name("shop@api.hosts", text).startswith("shop@api@")


def test_a_name_that_cannot_go_into_a_names_file_is_refused():
    with pytest.raises(ConfigError, match=r"invalid name 'x y' for a hosts file"):
        project_domain("x y", "nap")
    with pytest.raises(ConfigError, match=r"invalid address '10.0.0.1 evil' for api_1 in a names file"):
        render_names(shop(), "nap", {Replica("shop", "api", 1): "10.0.0.1 evil"})


# ------------------------------------------------------------------ plans and runs


def test_up_writes_the_names_on_every_host_before_the_containers_and_after():
    rig = Rig()
    the_plan = nap.preview(rig.orc, shop())
    names = [(i, a.host, a.phase) for i, wave in enumerate(the_plan.waves) for a in wave if isinstance(a, WriteNames)]
    first_create = min(i for i, wave in enumerate(the_plan.waves) for a in wave if a.kind == "create")
    assert sorted((h, p) for _, h, p in names) == sorted([(h, "before") for h in NODES] + [(h, "after") for h in NODES])
    assert all(i < first_create for i, _, phase in names if phase == "before")
    nap.up(rig.orc, shop())
    api = rig.address("shop", "api", 1)
    for host in NODES:
        assert f"{api} api.shop.nap backend.shop.nap api_1.shop.nap" in rig.names(host)


def test_containers_get_their_hosts_resolver_and_the_project_domain_and_no_bare_service_name():
    rig = Rig()
    nap.up(rig.orc, shop())
    for container in rig.world.all_containers():
        request = container.request
        assert request.dns == (rig.cluster.host(request.host).address,)
        assert request.dns_search == ("shop.nap",)
    client = next(c for c in rig.world.all_containers() if c.request.replica.service == "client").request
    # the resolver answers the service names (with every replica) and the replicas of services it
    # does not link to; /etc/hosts keeps the links' aliases and their targets' replicas
    assert client.extra_hosts == ()
    web = next(c for c in rig.world.all_containers() if c.request.replica.service == "web").request
    api = rig.address("shop", "api", 1)
    assert web.extra_hosts == (("service", api), ("api_1", api), ("api-1", api), ("shop-api-1", api),
                               ("shop_api_1", api))


def test_scale_writes_one_file_per_host_and_scaling_back_removes_the_names():
    rig = Rig()
    nap.up(rig.orc, shop())
    before = rig.puts()
    nap.up(rig.orc, shop(3))
    assert rig.puts() - before == len(NODES)  # one file per host: the before-write already holds all three
    text = rig.names("node1")
    assert all(f"api-{i}.shop.nap" in text for i in (1, 2, 3))
    nap.up(rig.orc, shop(1))
    assert "api-2.shop.nap" not in rig.names("node2") and "api-1.shop.nap" in rig.names("node2")
    steady = rig.puts()
    nap.up(rig.orc, shop(1))
    assert rig.puts() == steady  # nothing changed: nothing written


def test_down_empties_the_file_before_the_containers_go():
    rig = Rig()
    nap.up(rig.orc, shop())
    nap.down(rig.orc, shop())
    for host in NODES:
        assert rig.files(host) == []


def test_two_projects_keep_their_own_files():
    rig = Rig()
    nap.up(rig.orc, shop())
    other = replace(shop(), name="other")
    nap.up(rig.orc, other)
    assert "api.shop.nap" in rig.names("node1") and "api.other.nap" not in rig.names("node1")
    assert "api.other.nap" in rig.names("node1", "other")
    assert rig.address("shop", "api", 1) != rig.address("other", "api", 1)


def test_a_host_whose_files_fail_is_reported_and_the_others_still_get_theirs():
    rig = Rig()
    rig.world.files("node2").fail_paths[f"{DIR}/node2"] = "permission denied"
    report = nap.up(rig.orc, shop())
    failed = [o for o in report.failed if o.action == "Updating names on"]
    assert failed and all(o.host == "node2" and "permission denied" in o.error for o in failed)
    assert "api.shop.nap" in rig.names("node1")


# ------------------------------------------------------------------ checks


def test_hosts_check_finds_a_missing_or_stale_names_file_and_sync_repairs_it():
    rig = Rig()
    nap.up(rig.orc, shop())
    assert rig.orc.names_check(shop()) == []
    tree1 = rig.world.files("node1").tree
    [mark] = [p for p in tree1 if p.startswith(f"{DIR}/node1/shop@api@")]
    tree1[f"{DIR}/node1/shop@api@0000000000000000.sum"] = tree1.pop(mark)  # a file changed by someone else
    tree1[f"{DIR}/node1/shop@gone.hosts"] = ("file", 0o644, b"198.18.0.9 gone.shop.nap\n")  # a service that went
    del rig.world.files("node3").tree[f"{DIR}/node3/shop@api.hosts"]
    drifts = {d.host: (d.missing, d.stale) for d in rig.orc.names_check(shop())}
    assert drifts == {"node1": (("shop@api.hosts",), ("shop@gone.hosts",)), "node3": (("shop@api.hosts",), ())}
    assert rig.orc.hosts_sync(shop()).failed == ()
    assert rig.orc.names_check(shop()) == []
    assert f"{DIR}/node1/shop@gone.hosts" not in tree1 and f"{DIR}/node1/shop@api@0000000000000000.sum" not in tree1


def test_the_resolver_runs_dnsmasq_on_the_hosts_address_with_a_short_ttl_and_no_upstream_unless_named():
    from napcompose.network import resolver
    from napcompose.network.check import resolver_findings

    words = resolver.argv(ResolverSpec(), "198.18.0.2")
    assert "--listen-address=198.18.0.2" in words and "--no-resolv" in words and "--local=/nap/" in words
    assert f"--hostsdir={resolver.MOUNT}" in words and "--local-ttl=2" in words
    assert not any(w.startswith("--server=") for w in words)
    assert "--server=198.18.0.53" in resolver.argv(ResolverSpec(upstream=("198.18.0.53",)), "198.18.0.2")
    from napcompose.clustermodel import Host
    one, two = Host("node1", "198.18.0.2", "ssh://x"), Host("node2", "198.18.0.3", "ssh://y")
    assert resolver.config_digest(ResolverSpec(), one, "a") != resolver.config_digest(ResolverSpec(), two, "a")
    findings = resolver_findings([resolver.ResolverStatus("node1", "ok"),
                                  resolver.ResolverStatus("node2", "down", "no nap-compose-resolver container"),
                                  resolver.ResolverStatus("node3", "failed", "ssh: timed out")], {"node3": "timed out"})
    assert [(f.kind, f.host, f.message) for f in findings] == [
        ("resolver-down", "node2", "the names resolver on node2 is down: no nap-compose-resolver container "
                                   "(run `nap-compose network create`)")]


def test_a_rolling_update_takes_a_replica_out_of_the_names_before_it_stops():
    from napcompose.model import Healthcheck

    def web(version):
        return Project(name="shop", services=(ServiceSpec(
            name="web", image="busybox", scale=3, environment=(("V", version),),
            healthcheck=Healthcheck(test=("CMD", "true"), interval_s=1.0)),))

    rig = Rig()
    nap.up(rig.orc, web("1"))
    seen = {}
    for host, engine in rig.world.engines.items():
        original = engine.stop_container

        def stop(container_id, timeout=None, engine=engine, original=original):
            name = engine.containers[container_id].request.name
            seen[name] = sorted(line.split()[0] for line in rig.names("node1").splitlines())
            return original(container_id, timeout)

        engine.stop_container = stop
    addresses = {i: rig.address("shop", "web", i) for i in (1, 2, 3)}
    assert nap.up(rig.orc, web("2")).failed == ()
    # each replica left the resolvers' names before it stopped, and was back once its new container passed
    assert seen == {"shop_web_1": sorted([addresses[2], addresses[3]]),
                    "shop_web_2": sorted([addresses[1], addresses[3]]),
                    "shop_web_3": sorted([addresses[1], addresses[2]])}
    assert sorted(line.split()[0] for line in rig.names("node3").splitlines()) == sorted(addresses.values())


def test_plan_shows_the_names_writes():
    rig = Rig()
    lines = render(nap.preview(rig.orc, shop()))
    assert "names on node2: write project shop's files for the resolver (with the replicas about to start, " \
           "without those about to stop)" in lines
    assert "names on node2: write project shop's files for the resolver (the serving replicas)" in lines


# ------------------------------------------------------------------ a name answers only for a running replica


def _names_at_each_stop(rig, service):
    """{container: the addresses ``service``'s names held on node1 as that container was being stopped}."""
    seen = {}
    for engine in rig.world.engines.values():
        original = engine.stop_container

        def stop(container_id, timeout=None, engine=engine, original=original):
            name = engine.containers[container_id].request.name
            seen[name] = sorted(line.split()[0] for line in rig.names("node1").splitlines()
                                if f" {service}.shop.nap " in line + " ")
            return original(container_id, timeout)

        engine.stop_container = stop
    return seen


def test_rm_stop_takes_the_replicas_out_of_the_names_before_they_stop():
    rig = Rig()
    nap.up(rig.orc, shop(2))
    client = rig.address("shop", "client", 1)
    seen = _names_at_each_stop(rig, "api")
    assert nap.rm(rig.orc, shop(2), ["api"], stop=True).failed == ()
    assert seen == {"shop_api_1": [], "shop_api_2": []}  # no longer answered while they stopped
    for host in NODES:
        assert "api.shop.nap" not in rig.names(host) and "api-2.shop.nap" not in rig.names(host)
        assert f"{client} client.shop.nap" in rig.names(host)  # the other services' names stay


def test_up_no_start_answers_no_replica_it_leaves_created():
    rig = Rig()
    nap.up(rig.orc, shop())
    api = rig.address("shop", "api", 1)
    assert nap.up(rig.orc, shop(3), no_start=True).failed == ()
    for host in NODES:  # the new replicas are created, not started: only the running one is answered
        assert [line.split()[0] for line in rig.names(host).splitlines() if " api.shop.nap " in line] == [api]
    changed = Project(name="shop", services=tuple(
        replace(s, environment=(("V", "2"),)) if s.name == "api" else s for s in shop(3).services))
    seen = _names_at_each_stop(rig, "api")
    assert nap.up(rig.orc, changed, no_start=True).failed == ()
    # api_1 is recreated and left created: out of the names before its old container stopped
    assert seen.get("shop_api_1") == []
    for host in NODES:
        assert "api.shop.nap" not in rig.names(host) and "api-1.shop.nap" not in rig.names(host)
        assert "client.shop.nap" in rig.names(host)
    assert nap.start(rig.orc, changed).failed == ()
    assert sorted(line.split()[0] for line in rig.names("node2").splitlines() if " api.shop.nap " in line) == \
        sorted(rig.address("shop", "api", i) for i in (1, 2, 3))
