"""The orchestrator end to end over in-memory engines, files and the real Ipam on a memory store."""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from napcompose.errors import ConfigError, PlacementError, PoolExhaustedError, UsageError
from napcompose.names.hostsfile import extract_block
from napcompose.model import (Dependency, Healthcheck, Link, NetworkAttachment, PortSpec, Project, ServiceSpec,
                              UpdateConfig)
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, StoreSpec
from napcompose.orchestrator import Orchestrator
from napcompose.planner import CONTAINER_TYPES, Options, Remove, Unreserved, render
from napcompose.ports import ListReporter
from tests import nap
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
from tests.fakes_kv import MemoryKV

NODES = ("node1", "node2", "node3")


def cluster(pools=("198.18.0.100-198.18.0.199",), isolation=False):
    # isolation off unless asked: the Rig below wires no bridge filter (tests/unit/test_isolation.py's does)
    return Cluster(hosts=tuple(Host(n, f"198.18.0.{i + 1}", f"ssh://root@198.18.0.{i + 1}")
                               for i, n in enumerate(NODES)),
                   network=ClusterNetwork("flat", "198.18.0.0/24", "198.18.0.254", pools, isolation=isolation),
                   store=StoreSpec("file:///tmp/unused.json"))


def guestbook(web_scale=2, web_env=(), **extra):
    services = [
        ServiceSpec(name="db", image="redis"),
        ServiceSpec(name="front", image="busybox", links=(Link("web", "app"),)),
        ServiceSpec(name="lone", image="busybox"),
        ServiceSpec(name="web", image="busybox", scale=web_scale, environment=web_env,
                    links=(Link("db", "database"),)),
    ]
    services += extra.get("more", [])
    return Project(name="gb", services=tuple(sorted(services, key=lambda s: s.name)))


class Rig:
    def __init__(self, pools=("198.18.0.100-198.18.0.199",)):
        self.cluster = cluster(pools)
        self.world = FakeWorld(NODES)
        self.clock = FakeClock()
        self.store = MemoryKV()
        self.ipam = make_ipam(self.cluster, self.clock, self.store)
        self.reporter = ListReporter()
        self.orc = Orchestrator(self.cluster, self.world.engines, self.world.files, self.ipam,
                                self.reporter, self.clock, images=self.world.images)

    def ids(self):
        return {c.request.name: c.id for c in self.world.all_containers()}

    def address(self, service, index, project="gb"):
        allocation = self.ipam.lookup(f"{project}/{service}/{index}")
        return allocation.ip if allocation else None

    def block(self, name, project="gb"):
        return extract_block(self.world.container(name).view_hosts(), project)

    def mutations(self):
        return [call for e in self.world.engines.values() for call in e.calls
                if call[0] in ("create", "start", "stop", "remove")]


def expected_block(lines):
    return "# BEGIN nap-compose gb\n" + "".join(line + "\n" for line in lines) + "# END nap-compose gb\n"


@pytest.fixture
def rig():
    return Rig()


def test_up_creates_named_labelled_containers_spread_over_hosts(rig):
    report = nap.up(rig.orc, guestbook())
    assert report.failed == ()
    hosts = {name: rig.world.host_of(name) for name in rig.ids()}
    assert hosts == {"gb_db_1": "node1", "gb_front_1": "node2", "gb_lone_1": "node3",
                     "gb_web_1": "node1", "gb_web_2": "node2"}
    web2 = rig.world.container("gb_web_2")
    labels = dict(web2.request.labels)
    assert labels["com.docker.compose.project"] == "gb"
    assert labels["com.docker.compose.container-number"] == "2"
    assert labels["io.nap-compose.host"] == "node2"
    assert labels["io.nap-compose.address"] == rig.address("web", 2) == web2.request.ip
    assert web2.state == "running"
    assert rig.ipam.lookup("gb/web/2").state == "bound"


def test_links_across_hosts_get_the_right_blocks_seen_through_the_inode(rig):
    nap.up(rig.orc, guestbook())
    db, web1, web2 = rig.address("db", 1), rig.address("web", 1), rig.address("web", 2)
    assert rig.block("gb_web_1") == rig.block("gb_web_2") == expected_block(
        [f"{db} db_1 gb_db_1 database db"])
    front = sorted([(web1, "web_1 gb_web_1 app web"), (web2, "web_2 gb_web_2")],
                   key=lambda e: tuple(int(x) for x in e[0].split(".")))
    assert rig.block("gb_front_1") == expected_block([f"{ip} {names}" for ip, names in front])
    assert rig.block("gb_db_1") == expected_block([])
    # Docker's own lines stay, and every name was given as extra_hosts at create time, the link
    # alias too (at the lowest replica: the block moves it later)
    view = rig.world.container("gb_front_1").view_hosts()
    assert view.startswith("127.0.0.1\tlocalhost\n")
    extra = rig.world.container("gb_front_1").request.extra_hosts
    assert ("web_1", web1) in extra and ("app", web1) in extra and ("web-2", web2) in extra


