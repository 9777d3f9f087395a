"""Fencing: one owner's address is bound to one host at a time, on the fake store and the file store."""

import itertools
import json

import pytest

from napcompose.adapters.file_store import FileStore
from napcompose.errors import AddressFencedError
from napcompose.ipam import Ipam, Pool
from napcompose.ipam.fencing import Vacated
from napcompose.model import HostStatus, ObservedContainer, Replica
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV

POOL = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.100-198.18.0.249"])
T0 = 1_800_000_000.0
OWNER = "shop/extra/8"
HOSTS = ("node1", "node2", "node3")


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    return MemoryKV() if request.param == "memory" else FileStore(str(tmp_path / "ipam.json"))


_ids = itertools.count(1)


def _ipam(store, clock):
    return Ipam(store, POOL, "/nap", clock, lambda: f"id{next(_ids)}")


def _record(store, ip):
    return json.loads(store.get(f"/nap/addresses/{ip}")[0])


def _scan(at, answered=HOSTS, holding=()):
    """What a run saw: ``holding`` lists (replica, host) of containers found."""
    statuses = [HostStatus(h, h in answered) for h in HOSTS]
    containers = [ObservedContainer(host=h, id="c", name=r.name, replica=r, config_hash=None, state="running",
                                    ip=None, alloc_id=None) for r, h in holding]
    return Vacated.from_scan(at, statuses, containers)


def test_the_same_owner_on_another_host_is_refused_naming_owner_address_and_both_hosts(store):
    clock = FakeClock(T0)
    first = _ipam(store, clock).ensure(OWNER, "node1")
    before = store.list("")
    with pytest.raises(AddressFencedError) as err:
        _ipam(store, clock).ensure(OWNER, "node2")  # another run, with other placement rules
    assert str(err.value) == (
        f"address {first.ip} of {OWNER} is reserved on node1; refusing it on node2: nothing shows that its "
        "container on node1 is gone (remove it there, or release the address, first)")
    assert err.value.exit_status == 5
    assert store.list("") == before


def test_a_scan_taken_before_the_bind_is_no_proof(store):
    """The two-writer race: both looked at the hosts, then one reserved and bound; the other's scan is stale."""
    clock = FakeClock(T0)
    scan_of_b = _scan(T0)  # B looked at every host: no extra_8 anywhere
    clock.sleep(0.2)
    a_run = _ipam(store, clock)
    a = a_run.ensure(OWNER, "node1")  # A reserves for node1, creates the container and binds it
    a_run.mark_bound(OWNER, "node1")
    with pytest.raises(AddressFencedError) as err:
        _ipam(store, clock).ensure(OWNER, "node2", vacated=scan_of_b)
    assert str(err.value) == (f"address {a.ip} of {OWNER} is bound on node1; refusing it on node2: its container "
                              "was bound there after (or just before) this run looked at node1: another run is "
                              "working on it")
    assert _record(store, a.ip)["host"] == "node1"


@pytest.mark.parametrize("answered,holding,why", [
    (("node2", "node3"), (), "node1 did not answer, so its container there may still run"),
    (HOSTS, ((Replica("shop", "extra", 8), "node1"),), "node1 still has a container of shop/extra/8"),
])
def test_no_move_while_the_old_host_may_still_run_the_container(store, answered, holding, why):
    clock = FakeClock(T0)
    a = _ipam(store, clock).ensure(OWNER, "node1")
    clock.sleep(600)
    with pytest.raises(AddressFencedError) as err:
        _ipam(store, clock).ensure(OWNER, "node2", vacated=_scan(clock.now(), answered, holding))
    assert str(err.value) == f"address {a.ip} of {OWNER} is reserved on node1; refusing it on node2: {why}"


