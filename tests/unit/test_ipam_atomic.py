"""The allocator on a store with ``create_all`` (etcd's v3 API): the owner's claim and its address in one
transaction, one round trip per reservation, and the same outcomes as the two-write path."""

import itertools
import json
import threading

import pytest

from napcompose.errors import AddressFencedError, AddressTakenError, StoreError
from napcompose.ipam import Ipam, Pool
from napcompose.ipam.fencing import Vacated
from napcompose.ipam.records import Keys
from tests.fakes_engine import FakeClock
from tests.fakes_kv import AtomicMemoryKV, MemoryKV

POOL = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.100-198.18.0.249"])
SMALL = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
KEYS = Keys("/nap")


def ids(prefix="a"):
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def make(kv, pool=POOL, prefix="a"):
    return Ipam(kv, pool, "/nap", FakeClock(), ids(prefix))


def addresses(kv):
    return {k[len(KEYS.addresses):]: json.loads(v) for k, (v, _) in kv.list(KEYS.addresses).items()}


def claims(kv):
    return {k[len("/nap/owners/"):]: json.loads(v) for k, (v, _) in kv.list("/nap/owners/").items()}


def fill(kv, pool, indices):
    """Address records written behind the hints' back, so the allocator collides with them."""
    for i in indices:
        kv.create(KEYS.address(pool.address_at(i)), json.dumps(
            {"owner": f"fill/x/{i}", "host": None, "state": "reserved", "since": 0.0, "alloc_id": f"f{i}"}))


def test_a_reservation_is_one_transaction_holding_the_claim_and_the_address():
    kv = AtomicMemoryKV()
    ipam = make(kv)
    ipam.init()
    before = dict(kv.calls)
    got = [ipam.ensure(f"shop/web/{i}", "node1") for i in range(1, 11)]
    spent = {op: kv.calls[op] - before[op] for op in kv.calls}
    assert spent == {"get": 0, "create": 0, "cas": 0, "cad": 0, "list": 0, "create_all": 10}
    for alloc in got:
        assert addresses(kv)[alloc.ip]["alloc_id"] == alloc.alloc_id
        assert claims(kv)[alloc.owner.replace("/", "~")] == {"ip": alloc.ip, "alloc_id": alloc.alloc_id,
                                                            "since": alloc.since}
    assert len({a.ip for a in got}) == 10


def test_the_plain_store_keeps_the_two_writes():
    kv = MemoryKV()
    ipam = make(kv)
    ipam.init()
    before = dict(kv.calls)
    ipam.ensure("shop/web/1", "node1")
    assert (kv.calls["create"] - before["create"], kv.calls["create_all"]) == (2, 0)


def test_a_taken_candidate_moves_on_without_leaving_a_claim_behind():
    kv = AtomicMemoryKV()
    ipam = make(kv, SMALL)
    ipam.init()
    fill(kv, SMALL, range(4))  # every candidate but the last collides
    alloc = ipam.ensure("shop/web/1", "node1")
    assert alloc.ip == SMALL.address_at(4)
    assert list(claims(kv)) == ["shop~web~1"] and claims(kv)["shop~web~1"]["ip"] == alloc.ip
    assert [ip for ip, rec in addresses(kv).items() if rec["owner"] == "shop/web/1"] == [alloc.ip]


def test_a_taken_fixed_address_is_refused_naming_its_owner_and_nothing_is_written():
    kv = AtomicMemoryKV()
    ipam = make(kv)
    ipam.ensure("shop/db/1", "node2", fixed="198.18.0.150")
    before = dict(kv._data)
    with pytest.raises(AddressTakenError) as err:
        make(kv, prefix="b").ensure("shop/web/1", "node1", fixed="198.18.0.150")
    assert str(err.value) == "address 198.18.0.150 is already reserved by shop/db/1 on node2"
    assert {k: v for k, v in kv._data.items() if "/blocks/" not in k} == \
        {k: v for k, v in before.items() if "/blocks/" not in k}


def test_ensure_again_finds_the_claim_and_moves_it_to_another_host_only_with_proof():
    kv = AtomicMemoryKV()
    first = make(kv).ensure("shop/web/1", "node1")
    with pytest.raises(AddressFencedError):  # nothing shows its container on node1 is gone
        make(kv, prefix="b").ensure("shop/web/1", "node2")
    node1_empty = Vacated(scanned_at=1e12, answered=frozenset({"node1", "node2"}), holding=frozenset())
    again = make(kv, prefix="b").ensure("shop/web/1", "node2", vacated=node1_empty)
    assert (again.ip, again.alloc_id, again.host) == (first.ip, first.alloc_id, "node2")
    assert len(addresses(kv)) == 1


def test_the_owners_own_address_without_a_claim_is_adopted():
    kv = AtomicMemoryKV()
    make(kv).init()
    kv.create(KEYS.address("198.18.0.160"), json.dumps(
        {"owner": "shop/web/1", "host": "node1", "state": "bound", "since": 5.0, "alloc_id": "old"}))
    alloc = make(kv, prefix="b").ensure("shop/web/1", "node1", fixed="198.18.0.160")
    assert (alloc.ip, alloc.alloc_id) == ("198.18.0.160", "old")
    assert claims(kv)["shop~web~1"]["alloc_id"] == "old" and len(addresses(kv)) == 1


@pytest.mark.parametrize("mode", ["resend", "timeout"])
def test_a_transaction_whose_reply_was_lost_resolves_to_one_allocation(mode):
    kv = AtomicMemoryKV()
    ipam = make(kv)
    ipam.ensure("seed/x/1", None)
    kv.lose_as, kv.lose_next, kv.lose_if = mode, 1, (lambda op, key: op == "create_all")
    if mode == "timeout":
        with pytest.raises(StoreError):
            ipam.ensure("shop/web/1", "node1")
        alloc = make(kv, prefix="b").ensure("shop/web/1", "node1")
    else:
        alloc = ipam.ensure("shop/web/1", "node1")
    assert kv.lost == [("create_all", "/nap/owners/shop~web~1")]
    mine = {ip: rec for ip, rec in addresses(kv).items() if rec["owner"] == "shop/web/1"}
    assert list(mine) == [alloc.ip] and mine[alloc.ip]["alloc_id"] == alloc.alloc_id
    assert claims(kv)["shop~web~1"]["ip"] == alloc.ip


def test_concurrent_allocators_on_one_transaction_each_never_share_an_address():
    kv = AtomicMemoryKV()
    pool = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.0/24"])
    make(kv, pool).init()
    got, barrier = [], threading.Barrier(8)

    def run(n):
        ipam = make(kv, pool, prefix=f"t{n}-")
        barrier.wait()
        for i in range(25):
            got.append(ipam.ensure(f"p{n}/web/{i}", None))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len({a.ip for a in got}) == 200 == len(addresses(kv)) == len(claims(kv))
    assert {(rec["owner"], ip) for ip, rec in addresses(kv).items()} == {(a.owner, a.ip) for a in got}
