"""Snapshots of a cluster of in-memory engines: containers of every project, hosts, pool, drift, events."""

from dataclasses import replace

from napcompose.dashboard.state import ClusterState
from napcompose.orchestrator import Orchestrator
from napcompose.ports import ListReporter
from napcompose.clustermodel import SshSpec, StoreSpec
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook


def _orchestrator(rig, ipam=None):
    return Orchestrator(rig.cluster, rig.world.engines, rig.world.files, ipam or rig.ipam, ListReporter(), rig.clock)


def state(rig, project=None):
    return ClusterState(_orchestrator(rig), project)


def test_every_project_every_host_and_the_pool():
    rig = Rig()
    nap.up(rig.orc, guestbook())
    nap.up(rig.orc, replace(guestbook(web_scale=1), name="other"))
    snap = state(rig).snapshot()
    names = sorted((c.project, c.name, c.host) for c in snap.containers)
    assert len(names) == 9 and {p for p, _, _ in names} == {"gb", "other"}
    for c in snap.containers:
        assert c.ip == rig.address(c.service, c.index, c.project)
        assert c.state == "running" and c.uptime == ""  # the fake's status is a bare "Up"
    assert [(h.name, h.reachable, h.containers) for h in snap.hosts] == [
        (name, True, sum(1 for c in snap.containers if c.host == name)) for name in ("node1", "node2", "node3")]
    assert snap.pool.size == 100 and snap.pool.used == 9 and snap.pool.free == 91
    assert snap.pool.by_project == (("gb", 5), ("other", 4))
    assert snap.project is None and snap.graph is None and snap.drift.project is None


def test_a_loaded_project_gets_its_graph_and_its_hosts_files_checked():
    rig = Rig()
    nap.up(rig.orc, guestbook())
    watcher = state(rig, guestbook())
    snap = watcher.snapshot()
    assert snap.project == "gb" and snap.drift.drifts == ()
    assert {(e.consumer, e.dependency) for e in snap.graph.edges} == {("front", "web"), ("web", "db")}
    assert {r.replica.name: r.host for r in snap.graph.replicas} == {c.name: c.host for c in snap.containers}
    # a restart rebuilds the file: the check sees the block missing
    engine = rig.world.engines[rig.world.host_of("gb_db_1")]
    engine.start_container(rig.world.container("gb_db_1").id)
    snap = watcher.snapshot()
    assert snap.drift.drifts == (("gb_db_1", rig.world.host_of("gb_db_1"), "managed block missing"),)


def test_events_of_every_host_merge_in_time_order_and_are_read_once():
    rig = Rig()
    rig.world = type(rig.world)(("node1", "node2", "node3"), rig.clock)
    rig.orc.engines = rig.world.engines
    rig.orc.files = rig.world.files
    nap.up(rig.orc, guestbook())
    watcher = state(rig)
    first = watcher.snapshot()
    assert [e.action for e in first.events] == ["start"] * 5
    rig.clock.sleep(5)
    for name in ("gb_web_2", "gb_db_1"):
        container = rig.world.container(name)
        rig.world.engines[rig.world.host_of(name)].stop_container(container.id)
        rig.clock.sleep(1)
    snap = watcher.snapshot()
    tail = [(e.name, e.action, e.exit_code) for e in snap.events[5:]]
    assert tail == [("gb_web_2", "die", 0), ("gb_web_2", "stop", None), ("gb_db_1", "die", 0),
                    ("gb_db_1", "stop", None)]
    assert [e.time for e in snap.events] == sorted(e.time for e in snap.events)
    assert watcher.snapshot().events == snap.events  # nothing twice
    assert {c.name: c.state for c in snap.containers}["gb_web_2"] == "exited"


def test_an_unreachable_host_says_why_and_its_containers_stand_in_from_the_store():
    rig = Rig()
    nap.up(rig.orc, guestbook())
    lost = rig.world.host_of("gb_db_1")
    rig.world.engines[lost].unreachable = "connection refused"
    snap = state(rig).snapshot()
    host = next(h for h in snap.hosts if h.name == lost)
    assert not host.reachable and "connection refused" in host.error
    stand_in = next(c for c in snap.containers if c.name == "gb_db_1")
    assert stand_in.state == "unknown" and stand_in.host == lost and stand_in.ip == rig.address("db", 1)
    assert "connection refused" in stand_in.status


def test_a_store_that_fails_is_shown_not_raised():
    rig = Rig()
    nap.up(rig.orc, guestbook())

    class Broken:
        pool = rig.ipam.pool

        def allocations(self):
            from napcompose.errors import StoreError
            raise StoreError("etcd://198.18.0.250:2379: connection refused")

    snap = ClusterState(_orchestrator(rig, Broken())).snapshot()
    assert snap.pool.error == "etcd://198.18.0.250:2379: connection refused"
    assert len(snap.containers) == 5


def test_no_credential_of_the_cluster_file_reaches_a_snapshot():
    from napcompose.dashboard.render import page, state_json
    from napcompose.dashboard.views import VIEWS

    rig = Rig()
    secret_hosts = tuple(replace(h, ssh=SshSpec(key_file="/root/.ssh/id_SECRETKEY"), tls_key="/etc/SECRETTLS")
                         for h in rig.cluster.hosts)
    rig.cluster = replace(rig.cluster, hosts=secret_hosts,
                          store=StoreSpec("etcd://198.18.0.250:2379", username="SECRETUSER", password="SECRETPW"))
    env_project = guestbook(web_env=(("PASSWORD", "SECRETENV"),))
    nap.up(rig.orc, env_project)
    snap = state(rig, env_project).snapshot()
    rendered = state_json(snap) + "".join(page(snap, view, {}) for view in VIEWS)
    assert "SECRET" not in rendered
    assert "198.18.0.250" not in rendered  # not even where the store is


def test_hosts_and_pool_show_each_host_s_block_as_the_store_records_it():
    from napcompose.ipam.hostblocks import HostBlocks

    rig = Rig()
    blocks = HostBlocks(rig.store, rig.cluster.store.prefix, rig.clock)
    held = blocks.ensure(rig.cluster)
    snap = ClusterState(_orchestrator(rig), blocks=blocks).snapshot()
    assert {h.name: h.block for h in snap.hosts} == {name: b.cidr for name, b in held.items()}
    assert dict(snap.pool.blocks) == {name: b.cidr for name, b in held.items()}
    assert all(h.block is None for h in state(rig).snapshot().hosts)  # no block store given: none shown