def test_a_replica_whose_container_is_gone_moves_with_its_address(store):
    """web_2 keeps its address on another host once its old host answered without it."""
    clock = FakeClock(T0)
    ipam = _ipam(store, clock)
    a = ipam.ensure(OWNER, "node1")
    ipam.mark_bound(OWNER, "node1")
    clock.sleep(60)  # later: its container was removed on node1, a new run places it on node2
    moved = _ipam(store, clock).ensure(OWNER, "node2", vacated=_scan(clock.now()))
    assert (moved.ip, moved.host, moved.state) == (a.ip, "node2", "reserved")
    assert _record(store, a.ip)["host"] == "node2"
    with pytest.raises(AddressFencedError):  # and now node1 is the other host
        _ipam(store, clock).ensure(OWNER, "node1")


def test_a_container_whose_address_was_moved_meanwhile_may_not_bind(store):
    """A reserves on node1 and is slow to create; B proves node1 empty and moves it; A's bind fails."""
    clock = FakeClock(T0)
    a_run = _ipam(store, clock)
    a = a_run.ensure(OWNER, "node1")
    clock.sleep(30)
    _ipam(store, clock).ensure(OWNER, "node2", vacated=_scan(clock.now()))
    with pytest.raises(AddressFencedError) as err:
        a_run.mark_bound(OWNER, "node1")
    assert str(err.value) == (f"address {a.ip} of {OWNER} was moved to node2 while its container was being "
                              "created on node1; that container is not started")
    assert _record(store, a.ip)["host"] == "node2"


def test_once_bound_the_move_is_refused_to_a_scan_older_than_the_bind(store):
    clock = FakeClock(T0)
    ipam = _ipam(store, clock)
    ipam.ensure(OWNER, "node1")
    clock.sleep(60)
    scan_of_b = _scan(clock.now())  # B looked before A's container existed
    clock.sleep(1)
    ipam.mark_bound(OWNER, "node1")  # A created it and bound it
    with pytest.raises(AddressFencedError):
        _ipam(store, clock).ensure(OWNER, "node2", vacated=scan_of_b)


def test_a_refusal_in_ensure_many_undoes_that_calls_new_reservations(store):
    clock = FakeClock(T0)
    _ipam(store, clock).ensure("shop/extra/1", "node1")
    before = store.list("/nap/addresses/")
    with pytest.raises(AddressFencedError):
        _ipam(store, clock).ensure_many([("shop/extra/0", "node2", None), ("shop/extra/1", "node2", None)])
    assert store.list("/nap/addresses/") == before


def test_a_manual_reservation_without_a_host_gets_one_freely(store):
    clock = FakeClock(T0)
    a = _ipam(store, clock).ensure("ops/printer", None)
    assert _ipam(store, clock).ensure("ops/printer", "node3").host == "node3"
    assert _ipam(store, clock).ensure("ops/printer", None).host == "node3"  # no host asked: keep it
    assert _record(store, a.ip)["host"] == "node3"


def test_an_address_unbound_after_its_container_was_removed_may_follow_the_replica_at_once(store):
    clock = FakeClock(T0)
    ipam = _ipam(store, clock)
    first = ipam.ensure(OWNER, "node1")
    ipam.mark_bound(OWNER, "node1")
    with pytest.raises(AddressFencedError):  # bound just now: a scan this early proves nothing
        ipam.ensure(OWNER, "node2", vacated=_scan(T0))
    assert ipam.mark_unbound(OWNER, "node2").state == "bound"  # another host's word changes nothing
    assert ipam.mark_unbound(OWNER, "node1").state == "reserved"
    moved = ipam.ensure(OWNER, "node2", vacated=_scan(T0))
    assert (moved.ip, moved.host) == (first.ip, "node2") and _record(store, first.ip)["host"] == "node2"
    assert ipam.mark_unbound("shop/other/1", "node1") is None  # an owner without an address


def test_removing_an_older_copy_leaves_the_address_bound_to_the_newer_one(store):
    ipam = _ipam(store, FakeClock(T0))
    ipam.ensure(OWNER, "node1")
    ipam.mark_bound(OWNER, "node1", generation=3)
    assert ipam.mark_unbound(OWNER, "node1", generation=2).state == "bound"  # copy 3 still holds it
    assert ipam.mark_unbound(OWNER, "node1", generation=3).state == "reserved"
