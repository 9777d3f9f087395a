"""Keeping the address of a copy left on a lost host (Ipam.strand), and the store's eviction records."""

import pytest

from napcompose.errors import AddressFencedError, IpamError, StoreError
from napcompose.ipam.evictions import Evictions
from napcompose.ipam.records import BadRecords, Keys, OwnerRecord
from tests.fakes_engine import FakeClock, make_ipam
from tests.fakes_kv import MemoryKV
from tests.unit.test_orchestrator import cluster


@pytest.fixture
def ipam():
    return make_ipam(cluster(), FakeClock(), MemoryKV())


def test_a_stranded_address_stays_taken_and_the_owner_gets_a_new_one(ipam):
    old = ipam.ensure("gb/web/2", "node2")
    ipam.mark_bound("gb/web/2", "node2")
    kept = ipam.strand("gb/web/2", "gb/web/2@gen1", "node2", old.ip)
    assert (kept.ip, kept.owner, kept.host, kept.state) == (old.ip, "gb/web/2@gen1", "node2", "stranded")
    assert ipam.lookup("gb/web/2") is None
    assert ipam.lookup("gb/web/2@gen1") == kept
    new = ipam.ensure("gb/web/2", "node3")
    assert new.ip != old.ip and new.host == "node3"
    assert sorted((a.owner, a.state) for a in ipam.allocations()) == [("gb/web/2", "reserved"),
                                                                     ("gb/web/2@gen1", "stranded")]
    # nobody else is given the kept address
    others = [ipam.ensure(f"gb/x/{i}", "node1").ip for i in range(1, 20)]
    assert old.ip not in others
    assert ipam.release_owner("gb/web/2@gen1").ip == old.ip
    assert ipam.holder(old.ip) is None


def test_strand_is_refused_when_the_address_moved_since_the_plan_was_made(ipam):
    old = ipam.ensure("gb/web/2", "node2")
    with pytest.raises(AddressFencedError) as err:
        ipam.strand("gb/web/2", "gb/web/2@gen1", "node1", old.ip)
    assert str(err.value) == (f"address of gb/web/2 is {old.ip} on node2 now, not {old.ip} on node1 (another run "
                              "changed it since this one looked); run it again")
    with pytest.raises(AddressFencedError):
        ipam.strand("gb/web/9", "gb/web/9@gen1", "node1", old.ip)
    with pytest.raises(IpamError):
        ipam.strand("gb/web/2", "gb/web/2", "node2", old.ip)
    assert [(a.owner, a.state) for a in ipam.allocations()] == [("gb/web/2", "reserved")]


def test_a_strand_interrupted_after_its_record_changed_is_finished_by_the_next_one():
    store, keys = MemoryKV(), Keys("/nap-compose")
    ipam = make_ipam(cluster(), FakeClock(), store)
    old = ipam.ensure("gb/web/2", "node2")
    ipam.strand("gb/web/2", "gb/web/2@gen1", "node2", old.ip)
    # put the replica's old claim back, as if the writer died before dropping it
    store.create(keys.owner("gb/web/2"), OwnerRecord(old.ip, old.alloc_id, old.since).dump())
    assert ipam.lookup("gb/web/2") is None  # the record no longer carries its allocation id
    again = ipam.strand("gb/web/2", "gb/web/2@gen1", "node2", old.ip)
    assert again.owner == "gb/web/2@gen1"
    assert store.get(keys.owner("gb/web/2")) is None
    assert ipam.ensure("gb/web/2", "node3").ip != old.ip


def test_gc_keeps_a_stranded_address_while_its_copy_runs(ipam):
    old = ipam.ensure("gb/web/2", "node2")
    ipam.strand("gb/web/2", "gb/web/2@gen1", "node2", old.ip)
    ipam.ensure("gb/web/2", "node3")
    running = {"node2": {"gb/web/2", "gb/web/2@gen1"}, "node3": {"gb/web/2"}}
    assert ipam.gc(running, set()) == []
    assert ipam.gc(running, {"node2"}) == []
    leaked = ipam.gc({"node2": set(), "node3": {"gb/web/2"}}, set())
    assert [(a.ip, a.owner) for a in leaked] == [(old.ip, "gb/web/2@gen1")]


def test_evictions_are_recorded_once_and_taken_back():
    kv = MemoryKV()
    evictions = Evictions(kv, "/nap-compose/", FakeClock(100.0))
    assert evictions.evicted() == {}
    assert evictions.evict("node2", "ann@ws1 (nap-compose host evict node2)")
    assert not evictions.evict("node2", "bob@ws2")
    found = evictions.evicted()
    assert list(found) == ["node2"] and found["node2"].by == "ann@ws1 (nap-compose host evict node2)"
    assert found["node2"].since == 100.0
    assert evictions.readmit("node2") and not evictions.readmit("node2")
    assert evictions.evicted() == {} and kv.list("") == {}
    with pytest.raises(IpamError):
        evictions.evict("bad host", "x")
    kv.create("/nap-compose/evicted/node9", "not json")
    warned = []
    evictions = Evictions(kv, "/nap-compose/", FakeClock(100.0), BadRecords(warned.append))
    evictions.evict("node2", "ann@ws1")
    assert list(evictions.evicted()) == ["node2"]  # node9 counts as not evicted
    assert warned == ["the store holds a malformed eviction record at /nap-compose/evicted/node9 (its value is "
                      "not an eviction record): 'not json'; skipped (check it and remove the key by hand)"]


def test_unstrand_gives_a_kept_address_back_to_its_replica_and_is_safe_to_repeat(ipam):
    old = ipam.ensure("gb/web/2", "node2")
    ipam.mark_bound("gb/web/2", "node2")
    ipam.strand("gb/web/2", "gb/web/2@gen1", "node2", old.ip)
    new = ipam.ensure("gb/web/2", "node2")
    assert new.ip != old.ip
    with pytest.raises(IpamError):  # the replica still holds its new address: release it first
        ipam.unstrand("gb/web/2@gen1", "gb/web/2", "node2", old.ip)
    ipam.release_owner("gb/web/2")
    with pytest.raises(AddressFencedError):
        ipam.unstrand("gb/web/2@gen1", "gb/web/2", "node1", old.ip)
    back = ipam.unstrand("gb/web/2@gen1", "gb/web/2", "node2", old.ip)
    assert (back.ip, back.owner, back.host, back.state) == (old.ip, "gb/web/2", "node2", "bound")
    assert ipam.lookup("gb/web/2") == back and ipam.lookup("gb/web/2@gen1") is None
    assert ipam.unstrand("gb/web/2@gen1", "gb/web/2", "node2", old.ip) == back  # repeated: done already
    assert [(a.owner, a.ip) for a in ipam.allocations()] == [("gb/web/2", old.ip)]