def test_progress_lines_name_container_host_and_address(rig):
    nap.up(rig.orc, guestbook())
    ip = rig.address("web", 2)
    assert ("web_2", "Creating", "done", f"on node2 ({ip})") in rig.reporter.events


def test_second_up_changes_nothing(rig):
    nap.up(rig.orc, guestbook())
    before, calls = rig.ids(), len(rig.mutations())
    writes = sum(len(f.writes) for f in rig.world.files_by_host.values())
    report = nap.up(rig.orc, guestbook())
    assert report.failed == ()
    assert rig.ids() == before
    assert len(rig.mutations()) == calls
    assert sum(len(f.writes) for f in rig.world.files_by_host.values()) == writes
    assert {o.action for o in report.outcomes} == {"Keeping"}


def test_changing_one_service_recreates_only_it_and_keeps_its_addresses(rig):
    nap.up(rig.orc, guestbook())
    before = rig.ids()
    addresses = {n: rig.world.container(n).request.ip for n in before}
    report = nap.up(rig.orc, guestbook(web_env=(("DEBUG", "1"),)))
    assert report.failed == ()
    after = rig.ids()
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"gb_web_1", "gb_web_2"}
    assert {n: rig.world.container(n).request.ip for n in after} == addresses
    assert rig.block("gb_front_1") is not None and "web_2" in rig.block("gb_front_1")


def test_scale_up_and_down_rewrites_consumers_blocks_without_recreating_them(rig):
    nap.up(rig.orc, guestbook())
    front_id = rig.ids()["gb_front_1"]
    report = nap.scale(rig.orc, guestbook(), {"web": 3})
    assert report.failed == ()
    assert rig.world.host_of("gb_web_3") == "node3"
    web3 = rig.address("web", 3)
    assert f"{web3} web_3 gb_web_3\n" in rig.block("gb_front_1")
    assert rig.ids()["gb_front_1"] == front_id
    assert ("web_3", "Creating", "done", f"on node3 ({web3})") in rig.reporter.events

    report = nap.scale(rig.orc, guestbook(), {"web": 1})
    assert report.failed == ()
    assert sorted(n for n in rig.ids() if "web" in n) == ["gb_web_1"]
    assert rig.address("web", 2) is None and rig.address("web", 3) is None
    assert "web_2" not in rig.block("gb_front_1") and "web_3" not in rig.block("gb_front_1")
    assert rig.ids()["gb_front_1"] == front_id
    assert [(o.subject, o.action) for o in report.outcomes if o.action == "Removing"] == \
        [("web_3", "Removing"), ("web_2", "Removing")]


def test_scale_leaves_other_services_as_they_run(rig):
    nap.up(rig.orc, guestbook())
    nap.scale(rig.orc, guestbook(), {"db": 2})
    nap.scale(rig.orc, guestbook(), {"web": 3})
    assert "gb_db_2" in rig.ids()  # the file says db: 1, but scale web must not touch db
    db2 = rig.address("db", 2)
    assert f"{db2} db_2 gb_db_2\n" in rig.block("gb_web_3")


def test_scale_of_an_unknown_service_is_a_usage_error_with_nothing_done(rig):
    # The CLI refuses it before the orchestrator is asked (test_cli_project.py); the orchestrator refuses it too.
    with pytest.raises(UsageError) as err:
        rig.orc.run(guestbook(), Options(services=("nosuch",), no_deps=True, scales=(("nosuch", 2),)))
    assert str(err.value) == "no such service: nosuch"
    assert rig.mutations() == [] and rig.ipam.allocations() == []


def test_a_failing_container_skips_its_dependents_and_a_later_up_converges(rig):
    rig.world.engines["node1"].fail("create", "gb_db_1", "disk full")
    report = nap.up(rig.orc, guestbook())
    failed = {o.subject: (o.host, o.error, o.skipped) for o in report.failed}
    assert failed == {
        "db_1": ("node1", "node1: create gb_db_1: disk full", False),
        "web_1": ("node1", "dependency db_1 failed", True),
        "web_2": ("node2", "dependency db_1 failed", True),
        "front_1": ("node2", "dependency web_1 failed", True),
    }
    assert set(rig.ids()) == {"gb_lone_1"}
    reserved = rig.address("db", 1)
    assert reserved is not None  # stays with its replica: the next run reuses it
    rig.world.engines["node1"].failures.clear()
    report = nap.up(rig.orc, guestbook())
    assert report.failed == ()
    assert set(rig.ids()) == {"gb_db_1", "gb_front_1", "gb_lone_1", "gb_web_1", "gb_web_2"}
    assert rig.world.container("gb_db_1").request.ip == reserved
    assert len(rig.ipam.allocations()) == 5


