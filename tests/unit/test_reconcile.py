"""The reconciler's pure parts over in-memory fakes and a fake clock: the leader's lease, the host
judge, the keep records and log, and passes over a kept project on a FakeWorld (the same planner and
executor as ``up``): what moves, when nothing may, and what the log says."""

import itertools
import textwrap

import pytest

from napcompose.errors import ConfigError, LeadershipLostError, StoreError
from napcompose.lock import Holder, ProjectLock
from napcompose.orchestrator import Orchestrator
from napcompose.ports import ListReporter
from napcompose.reconcile.hosts import HostJudge
from napcompose.reconcile.lease import Leadership, leader_key
from napcompose.reconcile.reconciler import Reconciler, load_kept
from napcompose.reconcile.records import (FAILED, HOST_LOST, KeepRecord, KeptProjects, LogEntry, MOVED, REMOVED,
                                          STARTED, ReconcileLog, used_variables)
from tests.fakes_kv import MemoryKV
from tests.unit.test_orchestrator import Rig

ME = Holder("root", "ws1", 100, "nap-compose watch")
OTHER = Holder("root", "ws2", 200, "nap-compose watch")


class FlakyKV(MemoryKV):
    """A MemoryKV that can be made unreachable."""

    def __init__(self):
        super().__init__()
        self.down = False

    def _check(self):
        if self.down:
            raise StoreError("cannot reach etcd at 198.18.0.254:2379: connection refused")

    def get(self, key):
        self._check()
        return super().get(key)

    def create(self, key, value):
        self._check()
        return super().create(key, value)

    def compare_and_swap(self, key, value, version):
        self._check()
        return super().compare_and_swap(key, value, version)

    def compare_and_delete(self, key, version):
        self._check()
        return super().compare_and_delete(key, version)

    def list(self, prefix):
        self._check()
        return super().list(prefix)


def ids(name):
    counter = itertools.count(1)
    return lambda: f"{name}-{next(counter)}"


# ---------------------------------------------------------------------------- the lease


def test_one_leads_the_other_follows_and_takes_over_only_after_a_whole_lease_of_silence():
    rig = Rig()
    kv, clock = MemoryKV(), rig.clock
    a = Leadership(kv, "/nap", ME, clock, ids("a"), lease_s=4)
    b = Leadership(kv, "/nap", OTHER, clock, ids("b"), lease_s=4)
    assert a.step().status == "leading"
    assert b.step().status == "following" and "root@ws1" in b.state.why
    a.check()
    with pytest.raises(LeadershipLostError):
        b.check()
    # a stops renewing (crashed); b takes over once the version stood still for a lease by b's clock
    clock.sleep(3.9)
    assert b.step().status == "following"  # b first saw this version at 0 s
    clock.sleep(0.2)
    state = b.step()
    assert state.status == "leading" and "took over the lease of root@ws1" in state.why
    b.check()
    # the old leader changes nothing: its fence refuses, and its next renewal finds it deposed
    with pytest.raises(LeadershipLostError):
        a.check()
    assert a.step().status == "following"


def test_a_renewing_leader_is_never_taken_over():
    rig = Rig()
    kv, clock = MemoryKV(), rig.clock
    a = Leadership(kv, "/nap", ME, clock, ids("a"), lease_s=4)
    b = Leadership(kv, "/nap", OTHER, clock, ids("b"), lease_s=4)
    a.step()
    said = set()
    for _ in range(20):
        clock.sleep(a.renew_every_s)
        assert a.step().status == "leading"
        assert b.step().status == "following"
        said.add(b.state.why)
        a.check()
    assert said == {"root@ws1 (pid 100, `nap-compose watch`) leads"}  # one line, not one per beat


def test_with_the_store_unreachable_the_leader_becomes_unsure_and_its_fence_refuses():
    rig = Rig()
    kv, clock = FlakyKV(), rig.clock
    a = Leadership(kv, "/nap", ME, clock, ids("a"), lease_s=4)
    assert a.step().leading
    kv.down = True
    with pytest.raises(LeadershipLostError, match="cannot confirm the lease"):
        a.check()
    clock.sleep(1)
    assert a.step().status == "leading"  # a missed renewal within the half lease it trusts
    clock.sleep(1.5)
    state = a.step()
    assert state.status == "unsure" and "cannot reach the store" in state.why
    with pytest.raises(LeadershipLostError):
        a.check()


def test_resign_gives_the_lease_to_the_next_at_once():
    rig = Rig()
    kv = MemoryKV()
    a = Leadership(kv, "/nap", ME, rig.clock, ids("a"))
    b = Leadership(kv, "/nap", OTHER, rig.clock, ids("b"))
    a.step()
    a.resign()
    assert kv.get(leader_key("/nap")) is None
    assert b.step().leading


