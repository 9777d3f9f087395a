"""The project lock on the in-memory store and on the file store: same semantics on both."""

import itertools
import json
import threading

import pytest

from napcompose.adapters.file_store import FileStore
from napcompose.errors import LockLostError, ProjectLockedError, UsageError
from napcompose.lock import Holder, ProjectLock, describe, LockRecord
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV

PREFIX = "/nap-compose"
KEY = "/nap-compose/locks/shop"
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
ALICE = Holder("alice", "ws1", 4242, "nap-compose up -d --scale extra=8")
BOB = Holder("bob", "ws2", 777, "nap-compose down")


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryKV()
    return FileStore(str(tmp_path / "store.json"))


_ids = itertools.count(1)


def _lock(store, clock, holder=ALICE, project="shop", ttl=30.0):
    return ProjectLock(store, PREFIX, project, holder, clock, lambda: f"tok{next(_ids)}", ttl_s=ttl)


def test_taken_with_the_holder_and_its_lease_then_released(store):
    clock = FakeClock(T0)
    lock = _lock(store, clock)
    lock.acquire()
    value, _ = store.get(KEY)
    data = json.loads(value)
    assert {k: data[k] for k in ("user", "machine", "pid", "command", "since", "expires")} == {
        "user": "alice", "machine": "ws1", "pid": 4242, "command": "nap-compose up -d --scale extra=8",
        "since": T0, "expires": T0 + 30.0}
    assert lock.held and lock.refresh_every_s == 10.0
    lock.release()
    assert store.get(KEY) is None and not lock.held
    lock.release()  # twice is harmless