def test_an_unreachable_host_is_reported_and_its_replicas_come_back_elsewhere(rig):
    nap.up(rig.orc, guestbook())
    ids = rig.ids()
    rig.world.engines["node2"].unreachable = "connection refused"
    report = nap.up(rig.orc, guestbook(web_env=(("V", "2"),)))
    assert [(o.subject, o.error) for o in report.failed] == [
        ("node2", "node2: cannot connect to the Docker engine: connection refused")]
    # web_2 and front_1 lived on node2: new copies run elsewhere (tests/unit/test_host_loss.py)
    assert sum(1 for c in rig.world.all_containers() if c.request.name == "gb_web_2") == 2
    rig.world.engines["node2"].unreachable = None
    report = nap.up(rig.orc, guestbook(web_env=(("V", "2"),)))
    assert report.failed == ()
    assert sorted(c.request.name for c in rig.world.all_containers()) == sorted(ids)
    assert rig.world.engines["node2"].containers == {}
    assert len(rig.ipam.allocations()) == 5


def test_hosts_files_on_an_unreachable_ssh_host_are_reported(rig):
    rig.world.files_by_host["node2"].unreachable = "timed out"
    report = nap.up(rig.orc, guestbook())
    failed = {(o.subject, o.action): o.error for o in report.failed}
    assert failed == {("front_1", "Updating hosts of"): "node2: ssh: timed out",
                      ("web_2", "Updating hosts of"): "node2: ssh: timed out"}
    rig.world.files_by_host["node2"].unreachable = None
    assert [d.replica.name for d in rig.orc.hosts_check(guestbook())] == ["gb_front_1", "gb_web_2"]
    assert rig.orc.hosts_sync(guestbook()).failed == ()
    assert rig.orc.hosts_check(guestbook()) == []


def test_one_files_session_per_host_per_run(rig):
    nap.up(rig.orc, guestbook())
    assert sorted(rig.world.files_opened) == ["node1", "node2", "node3"]


def test_docker_restart_drift_is_found_and_repaired_in_place(rig):
    nap.up(rig.orc, guestbook())
    front = rig.world.container("gb_front_1")
    inode = front.inode
    rig.world.engines["node2"].start_container(front.id)  # Docker rebuilds the file on start
    drifts = rig.orc.hosts_check(guestbook())
    assert [(d.replica.name, d.host, d.actual) for d in drifts] == [("gb_front_1", "node2", None)]
    report = rig.orc.hosts_sync(guestbook())
    assert [(o.subject, o.action) for o in report.outcomes] == [("front_1", "Updating hosts of")]
    assert rig.orc.hosts_check(guestbook()) == []
    assert front.inode is inode and rig.world.fs.inode(front.hosts_path) is inode


def test_a_hosts_file_a_container_grew_huge_is_reported_not_read_and_others_are_synced(rig):
    nap.up(rig.orc, guestbook())
    front = rig.world.container("gb_front_1")
    front.inode.data = bytearray(b"10.0.0.1 junk\n" * 200_000)  # 2.8 MB written from inside the container
    rig.world.engines["node2"].start_container(rig.world.container("gb_web_2").id)  # web_2 lost its block
    report = rig.orc.hosts_sync(guestbook())
    failed = {o.subject: o.error for o in report.failed}
    assert list(failed) == ["front_1"]
    assert "holds more than 1048576 bytes; not read" in failed["front_1"] and front.hosts_path in failed["front_1"]
    assert ("web_2", "Updating hosts of") in [(o.subject, o.action) for o in report.outcomes if not o.error]
    assert len(front.inode.data) == 2_800_000  # left as it was


def test_down_leaves_no_container_and_no_allocation(rig):
    nap.up(rig.orc, guestbook())
    report = nap.down(rig.orc, guestbook(), timeout=1)
    assert report.failed == ()
    assert rig.world.all_containers() == [] and rig.ipam.allocations() == []
    removing = [o.subject for o in report.outcomes if o.action == "Removing"]
    assert removing.index("front_1") < removing.index("web_1") < removing.index("db_1")


def test_down_by_name_also_releases_addresses_of_never_created_containers(rig):
    rig.world.engines["node1"].fail("create", "gb_db_1")
    nap.up(rig.orc, guestbook())
    assert len(rig.ipam.allocations()) == 5
    report = nap.down(rig.orc, "gb")
    assert report.failed == ()
    assert rig.world.all_containers() == [] and rig.ipam.allocations() == []