# ---------------------------------------------------------------------------- the judge


def test_a_silent_host_is_lost_after_the_grace_only_while_others_answer():
    judge = HostJudge(["node1", "node2", "node3"], grace_s=4, started=0)
    for t in range(0, 10):
        judge.seen("node1", True, t)
        judge.seen("node2", True, t)
    verdict = judge.verdict(3.0)
    assert verdict.lost == () and [h for h, _ in verdict.suspect] == ["node3"]
    assert judge.verdict(4.5).lost == ("node3",)
    assert judge.changes(4.5) == [("node3", True)]
    assert judge.changes(5) == []
    judge.seen("node3", True, 10)
    assert judge.changes(10) == [("node3", False)]


def test_when_no_host_answers_the_watcher_is_the_one_cut_off_and_nobody_is_lost():
    judge = HostJudge(["node1", "node2"], grace_s=4, started=0)
    verdict = judge.verdict(30)
    assert verdict.cut_off and verdict.lost == ()
    assert judge.changes(30) == []
    assert "this reconciler may be the one cut off" in verdict.why_waiting(4)


# ---------------------------------------------------------------------------- records


def test_a_keep_record_keeps_the_files_and_only_the_variables_they_use():
    texts = (("compose.yml", "services:\n  web:\n    image: ${IMAGE:-busybox}\n    command: $CMD\n"),)
    env = used_variables(texts, {"IMAGE": "nap-lab/busybox", "CMD": "sleep", "AWS_SECRET": "x",
                                 "COMPOSE_PROFILES": "debug"})
    assert env == (("CMD", "sleep"), ("COMPOSE_PROFILES", "debug"), ("IMAGE", "nap-lab/busybox"))
    record = KeepRecord("shop", "/srv/shop", texts, env, ("debug",), ("web",), (("web", 2),), "root@ws1", 5.0)
    assert KeepRecord.load(record.dump(), "k") == record
    kv = MemoryKV()
    kept = KeptProjects(kv, "/nap")
    kept.keep(record)
    kept.keep(record)  # replaced, not refused
    assert kept.get("shop") == record and [n for n, _ in kept.all()] == ["shop"]
    assert kept.drop("shop") and not kept.drop("shop") and kept.all() == []


def test_an_unreadable_keep_record_is_named_and_others_still_load():
    kv = MemoryKV()
    kv.create("/nap/keep/bad", "{not json")
    KeptProjects(kv, "/nap").keep(KeepRecord("good", "/srv", (("c.yml", "services: {}"),), ()))
    found = dict(KeptProjects(kv, "/nap").all())
    assert isinstance(found["bad"], ConfigError) and "/nap/keep/bad" in str(found["bad"])
    assert isinstance(found["good"], KeepRecord)


def test_the_log_keeps_the_last_entries_only():
    log = ReconcileLog(MemoryKV(), "/nap", length=3)
    for i in range(5):
        log.append("shop", [LogEntry(float(i), MOVED, f"web_{i}", "why")])
    assert [e.subject for e in log.read("shop")] == ["web_2", "web_3", "web_4"]
    assert log.read("other") == []


# ---------------------------------------------------------------------------- passes

COMPOSE = textwrap.dedent("""\
    version: "2.4"
    services:
      db:
        image: redis
      web:
        image: busybox
        scale: 2
        links: ["db:database"]
    """)


class World:
    """A Rig with a kept project ``gb`` and a leading reconciler over it."""

    def __init__(self, compose=COMPOSE):
        self.rig = rig = Rig()
        self.store = rig.store
        self.prefix = "/nap-compose"
        self.record = KeepRecord("gb", "/srv/gb", (("docker-compose.yml", compose),), ())
        KeptProjects(self.store, self.prefix).keep(self.record)
        self.leadership = Leadership(self.store, self.prefix, ME, rig.clock, ids("lead"), lease_s=600)
        self.judge = HostJudge(["node1", "node2", "node3"], grace_s=4, started=rig.clock.now())
        self.log = ReconcileLog(self.store, self.prefix)
        self.reporter = ListReporter()
        self.warnings = []
        self.reconciler = Reconciler(orchestrator_for=self.orchestrator, lock_for=self.lock,
                                     leadership=self.leadership, judge=self.judge, log=self.log, clock=rig.clock,
                                     by="root@ws1 pid 100", warn=self.warnings.append)

    def orchestrator(self, fence):
        rig = self.rig
        return Orchestrator(rig.cluster, rig.world.engines, rig.world.files, rig.ipam, self.reporter, rig.clock,
                            images=rig.world.images, fence=fence)

    def lock(self, project):
        return ProjectLock(self.store, self.prefix, project, ME, self.rig.clock, ids("lock"), ttl_s=30)

    def hear(self, *hosts):
        """Every host but ``hosts`` answers now; time moves on a second."""
        self.rig.clock.sleep(1)
        for host in ("node1", "node2", "node3"):
            if host not in hosts:
                self.judge.seen(host, True, self.rig.clock.now())

    def lead_and_pass(self):
        self.leadership.step()
        return self.reconciler.run_pass(self.record)