def test_a_second_writer_is_refused_naming_the_holder_and_nothing_changes(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()
    before = store.get(KEY)
    clock.sleep(12)
    with pytest.raises(ProjectLockedError) as err:
        _lock(store, clock, BOB).acquire()
    assert str(err.value) == (
        "project shop is locked by alice@ws1 (pid 4242, `nap-compose up -d --scale extra=8`) since "
        "2027-01-15 08:00:00 UTC (12 s ago): another command is changing it. Run this again once it is "
        "done, or pass --lock-wait[=SECONDS] to wait for it (a crashed holder's lock runs out by itself at "
        "2027-01-15 08:00:30 UTC)")
    assert err.value.exit_status == 10
    assert store.get(KEY) == before


def test_refresh_renews_the_lease_so_nobody_takes_it(store):
    clock = FakeClock(T0)
    lock = _lock(store, clock)
    lock.acquire()
    for _ in range(5):  # 50 s in all, beyond one lease, renewed every 10 s
        clock.sleep(10)
        lock.refresh()
    assert json.loads(store.get(KEY)[0])["expires"] == T0 + 50 + 30
    with pytest.raises(ProjectLockedError):
        _lock(store, clock, BOB).acquire()
    lock.release()
    assert store.get(KEY) is None


def test_an_expired_lease_is_taken_over_and_the_stalled_holder_finds_out(store):
    clock = FakeClock(T0)
    stalled = _lock(store, clock)
    stalled.acquire()
    clock.sleep(31)  # the holder stalled (or crashed) past its lease
    bob = _lock(store, clock, BOB)
    bob.acquire()  # its record looks stale: bob watches it for one lease on his own clock, then takes it
    assert bob.taken_over is not None and bob.taken_over.holder == ALICE
    assert json.loads(store.get(KEY)[0])["user"] == "bob"
    with pytest.raises(LockLostError) as err:
        stalled.refresh()
    assert str(err.value) == (
        "the lock of project shop was taken over by bob@ws2 (pid 777, `nap-compose down`) since "
        "2027-01-15 08:01:01 UTC (0 s ago) while this command held it (its lease of 30 s was not renewed "
        "in time); check the project with `nap-compose ps`")
    assert err.value.exit_status == 10
    stalled.release()  # no longer held: it must not delete bob's lock
    assert json.loads(store.get(KEY)[0])["user"] == "bob"


def test_release_by_a_holder_that_was_taken_over_leaves_the_new_lock(store):
    clock = FakeClock(T0)
    stalled = _lock(store, clock)
    stalled.acquire()
    clock.sleep(40)
    _lock(store, clock, BOB).acquire()
    with pytest.raises(LockLostError):
        stalled.release()
    assert json.loads(store.get(KEY)[0])["user"] == "bob"


def test_waiting_until_the_crashed_holders_lease_runs_out(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()  # never renewed: its process is gone
    waiting = []
    bob = _lock(store, clock, BOB)
    bob.acquire(wait_s=None, on_wait=waiting.append)
    assert [r.holder for r in waiting] == [ALICE]
    assert T0 + 30 <= clock.now() <= T0 + 31
    assert json.loads(store.get(KEY)[0])["user"] == "bob"


def test_a_holder_known_to_be_gone_is_taken_over_at_once_by_exactly_one_run(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()  # crashed at once: its lease runs 30 s more
    gone = lambda holder: holder == ALICE  # noqa: E731 (its process is known to be gone)
    bob = ProjectLock(store, PREFIX, "shop", BOB, clock, lambda: "bob", gone=gone)
    carol = ProjectLock(store, PREFIX, "shop", Holder("carol", "ws3", 9, "nap-compose up"), clock,
                        lambda: "carol", gone=gone)
    bob.acquire()
    assert clock.now() == T0 and bob.holder_gone and bob.taken_over.holder == ALICE
    with pytest.raises(ProjectLockedError):  # bob's process is alive: its lock is not taken
        carol.acquire()
    assert json.loads(store.get(KEY)[0])["token"] == "bob"


def test_a_holder_not_known_to_be_gone_keeps_its_lease(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()
    with pytest.raises(ProjectLockedError):
        ProjectLock(store, PREFIX, "shop", BOB, clock, lambda: "bob", gone=lambda holder: False).acquire()
    assert json.loads(store.get(KEY)[0])["user"] == "alice"


def test_the_holder_s_process_table_and_start_time_travel_with_the_record(store):
    clock = FakeClock(T0)
    holder = Holder("alice", "ws1", 4242, "nap-compose up", "boot-1:4026531836", "12345")
    _lock(store, clock, holder).acquire()
    assert LockRecord.load(store.get(KEY)[0]).holder == holder
    older = json.dumps({"token": "t", "user": "u", "machine": "m", "pid": 1, "command": "c", "since": T0,
                        "expires": T0 + 30})  # written before these fields existed
    assert LockRecord.load(older).holder == Holder("u", "m", 1, "c", "", "")


def test_waiting_a_bounded_time_fails_naming_the_holder(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()
    with pytest.raises(ProjectLockedError) as err:
        _lock(store, clock, BOB).acquire(wait_s=5)
    assert "locked by alice@ws1 (pid 4242, " in str(err.value)
    assert "(still, after waiting 5 s)" in str(err.value)
    assert T0 + 5 <= clock.now() < T0 + 6


def test_waiting_ends_as_soon_as_the_holder_releases(store):
    clock = FakeClock(T0)
    alice = _lock(store, clock)
    alice.acquire()
    bob = _lock(store, clock, BOB)
    bob.acquire(wait_s=60, on_wait=lambda record: alice.release())
    assert bob.held and clock.now() < T0 + 1
    assert json.loads(store.get(KEY)[0])["user"] == "bob"


def test_locks_of_two_projects_are_independent(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()
    other = _lock(store, clock, BOB, project="blog")
    other.acquire()
    assert store.get("/nap-compose/locks/blog") is not None


def test_a_project_name_that_is_not_a_key_part_is_refused(store):
    with pytest.raises(UsageError) as err:
        _lock(store, FakeClock(T0), project="../x")
    assert str(err.value) == "invalid project name '../x' for a lock: use a-z, 0-9, '-' and '_'"
    assert store.list("/") == {}


def test_an_unreadable_lock_value_counts_as_expired(store):
    store.create(KEY, "not json")
    lock = _lock(store, FakeClock(T0))
    lock.acquire()
    assert lock.held and lock.taken_over is None
    assert json.loads(store.get(KEY)[0])["user"] == "alice"


def test_a_create_whose_reply_was_lost_is_recognised_as_ours():
    kv = MemoryKV()
    kv.lose_next = 1  # applied, but the client is told "already exists" (a silent resend)
    lock = _lock(kv, FakeClock(T0))
    lock.acquire()
    assert lock.held and kv.lost == [("create", KEY)]
    lock.release()
    assert kv.get(KEY) is None


def test_a_renewal_whose_reply_was_lost_keeps_the_lock():
    kv = MemoryKV()
    clock = FakeClock(T0)
    lock = _lock(kv, clock)
    lock.acquire()
    kv.lose_next = 1
    clock.sleep(10)
    lock.refresh()
    assert lock.held
    lock.release()
    assert kv.get(KEY) is None


def test_of_many_runs_finding_an_expired_lease_exactly_one_takes_it(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()
    clock.sleep(60)
    winners, losers = [], []
    barrier = threading.Barrier(8)

    def run(i):
        # each run watches the stale lock on its own machine's clock (a shared fake clock would run
        # eight times too fast, and the winner, which never renews here, would look stale in turn)
        own = FakeClock(clock.now())
        lock = _lock(store, own, Holder("u", f"m{i}", i, "nap-compose up"))
        barrier.wait()
        try:
            lock.acquire()
            winners.append(i)
        except ProjectLockedError:
            losers.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7
    assert json.loads(store.get(KEY)[0])["machine"] == f"m{winners[0]}"


def test_describe_names_user_machine_pid_command_and_since():
    record = LockRecord("t", ALICE, T0, T0 + 30)
    assert describe(record, T0 + 75.4) == ("alice@ws1 (pid 4242, `nap-compose up -d --scale extra=8`) since "
                                           "2027-01-15 08:00:00 UTC (75 s ago)")


@pytest.mark.parametrize("seconds,text", [
    (0, "1970-01-01 00:00:00 UTC"),
    (951782400, "2000-02-29 00:00:00 UTC"),   # a leap day of a year divisible by 400
    (4107456000, "2100-02-28 00:00:00 UTC"),
    (4107542400, "2100-03-01 00:00:00 UTC"),  # 2100 is no leap year: Feb 28 is followed by Mar 1
    (1764614403.9, "2025-12-01 18:40:03 UTC"),
])
def test_the_holder_s_since_is_written_as_a_utc_date_without_a_calendar_module(seconds, text):
    from napcompose.lock import _clock_text

    assert _clock_text(seconds) == text


class _SkewedClock:
    """Another machine's clock: the shared fake clock plus a fixed offset (sleeping moves both)."""

    def __init__(self, clock, offset):
        self._clock, self._offset = clock, offset

    def now(self):
        return self._clock.now() + self._offset

    def sleep(self, seconds):
        self._clock.sleep(seconds)


def test_a_clock_60_s_ahead_does_not_take_a_live_lock(store):
    clock = FakeClock(T0)
    alice = _lock(store, clock)
    alice.acquire()
    ahead = _SkewedClock(clock, 60.0)  # bob's machine: by its clock alice's lease ran out 30 s ago
    renewals = [0]
    bob = ProjectLock(store, PREFIX, "shop", BOB, ahead, lambda: "bobtok", ttl_s=30.0)
    watched = []
    original_sleep = clock.sleep

    def sleep_and_let_alice_renew(seconds):
        original_sleep(seconds)
        while clock.now() - T0 >= 10 * (1 + renewals[0]):
            alice.refresh()
            renewals[0] += 1

    ahead.sleep = sleep_and_let_alice_renew
    with pytest.raises(ProjectLockedError) as err:
        bob.acquire(on_wait=watched.append)
    assert watched and bob.confirming is None
    assert "the two clocks differ" in str(err.value)
    assert json.loads(store.get(KEY)[0])["user"] == "alice" and alice.held
    assert renewals[0] >= 1  # refused at the first renewal it saw
    alice.check()  # still hers: her next step goes on


def test_a_stale_looking_lock_nobody_renews_is_taken_over_after_one_lease_by_the_watcher_s_clock(store):
    clock = FakeClock(T0)
    _lock(store, clock).acquire()  # crashed at once on another machine
    behind = _SkewedClock(clock, -3600.0)  # bob's clock an hour behind: by it the lease runs long
    bob = ProjectLock(store, PREFIX, "shop", BOB, behind, lambda: "bobtok2", ttl_s=30.0)
    bob.acquire(wait_s=None)
    assert 30 <= clock.now() - T0 <= 31  # one lease of watching, whatever the record's clock said
    assert json.loads(store.get(KEY)[0])["user"] == "bob"


def test_the_fence_stops_a_holder_whose_lock_was_taken_over_at_every_later_step(store):
    clock = FakeClock(T0)
    stalled = _lock(store, clock)
    stalled.acquire()
    stalled.check()  # still its own: passes, and changes nothing
    assert json.loads(store.get(KEY)[0])["user"] == "alice"
    clock.sleep(31)
    _lock(store, clock, BOB).acquire()
    for _ in range(2):
        with pytest.raises(LockLostError) as err:
            stalled.check()
        assert "taken over by bob@ws2" in str(err.value) and err.value.exit_status == 10
    assert json.loads(store.get(KEY)[0])["user"] == "bob"


def test_the_fence_of_a_run_that_holds_no_lock_passes(store):
    lock = _lock(store, FakeClock(T0))
    lock.check()
    assert store.get(KEY) is None