def test_down_keeps_the_allocations_of_an_unreachable_host_and_reports_it(rig):
    nap.up(rig.orc, guestbook())
    kept = {a.owner for a in rig.ipam.allocations() if a.host == "node2"}
    rig.world.engines["node2"].unreachable = "no route"
    report = nap.down(rig.orc, guestbook())
    assert {a.owner for a in rig.ipam.allocations()} == kept == {"gb/front/1", "gb/web/2"}
    failed = sorted((o.subject, o.action) for o in report.failed)
    assert failed == [("front_1", "Releasing"), ("node2", "Observing"), ("web_2", "Releasing")]
    assert len(rig.world.engines["node2"].containers) == 2
    assert sum(len(rig.world.engines[n].containers) for n in ("node1", "node3")) == 0


def container_actions(the_plan):
    return [a for a in the_plan.actions if isinstance(a, CONTAINER_TYPES + (Remove,))]


def test_preview_reserves_and_touches_nothing(rig):
    snapshot = dict(rig.store._data)
    preview = nap.preview(rig.orc, guestbook())
    assert dict(rig.store._data) == snapshot
    assert rig.mutations() == [] and rig.world.files_opened == []
    entries = {a.subject: a for a in container_actions(preview)}
    web2 = entries["web_2"]
    assert (web2.host, str(web2.address), web2.kind) == ("node2", "(new)", "create")
    assert isinstance(web2.address, Unreserved)  # not reserved yet: a value of its own, no placeholder
    assert dict(preview.hosts_lines)[entries["front_1"].replica] == (
        "(new) web_1 gb_web_1 app web", "(new) web_2 gb_web_2")
    lines = render(preview)
    assert lines[0] == "db_1 on node1 ((new)): reserve an address (no address yet)"
    assert "db_1 on node1 ((new)): create (not created yet)" in lines


def test_an_up_makes_no_hosts_lines_and_a_preview_makes_them_when_shown(rig, monkeypatch):
    import napcompose.planner.up as planner_up

    made = []
    real = planner_up._hosts_lines

    def counted(*args):
        made.append(args)
        return real(*args)

    monkeypatch.setattr(planner_up, "_hosts_lines", counted)
    assert nap.up(rig.orc, guestbook()).failed == ()
    assert made == []  # an up shows no lines: no map of every service's peers is made for them
    preview = nap.preview(rig.orc, guestbook())
    assert made == []
    lines = dict(preview.hosts_lines)
    assert len(made) == 1 and preview.hosts_lines is preview.hosts_lines and len(made) == 1
    front = next(r for r in lines if r.label == "front_1")
    assert any(line.endswith(" web_1 gb_web_1 app web") for line in lines[front])


def test_preview_shows_existing_addresses_and_the_actions(rig):
    nap.up(rig.orc, guestbook())
    preview = nap.preview(rig.orc, guestbook(web_env=(("A", "1"),)), scales={"web": 1}, no_rolling=True)
    entries = {(a.subject, a.kind): a for a in container_actions(preview)}
    assert entries[("web_1", "recreate")].address == rig.address("web", 1)
    assert entries[("web_2", "remove")].reason == "scale 1"
    assert entries[("db_1", "noop")].reason == "up to date"
    assert len(rig.ipam.allocations()) == 5


def test_fixed_address_per_replica_and_outside_the_subnet(rig):
    fixed = ServiceSpec(name="dns", image="busybox", scale=2,
                        networks=(NetworkAttachment("default", ipv4_address="198.18.0.150"),))
    report = nap.up(rig.orc, guestbook(more=[fixed]))
    assert report.failed == ()
    assert (rig.address("dns", 1), rig.address("dns", 2)) == ("198.18.0.150", "198.18.0.151")

    other = Rig()
    outside = replace(fixed, networks=(NetworkAttachment("default", ipv4_address="10.1.2.3"),))
    with pytest.raises(ConfigError) as err:
        nap.up(other.orc, guestbook(more=[outside]))
    assert str(err.value) == ("service dns: ipv4_address 10.1.2.3 is outside the cluster network flat "
                              "(198.18.0.0/24)")
    assert other.mutations() == [] and other.ipam.allocations() == []


def test_pool_exhaustion_creates_and_keeps_nothing():
    small = Rig(pools=("198.18.0.100-198.18.0.103",))
    with pytest.raises(PoolExhaustedError) as err:
        nap.up(small.orc, guestbook())
    assert str(err.value).startswith("address pool 198.18.0.100-198.18.0.103 is exhausted")
    assert small.mutations() == [] and small.ipam.allocations() == []