def test_a_pass_over_a_kept_project_runs_what_up_would_run():
    w = World()
    result = w.lead_and_pass()
    assert result.outcome == "done", result.why
    assert sorted(w.rig.ids()) == ["gb_db_1", "gb_web_1", "gb_web_2"]
    assert w.rig.world.container("gb_web_1").request.ip == w.rig.address("web", 1)
    again = w.lead_and_pass()
    assert (again.outcome, again.entries) == ("done", ())
    assert w.rig.mutations()[-1][0] != "remove"


def test_a_dead_replica_without_a_restart_policy_is_started_again_and_the_log_says_why():
    w = World()
    w.lead_and_pass()
    host = w.rig.world.host_of("gb_web_2")
    w.rig.world.engines[host].exit("gb_web_2", 137)
    result = w.lead_and_pass()
    assert result.outcome == "done"
    assert w.rig.world.container("gb_web_2").state == "running"
    entry = w.log.read("gb")[-1]
    assert (entry.kind, entry.subject) == (STARTED, "web_2")
    assert entry.why.startswith(f"on {host}, it was exited")


def test_a_silent_host_holds_the_pass_until_it_is_judged_lost_then_its_replicas_move():
    w = World()
    w.lead_and_pass()
    lost = w.rig.world.host_of("gb_db_1")
    before = w.rig.address("db", 1)
    w.rig.world.engines[lost].unreachable = "no route to host"
    mutations, logged = len(w.rig.mutations()), len(w.log.read("gb"))
    w.hear(lost)
    w.hear(lost)
    result = w.lead_and_pass()
    assert result.outcome == "held" and f"waiting for the verdict on {lost}" in result.why
    assert len(w.rig.mutations()) == mutations and len(w.log.read("gb")) == logged
    for _ in range(3):
        w.hear(lost)
    assert w.judge.verdict(w.rig.clock.now()).lost == (lost,)
    result = w.lead_and_pass()
    assert result.outcome == "done", result.why
    [moved] = [e for e in w.log.read("gb") if e.kind == MOVED]
    assert moved.subject == "db_1" and moved.why.startswith(f"host {lost} unreachable: moving db_1 to ")
    new = w.rig.address("db", 1)
    assert new != before
    # heal: the stale copy goes and its address is released
    w.rig.world.engines[lost].unreachable = None
    w.hear()
    result = w.lead_and_pass()
    assert result.outcome == "done", result.why
    assert (REMOVED, "db_1") in {(e.kind, e.subject) for e in w.log.read("gb")}
    assert [c.request.ip for c in w.rig.world.all_containers() if c.request.name == "gb_db_1"] == [new]


def test_a_project_another_writer_holds_is_never_touched():
    w = World()
    w.lead_and_pass()
    w.rig.world.engines[w.rig.world.host_of("gb_web_1")].exit("gb_web_1", 1)
    other = ProjectLock(w.store, w.prefix, "gb", OTHER, w.rig.clock, ids("other"), ttl_s=30)
    other.acquire(0)
    mutations = len(w.rig.mutations())
    result = w.lead_and_pass()
    assert result.outcome == "skipped" and "project gb is locked by root@ws2" in result.why
    assert len(w.rig.mutations()) == mutations
    other.release()
    assert w.lead_and_pass().outcome == "done"


def test_a_deposed_or_unsure_leader_changes_nothing():
    w = World()
    w.lead_and_pass()
    w.rig.world.engines[w.rig.world.host_of("gb_web_1")].exit("gb_web_1", 1)
    mutations = len(w.rig.mutations())
    # another reconciler took the lease over while this one stalled: its fence refuses every step
    key = leader_key(w.prefix)
    value, version = w.store.get(key)
    w.store.compare_and_swap(key, value.replace("lead-1", "someone-else"), version)
    result = w.reconciler.run_pass(w.record)
    assert result.outcome == "skipped" and "another reconciler took the lease over" in result.why
    assert len(w.rig.mutations()) == mutations
    # not leading at all: not even planned
    assert w.leadership.step().status == "following"
    assert w.reconciler.run_pass(w.record).outcome == "skipped"
    assert len(w.rig.mutations()) == mutations


