"""A run whose project lock was taken over stops before its next step: it undoes nothing of the new holder's.

The runs go through the orchestrator over in-memory engines and the real IPAM and lock on one memory store.
"""

import pytest

from napcompose.errors import LockLostError
from napcompose.lock import Holder, ProjectLock
from napcompose.orchestrator import Orchestrator
from napcompose.model import Project, ServiceSpec
from napcompose.ports import ListReporter
from tests import nap
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
from tests.fakes_kv import MemoryKV
from tests.unit.test_orchestrator import NODES, cluster

PROJECT = Project(name="shop", services=(ServiceSpec(name="web", image="busybox", scale=2),))
ALICE = Holder("alice", "ws1", 1, "nap-compose down -t 20")
BOB = Holder("bob", "ws2", 2, "nap-compose up -d --force-recreate")


class Fenced:
    """One store for the IPAM and the lock; ``take_over_at``: the fence call at which bob takes the
    lock over (alice stalled past her lease right before that step)."""

    def __init__(self):
        self.cluster = cluster()
        self.world = FakeWorld(NODES)
        self.clock = FakeClock()
        self.store = MemoryKV()
        self.ipam = make_ipam(self.cluster, self.clock, self.store)
        self.alice = ProjectLock(self.store, "/nap-compose", "shop", ALICE, self.clock, lambda: "a", ttl_s=3)
        self.bob = ProjectLock(self.store, "/nap-compose", "shop", BOB, self.clock, lambda: "b", ttl_s=3)
        self.take_over_at = None
        self.calls = 0

    def fence(self):
        self.calls += 1
        if self.calls == self.take_over_at:
            self.bob.acquire(wait_s=None)  # watches alice's record for a lease, then takes it
        self.alice.check()

    def orchestrator(self, fence=None):
        return Orchestrator(self.cluster, self.world.engines, self.world.files, self.ipam, ListReporter(),
                            self.clock, images=self.world.images, fence=fence or (lambda: None))


def test_a_stalled_down_stops_at_its_next_step_and_releases_nothing():
    rig = Fenced()
    nap.up(rig.orchestrator(), PROJECT)
    before = {a.owner: a.ip for a in rig.ipam.allocations()}
    assert sorted(before) == ["shop/web/1", "shop/web/2"]
    rig.alice.acquire()
    # the two removals fence at once: the first passes and runs its step (its fence a moment ago
    # covers it); alice stalls, bob takes the lock, and the second's fence stops it
    rig.take_over_at = 2
    with pytest.raises(LockLostError) as err:
        nap.down(rig.orchestrator(rig.fence), PROJECT)
    assert err.value.exit_status == 10
    assert "taken over by bob@ws2" in str(err.value)
    # both reservations stand (no release ran), and the replica fenced after the takeover was never touched
    assert {a.owner: a.ip for a in rig.ipam.allocations()} == before
    left = [c for c in rig.world.all_containers()]
    assert len(left) == 1 and left[0].state == "running"
    assert rig.calls == 2  # nothing fenced, so nothing ran, after the takeover
    assert rig.bob.held


def test_a_run_whose_lock_holds_goes_through_every_step():
    rig = Fenced()
    rig.alice.acquire()
    report = nap.up(rig.orchestrator(rig.fence), PROJECT)
    assert not list(report.failed)
    assert rig.calls >= 4  # every action and every step passed the fence
    nap.down(rig.orchestrator(rig.fence), PROJECT)
    assert rig.ipam.allocations() == [] and rig.world.all_containers() == []


def test_a_release_leaves_an_address_its_owner_holds_under_a_newer_allocation():
    # down planned with web_1's allocation; meanwhile another writer released it and reserved again
    from napcompose.planner import Command, Options

    rig = Fenced()
    orc = rig.orchestrator()
    nap.up(orc, PROJECT)
    the_plan, addresses = orc.plan(PROJECT, nap.options(nap.argv(["down"]), PROJECT), Command.DOWN)
    old = rig.ipam.lookup("shop/web/1")
    rig.ipam.release_owner("shop/web/1")
    newer = rig.ipam.ensure("shop/web/1", old.host)
    assert newer.alloc_id != old.alloc_id
    orc.execute(PROJECT, the_plan, addresses, nap.options(nap.argv(["down"]), PROJECT))
    assert rig.ipam.lookup("shop/web/1") is not None and rig.ipam.lookup("shop/web/1").alloc_id == newer.alloc_id
    assert rig.ipam.lookup("shop/web/2") is None  # the one it saw goes as planned


def test_a_rerun_that_changes_nothing_passes_no_fence_for_its_kept_replicas():
    rig = Fenced()
    six = Project(name="shop", services=(ServiceSpec(name="web", image="busybox", scale=6),))
    nap.up(rig.orchestrator(), six)
    rig.alice.acquire()
    lines = ListReporter()
    orc = Orchestrator(rig.cluster, rig.world.engines, rig.world.files, rig.ipam, lines, rig.clock,
                       images=rig.world.images, fence=rig.fence)
    report = nap.up(orc, six)
    assert not list(report.failed)
    kept = [(subject, status) for subject, action, status, _ in lines.events if action == "Keeping"]
    assert sorted(kept) == sorted((f"web_{n}", status) for n in range(1, 7) for status in ("started", "up-to-date"))
    assert rig.calls < 6  # a store read per kept replica before: none now


def test_a_keep_that_binds_a_found_container_passes_the_fence():
    rig = Fenced()
    nap.up(rig.orchestrator(), PROJECT)
    # a run died between creating web_1 and binding its address: the record says reserved
    found = rig.ipam.lookup("shop/web/1")
    rig.ipam.release_owner("shop/web/1")
    rig.ipam.ensure("shop/web/1", found.host)
    assert rig.ipam.lookup("shop/web/1").state == "reserved"
    rig.alice.acquire()
    rig.take_over_at = 1
    with pytest.raises(LockLostError):
        nap.up(rig.orchestrator(rig.fence), PROJECT)
    assert rig.ipam.lookup("shop/web/1").state == "reserved"  # nothing bound after the lock was lost


def _held_by_alice():
    clock, store = FakeClock(), MemoryKV()
    alice = ProjectLock(store, "/nap-compose", "shop", ALICE, clock, lambda: "a", ttl_s=30)
    alice.acquire()
    return clock, store, alice


def test_within_half_a_lease_of_taking_or_renewing_the_fence_reads_nothing_after_it_reads_the_record():
    clock, store, alice = _held_by_alice()
    reads = store.calls["get"]
    clock.sleep(14.9)
    alice.check()
    assert store.calls["get"] == reads  # nobody can hold it: a taker must see the record still for 30 s
    clock.sleep(0.2)
    alice.check()
    assert store.calls["get"] == reads + 1
    alice.refresh()
    clock.sleep(10)
    alice.check()
    assert store.calls["get"] == reads + 1  # the renewal opened the window again


def test_a_clock_that_stepped_back_makes_the_fence_read_the_record():
    clock, store, alice = _held_by_alice()
    reads = store.calls["get"]
    clock.t -= 5
    alice.check()
    assert store.calls["get"] == reads + 1


def test_a_takeover_is_found_by_the_first_fence_after_half_a_lease():
    clock, store, alice = _held_by_alice()
    bob = ProjectLock(store, "/nap-compose", "shop", BOB, clock, lambda: "b", ttl_s=30)
    bob.acquire(wait_s=None)  # alice stalled: bob watches her record for a lease, then takes it
    assert bob.held and clock.t >= 1_800_000_030
    with pytest.raises(LockLostError) as err:
        alice.check()
    assert "taken over by bob@ws2" in str(err.value)