def test_port_filter_failure_creates_and_reserves_nothing(rig):
    web = ServiceSpec(name="edge", image="busybox", scale=4, ports=(PortSpec(80, "tcp", 80),))
    with pytest.raises(PlacementError) as err:
        nap.up(rig.orc, guestbook(more=[web]))
    assert str(err.value) == "cannot place edge_4: port 80/tcp is taken on node1, node2, node3"
    assert rig.mutations() == [] and rig.ipam.allocations() == []


def test_service_healthy_waits_and_an_unhealthy_dependency_skips_dependents(rig):
    db = ServiceSpec(name="db", image="redis", healthcheck=Healthcheck(test=("CMD", "true")))
    web = ServiceSpec(name="web", image="busybox", depends_on=(Dependency("db", "service_healthy"),))
    project = Project(name="gb", services=(db, web))
    rig.world.engines["node1"].health_script["gb_db_1"] = ["starting", "starting", "healthy"]
    assert nap.up(rig.orc, project).failed == ()
    assert rig.clock.t > 1_800_000_000.0  # it waited

    other = Rig()
    other.world.engines["node1"].health_script["gb_db_1"] = ["starting", "unhealthy"]
    failed = {o.subject: o.error for o in nap.up(other.orc, project).failed}
    assert failed == {"db_1": "node1: db_1 is unhealthy", "web_1": "dependency db_1 failed"}

    slow = Rig()
    slow.world.engines["node1"].health_script["gb_db_1"] = ["starting"]
    failed = {o.subject: o.error for o in nap.up(slow.orc, project).failed}
    assert failed["db_1"] == "node1: db_1 did not become healthy within 120s (health: starting)"


def test_orphans_warned_then_removed_on_request(rig):
    nap.up(rig.orc, guestbook())
    smaller = Project(name="gb", services=tuple(s for s in guestbook().services if s.name != "lone"))
    nap.up(rig.orc, smaller)
    assert "gb_lone_1" in rig.ids()
    assert any("orphan container gb_lone_1 on node3" in w for w in rig.reporter.warnings)
    nap.up(rig.orc, smaller, remove_orphans=True)
    assert "gb_lone_1" not in rig.ids() and rig.address("lone", 1) is None


def test_a_service_whose_profile_is_not_active_is_no_orphan_and_down_removes_it(rig):
    nap.up(rig.orc, guestbook())
    without_lone = Project(name="gb", services=tuple(s for s in guestbook().services if s.name != "lone"),
                           disabled_services=("lone",))
    report = nap.up(rig.orc, without_lone, remove_orphans=True)
    assert "gb_lone_1" in rig.ids() and rig.address("lone", 1) is not None
    assert not any(o.subject == "gb_lone_1" for o in report.outcomes)
    assert not any("orphan" in w for w in rig.reporter.warnings)
    nap.down(rig.orc, without_lone)
    assert rig.ids() == {} and rig.address("lone", 1) is None
    assert not any("orphan" in w for w in rig.reporter.warnings)


def test_stop_start_restart_rm(rig):
    project = guestbook()
    nap.up(rig.orc, project)
    assert nap.stop(rig.orc, project, ("web",), timeout=1).failed == ()
    states = {n: rig.world.container(n).state for n in rig.ids()}
    assert states["gb_web_1"] == states["gb_web_2"] == "exited" and states["gb_db_1"] == "running"
    assert nap.start(rig.orc, project, ()).failed == ()
    assert all(c.state == "running" for c in rig.world.all_containers())
    assert rig.orc.hosts_check(project) == []  # start rewrote the blocks Docker dropped
    ids = rig.ids()
    assert nap.restart(rig.orc, project, ("front",), timeout=1).failed == ()
    assert rig.ids() == ids and rig.orc.hosts_check(project) == []
    assert nap.rm(rig.orc, project, ("lone",)).outcomes == ()  # running: left alone
    report = nap.rm(rig.orc, project, ("lone",), stop=True)
    assert [(o.subject, o.action) for o in report.outcomes] == [("lone_1", "Stopping"), ("lone_1", "Removing")]
    assert "gb_lone_1" not in rig.ids() and rig.address("lone", 1) is not None
    assert nap.up(rig.orc, project).failed == ()
    assert rig.world.container("gb_lone_1").request.ip == rig.address("lone", 1)