def test_with_the_store_unreachable_nothing_is_stopped_or_moved_and_the_pass_says_why():
    w = World()
    flaky = FlakyKV()
    w.store = flaky
    w.leadership = Leadership(flaky, w.prefix, ME, w.rig.clock, ids("lead"), lease_s=5)
    w.reconciler.leadership = w.leadership
    w.leadership.step()
    flaky.down = True
    lost = "node1"
    w.rig.world.engines[lost].unreachable = "no route to host"
    for _ in range(6):
        w.hear(lost)
    result = w.reconciler.run_pass(w.record)
    assert result.outcome in ("held", "skipped") and "etcd" in result.why
    assert w.rig.mutations() == []


def test_kept_files_load_without_the_disk_and_a_changed_name_is_refused():
    record = KeepRecord("gb", "/nowhere", (("docker-compose.yml", COMPOSE),), ())
    assert [s.name for s in load_kept(record).services] == ["db", "web"]
    renamed = KeepRecord("gb", "/nowhere", (("docker-compose.yml", "name: other\n" + COMPOSE),), ())
    assert [s.name for s in load_kept(renamed).services] == ["db", "web"]  # the record's name wins
    broken = KeepRecord("gb", "/nowhere", (("docker-compose.yml", "services: [\n"),), ())
    w = World()
    w.leadership.step()
    result = w.reconciler.run_pass(broken)
    assert result.outcome == "failed" and "docker-compose.yml" in result.why
    assert [e.kind for e in w.log.read("gb")] == [FAILED]
    w.reconciler.run_pass(broken)
    assert [e.kind for e in w.log.read("gb")] == [FAILED]  # a lasting failure is logged once
    assert w.rig.mutations() == []


def test_an_unhealthy_replica_is_recreated_by_a_pass_but_never_by_up():
    w = World()
    w.lead_and_pass()
    w.rig.world.container("gb_web_1").health = "unhealthy"
    from tests import nap
    from napcompose.reconcile.reconciler import load_kept as load
    assert not any(a.kind == "recreate" for a in nap.preview(w.rig.orc, load(w.record)).actions)
    old = w.rig.world.container("gb_web_1").id
    result = w.lead_and_pass()
    assert result.outcome == "done", result.why
    assert w.rig.world.container("gb_web_1").id != old
    assert w.log.read("gb")[-1].why.endswith("unhealthy: its healthcheck failed past its retries")
    # restart: "no" says the replica is left as it is
    no = World(COMPOSE.replace("    scale: 2\n", "    scale: 2\n    restart: \"no\"\n"))
    assert load_kept(no.record).service("web").restart == "no"
    no.lead_and_pass()
    no.rig.world.container("gb_web_1").health = "unhealthy"
    old = no.rig.world.container("gb_web_1").id
    no.lead_and_pass()
    assert no.rig.world.container("gb_web_1").id == old


def test_a_host_never_heard_from_counts_its_silence_from_the_first_answer_of_any():
    judge = HostJudge(["node1", "node2"], grace_s=4, started=0)
    judge.seen("node1", True, 10)  # connecting took 10 s
    assert judge.verdict(11).lost == ()
    judge.seen("node1", True, 14.5)
    assert judge.verdict(14.5).lost == ("node2",)


def test_a_project_lock_left_by_a_deposed_leader_is_taken_over_at_once_and_the_old_one_changes_nothing():
    w = World()
    w.lead_and_pass()
    clock = w.rig.clock
    # the old leader (ws2) stalled mid-pass holding the project's lock; this one took its lease over
    old = Leadership(w.store, w.prefix, OTHER, clock, ids("old"), lease_s=5)
    w.leadership.resign()
    assert old.step().leading
    stalled_lock = ProjectLock(w.store, w.prefix, "gb", OTHER, clock, ids("oldlock"), ttl_s=30)
    stalled_lock.acquire(0)
    assert w.leadership.step().status == "following"
    clock.sleep(601)  # a whole lease of this World's reconciler (600 s) without a renewal
    assert w.leadership.step().leading and w.leadership.deposed(OTHER)
    w.rig.world.engines[w.rig.world.host_of("gb_web_1")].exit("gb_web_1", 1)

    def lock(project):
        return ProjectLock(w.store, w.prefix, project, ME, clock, ids("lock"), ttl_s=30,
                           gone=w.leadership.deposed)

    w.reconciler._lock_for = lock
    w.hear()  # every host answers
    result = w.reconciler.run_pass(w.record)
    assert result.outcome == "done", result.why
    assert w.rig.world.container("gb_web_1").state == "running"
    # the old leader wakes: both its fences refuse
    with pytest.raises(LeadershipLostError):
        old.check()
    from napcompose.errors import LockLostError
    with pytest.raises(LockLostError):
        stalled_lock.check()
    # a lock of anyone else is still waited for
    assert not w.leadership.deposed(Holder("alice", "ws9", 1, "nap-compose up -d"))