def test_ps_and_observe(rig):
    nap.up(rig.orc, guestbook())
    nap.stop(rig.orc, guestbook(), ("lone",))
    rig.world.engines["node3"].unreachable = "down"
    observation = rig.orc.ps("gb", (), all=True)
    assert [s.host for s in observation.unreachable] == ["node3"]
    assert observation.unreachable[0].error == "node3: cannot connect to the Docker engine: down"
    assert sorted(c.name for c in observation.containers if c.state != "unknown") == [
        "gb_db_1", "gb_front_1", "gb_web_1", "gb_web_2"]
    # node3's container stands in, known from its address, state unknown
    assert [(c.name, c.host, c.ip) for c in observation.containers if c.state == "unknown"] == [
        ("gb_lone_1", "node3", rig.address("lone", 1))]
    rig.world.engines["node3"].unreachable = None
    assert [c.name for c in rig.orc.ps("gb", ("lone", "db"), all=False).containers] == ["gb_db_1"]
    assert len(rig.orc.observe("gb").containers) == 5


def test_skipped_dependents_are_reported_with_the_reason(rig):
    rig.world.engines["node1"].fail("create", "gb_db_1", "disk full")
    nap.up(rig.orc, guestbook())
    assert ("web_2", "Creating", "skipped", "on node2 (dependency db_1 failed)") in rig.reporter.events
    assert ("db_1", "Creating", "error", f"on node1 ({rig.address('db', 1)})") in rig.reporter.events


def test_a_bad_link_alias_is_refused_before_anything_is_reserved(rig):
    bad = Project(name="gb", services=(ServiceSpec(name="db", image="redis"),
                                       ServiceSpec(name="web", image="busybox",
                                                   links=(Link("db", "db;reboot"),))))
    with pytest.raises(ConfigError) as err:
        nap.up(rig.orc, bad)
    assert str(err.value) == ("invalid name 'db;reboot' for a hosts file: "
                              "names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    assert rig.mutations() == [] and rig.ipam.allocations() == []


def test_an_unsupported_constraint_is_refused_before_anything_is_reserved(rig):
    from napcompose.model import PlacementSpec
    bad = Project(name="gb", services=(ServiceSpec(name="db", image="redis",
                                                   placement=PlacementSpec(constraints=("node.role==x",))),))
    with pytest.raises(ConfigError) as err:
        nap.up(rig.orc, bad)
    assert str(err.value).startswith("service db: unsupported placement constraint 'node.role==x'")
    assert rig.mutations() == [] and rig.ipam.allocations() == []


def test_a_store_failure_while_releasing_is_reported_and_down_goes_on(rig):
    from napcompose.errors import StoreError
    nap.up(rig.orc, guestbook())
    real = rig.ipam.release_owner

    def flaky(owner):
        if owner == "gb/db/1":
            raise StoreError("cannot reach etcd at 127.0.0.1:2379")
        return real(owner)

    rig.ipam.release_owner = flaky
    report = nap.down(rig.orc, guestbook())
    assert [(o.subject, o.action, o.error) for o in report.failed] == [
        ("db_1", "Releasing", "cannot reach etcd at 127.0.0.1:2379")]
    assert [a.owner for a in rig.ipam.allocations()] == ["gb/db/1"]
    assert rig.world.all_containers() == []


operations = st.lists(st.one_of(
    st.tuples(st.just("up"), st.integers(1, 3)),
    st.tuples(st.just("scale"), st.sampled_from(["web", "db", "front"]), st.integers(0, 4)),
    st.tuples(st.just("fail"), st.sampled_from(NODES), st.sampled_from(["gb_db_1", "gb_web_2", "gb_web_3",
                                                                        "gb_front_1"])),
    st.tuples(st.just("unreachable"), st.sampled_from(NODES)),
    st.tuples(st.just("down"),),
    st.tuples(st.just("up-only"), st.sampled_from(["web", "front", "db"]), st.booleans()),
    st.tuples(st.just("fail-start"), st.sampled_from(NODES), st.sampled_from(["gb_web_1", "gb_lone_1"])),
    st.tuples(st.just("ssh-down"), st.sampled_from(NODES)),
    st.tuples(st.just("stop"), st.sampled_from(["web", "db"])),
    st.tuples(st.just("rm"), st.sampled_from(["web", "lone"])),
    st.tuples(st.just("force"),),
    # a rolling update of web to version V, in an order, with a failure action, one new copy failing or none
    st.tuples(st.just("roll"), st.integers(1, 3), st.sampled_from(["stop-first", "start-first"]),
              st.sampled_from(["pause", "rollback", "continue"]), st.sampled_from([None, "gb_web_1", "gb_web_2"])),
    st.tuples(st.just("rollback"),),
), max_size=8)


def rolled(version: int, order: str, failure_action: str) -> Project:
    """The guestbook with web at ``version``, under a healthcheck and the given update_config."""
    project = guestbook(web_env=(("V", str(version)),))
    web = replace(project.service("web"), healthcheck=Healthcheck(test=("CMD", "true"), interval_s=1.0),
                  update=UpdateConfig(order=order, failure_action=failure_action))
    return replace(project, services=tuple(web if s.name == "web" else s for s in project.services))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
# A replica moved off a lost host, then updated while that host is still away: its new copy must keep
# the moved copy's generation, or the old copy looks current again when the host returns.
@example(ops=[("up", 1), ("unreachable", "node1"), ("up", 1), ("force",)])
# With no host answering, placement refuses the whole command before anything is touched.
@example(ops=[("unreachable", "node1"), ("unreachable", "node2"), ("unreachable", "node3"), ("force",)])
# A container kept by a paused update on a host its replica then left is no copy for placement to stick to.
@example(ops=[("roll", 2, "stop-first", "pause", "gb_web_2"), ("roll", 3, "stop-first", "pause", "gb_web_1"),
              ("unreachable", "node1"), ("roll", 3, "stop-first", "continue", None)])
# ... but it is for a replica that rm removed: the replica's address is still recorded on that host.
@example(ops=[("unreachable", "node2"), ("up-only", "web", True), ("roll", 2, "stop-first", "pause", "gb_web_2"),
              ("rm", "web")])
def test_any_history_then_a_clean_up_converges_without_leaks(ops):
    rig = Rig()
    for op in ops:
        try:
            _apply(rig, op)
        except PlacementError as exc:
            assert all(e.unreachable for e in rig.world.engines.values()), exc
            assert "no reachable host" in str(exc)
        except UsageError as exc:  # a rollback with nothing kept, or a kept container on a host away
            assert op[0] == "rollback", exc
    for engine in rig.world.engines.values():
        engine.failures.clear()
        engine.unreachable = None
    for files in rig.world.files_by_host.values():
        files.unreachable = None
    # the clean-up also removes what updates kept for a rollback
    report = nap.up(rig.orc, guestbook(web_scale=2), prune_previous=True)
    assert report.failed == ()
    containers = rig.world.all_containers()
    assert sorted(c.request.name for c in containers) == ["gb_db_1", "gb_front_1", "gb_lone_1", "gb_web_1",
                                                          "gb_web_2"]
    held = {c.request.replica.owner: c.request.ip for c in containers}
    assert {a.owner: a.ip for a in rig.ipam.allocations()} == held
    assert len(set(held.values())) == len(held)
    assert rig.orc.hosts_check(guestbook()) == []
    assert nap.up(rig.orc, guestbook(web_scale=2)).failed == ()
    assert [c.id for c in rig.world.all_containers()] == [c.id for c in containers]


def _apply(rig, op):
    """One step of a command history."""
    if op[0] == "up":
        nap.up(rig.orc, guestbook(web_scale=op[1]))
    elif op[0] == "scale":
        nap.scale(rig.orc, guestbook(), {op[1]: op[2]})
    elif op[0] == "fail":
        rig.world.engines[op[1]].fail("create", op[2])
    elif op[0] == "unreachable":
        rig.world.engines[op[1]].unreachable = "gone"
    elif op[0] == "up-only":
        nap.up(rig.orc, guestbook(), (op[1],), no_deps=op[2])
    elif op[0] == "fail-start":
        rig.world.engines[op[1]].fail("start", op[2])
    elif op[0] == "ssh-down":
        rig.world.files_by_host[op[1]].unreachable = "gone"
    elif op[0] == "stop":
        nap.stop(rig.orc, guestbook(), (op[1],))
    elif op[0] == "rm":
        nap.rm(rig.orc, guestbook(), (op[1],), stop=True)
    elif op[0] == "force":
        nap.up(rig.orc, guestbook(), force_recreate=True)
    elif op[0] == "roll":
        _, version, order, failure_action, failing = op
        for engine in rig.world.engines.values():
            if failing:
                engine.health_script[failing] = ["unhealthy"]
        try:
            nap.up(rig.orc, rolled(version, order, failure_action))
        finally:
            for engine in rig.world.engines.values():
                engine.health_script.clear()
    elif op[0] == "rollback":
        nap.rollback(rig.orc, rolled(1, "stop-first", "pause"), ("web",))
    else:
        nap.down(rig.orc, guestbook())


def test_an_address_reserved_for_a_never_created_replica_is_released_once_it_is_scaled_away(rig):
    rig.world.engines["node1"].fail("create", "gb_db_1")
    nap.up(rig.orc, guestbook(web_scale=3))
    assert rig.address("web", 3) is not None and "gb_web_3" not in rig.ids()
    rig.world.engines["node1"].failures.clear()
    report = nap.up(rig.orc, guestbook(web_scale=2))
    assert report.failed == ()
    assert ("web_3", "Releasing") in [(o.subject, o.action) for o in report.outcomes]
    assert rig.address("web", 3) is None
    assert sorted(a.owner for a in rig.ipam.allocations()) == sorted(
        f"gb/{n}" for n in ("db/1", "front/1", "lone/1", "web/1", "web/2"))


# ---------------------------------------------------------------------- an image rebuilt under its tag


def image_calls(rig):
    return sorted((host, call[1]) for host, engine in rig.world.engines.items()
                  for call in engine.calls if call[0] == "image_id")


def clear_calls(rig):
    for engine in rig.world.engines.values():
        engine.calls.clear()


def test_an_image_rebuilt_on_one_host_recreates_only_the_replica_there_at_its_address(rig):
    nap.up(rig.orc, guestbook())
    before = rig.ids()
    addresses = {n: rig.world.container(n).request.ip for n in before}
    rig.world.engines["node2"].retag("busybox", "sha256:rebuilt")  # front_1 and web_2 run there
    report = nap.up(rig.orc, guestbook())
    assert report.failed == ()
    after = rig.ids()
    assert {n for n in before if before[n] != after[n]} == {"gb_front_1", "gb_web_2"}
    assert {n: rig.world.container(n).request.ip for n in after} == addresses
    assert {n: rig.world.host_of(n) for n in after} == {n: rig.world.host_of(n) for n in before}
    assert rig.world.container("gb_web_2").image_id == "sha256:rebuilt"
    assert rig.world.container("gb_web_1").image_id == "sha256:busybox-0"
    recreated = {o.subject for o in report.outcomes if o.action == "Recreating"}
    assert recreated == {"front_1", "web_2"}
    # the recreated web_2 kept its address, so front_1's block still names both replicas
    assert "web_2 gb_web_2" in rig.block("gb_front_1")

    clear_calls(rig)
    again = nap.up(rig.orc, guestbook())
    assert again.failed == () and {o.action for o in again.outcomes} == {"Keeping"}
    assert rig.ids() == after
    # one question per image of the project per host (it tells presence and id at once), no more
    assert image_calls(rig) == [(h, i) for h in NODES for i in ("busybox", "redis")]


def test_the_preview_names_the_image_change(rig):
    nap.up(rig.orc, guestbook())
    rig.world.engines["node1"].retag("redis", "sha256:rebuilt")
    mutations = len(rig.mutations())
    preview = nap.preview(rig.orc, guestbook(), no_rolling=True)
    entries = {a.subject: (a.kind, a.reason) for a in container_actions(preview)}
    assert entries["db_1"] == ("recreate", "image changed")
    assert entries["web_1"] == ("noop", "up to date")
    assert f"db_1 on node1 ({rig.address('db', 1)}): recreate (image changed)" in render(preview)
    assert len(rig.mutations()) == mutations
    assert rig.world.container("gb_db_1").image_id == "sha256:redis-0"


def test_a_host_that_cannot_tell_its_image_id_recreates_nothing(rig):
    nap.up(rig.orc, guestbook())
    before = rig.ids()
    rig.world.engines["node1"].retag("redis", "sha256:rebuilt")
    rig.world.engines["node1"].fail("image_id", "redis", "500 Server Error")
    rig.world.engines["node2"].retag("busybox", None)  # removed from node2: unknown, not changed
    report = nap.up(rig.orc, guestbook())
    # the image missing on node2 is copied back there, and nothing is recreated
    assert report.failed == () and {o.action for o in report.outcomes} == {"Keeping", "Copying"}
    assert rig.world.images.calls == [("copy", "busybox", "node1", "node2")]
    assert rig.ids() == before


def test_no_recreate_keeps_a_rebuilt_image_and_force_recreate_takes_it(rig):
    nap.up(rig.orc, guestbook())
    before = rig.ids()
    rig.world.engines["node1"].retag("redis", "sha256:rebuilt")
    clear_calls(rig)
    report = nap.up(rig.orc, guestbook(), no_recreate=True)
    assert report.failed == () and rig.ids() == before
    nap.up(rig.orc, guestbook(), force_recreate=True)
    # each run asks each host once per image (the answer also says whether it must be copied)
    assert image_calls(rig) == sorted(2 * [(h, i) for h in NODES for i in ("busybox", "redis")])
    assert rig.world.container("gb_db_1").image_id == "sha256:rebuilt"


def test_only_the_projects_images_are_asked_once_per_host(rig):
    solo = Project(name="solo", services=(ServiceSpec(name="lone", image="busybox"),))
    nap.up(rig.orc, guestbook())
    nap.up(rig.orc, solo)
    clear_calls(rig)
    nap.up(rig.orc, solo)
    assert image_calls(rig) == [(h, "busybox") for h in NODES]
