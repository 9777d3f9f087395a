"""The allocator over the in-memory store: uniqueness, idempotence, fixed addresses, exhaustion,
release by owner only, ambiguous writes, interrupted claims and the gc decision."""

import itertools
import json
import threading

import pytest

from napcompose.errors import AddressFencedError, AddressTakenError, IpamError, NotOwnerError, PoolExhaustedError, StoreError
from napcompose.ipam import Ipam, Pool
from napcompose.ipam.fencing import Vacated
from napcompose.ipam.records import Keys, OwnerRecord
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV

POOL = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.100-198.18.0.249"], hosts=[("node1", "198.18.0.11")])
KEYS = Keys("/nap")


def ids(prefix="a"):
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def make(kv=None, pool=POOL, clock=None, prefix="a"):
    kv = kv if kv is not None else MemoryKV()
    return Ipam(kv, pool, "/nap", clock or FakeClock(), ids(prefix)), kv


def addresses(kv):
    return {k[len(KEYS.addresses):]: json.loads(v) for k, (v, _) in kv.list(KEYS.addresses).items()}


def claims(kv):
    return {k: json.loads(v) for k, (v, _) in kv.list("/nap/owners/").items()}


def test_ensure_reserves_one_address_with_owner_host_state_time_and_id():
    ipam, kv = make()
    alloc = ipam.ensure("shop/web/1", "node1")
    assert POOL.contains(alloc.ip)
    assert (alloc.owner, alloc.host, alloc.state, alloc.since) == ("shop/web/1", "node1", "reserved", 1_800_000_000.0)
    assert addresses(kv) == {alloc.ip: {"owner": "shop/web/1", "host": "node1", "state": "reserved",
                                        "since": 1_800_000_000.0, "alloc_id": alloc.alloc_id}}
    assert claims(kv) == {"/nap/owners/shop~web~1": {"ip": alloc.ip, "alloc_id": alloc.alloc_id,
                                                    "since": 1_800_000_000.0}}
    assert json.loads(kv.get("/nap/pool")[0])["pools"] == ["198.18.0.100-198.18.0.249"]


def test_the_same_owner_gets_the_same_address_even_from_another_allocator_and_host():
    clock = FakeClock()
    first, kv = make(clock=clock)
    alloc = first.ensure("shop/web/2", "node1")
    second, _ = make(kv, prefix="b", clock=clock)
    assert second.ensure("shop/web/2", "node1") == alloc
    clock.sleep(60)  # later, node1 answered a scan without the container: it may move (test_ipam_fencing.py)
    empty_node1 = Vacated(clock.now(), frozenset({"node1"}), frozenset())
    again = second.ensure("shop/web/2", "node2", vacated=empty_node1)
    assert (again.ip, again.alloc_id, again.host) == (alloc.ip, alloc.alloc_id, "node2")
    assert second.ensure("shop/web/2", None).host == "node2"  # no host: keep the recorded one
    assert len(addresses(kv)) == 1 and second.lookup("shop/web/2").host == "node2"


def test_distinct_owners_get_distinct_addresses_and_ls_is_sorted():
    ipam, kv = make()
    got = ipam.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(1, 41)])
    assert len({a.ip for a in got}) == 40
    listed = ipam.allocations()
    assert [a.ip for a in listed] == sorted((a.ip for a in got), key=lambda ip: int(ip.split(".")[-1]))


def test_fixed_address_is_reserved_exactly_or_refused_naming_its_owner():
    ipam, kv = make()
    assert ipam.ensure("shop/db/1", "node1", fixed="198.18.0.150").ip == "198.18.0.150"
    before = kv.list("")
    with pytest.raises(AddressTakenError) as err:
        ipam.ensure("shop/web/1", "node2", fixed="198.18.0.150")
    assert str(err.value) == "address 198.18.0.150 is already reserved by shop/db/1 on node1"
    assert kv.list("") == before  # the refused owner's claim is gone again


@pytest.mark.parametrize("fixed,message", [
    ("198.18.0.50", "fixed address 198.18.0.50 for shop/db/1 cannot be reserved: it is outside the container "
                    "pool 198.18.0.100-198.18.0.249"),
    ("10.1.2.3", "fixed address 10.1.2.3 for shop/db/1 cannot be reserved: it is outside the subnet 198.18.0.0/24"),
    ("198.18.0.1", "fixed address 198.18.0.1 for shop/db/1 cannot be reserved: it is the router"),
    ("198.18.0.300", "'198.18.0.300' is not an IPv4 address"),
])
def test_fixed_address_outside_the_pool_is_refused_and_nothing_is_written(fixed, message):
    ipam, kv = make()
    with pytest.raises(IpamError) as err:
        ipam.ensure("shop/db/1", "node1", fixed=fixed)
    assert str(err.value) == message
    assert kv.list("") == {}


def test_router_inside_a_pool_range_is_named_as_the_router():
    pool = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.0/24"])
    ipam, _ = make(pool=pool)
    with pytest.raises(IpamError) as err:
        ipam.ensure("shop/db/1", None, fixed="198.18.0.1")
    assert str(err.value) == "fixed address 198.18.0.1 for shop/db/1 cannot be reserved: it is the router"


def test_a_new_fixed_address_moves_the_owner_and_frees_the_old_one():
    ipam, kv = make()
    old = ipam.ensure("shop/db/1", "node1")
    new = ipam.ensure("shop/db/1", "node1", fixed="198.18.0.200")
    assert new.ip == "198.18.0.200" and old.ip != new.ip
    assert list(addresses(kv)) == ["198.18.0.200"]
    assert claims(kv)["/nap/owners/shop~db~1"]["ip"] == "198.18.0.200"


@pytest.mark.parametrize("owner,message", [
    ("", "an owner is required (project/service/index or another name)"),
    ("shop//1", "invalid owner 'shop//1': use letters, digits and _.@:- in parts separated by '/', at most 200 "
                "characters (e.g. myproject/web/1)"),
    ("/shop/web/1", "invalid owner '/shop/web/1': use letters, digits and _.@:- in parts separated by '/', at most "
                    "200 characters (e.g. myproject/web/1)"),
    ("shop/we b/1", "invalid owner 'shop/we b/1': use letters, digits and _.@:- in parts separated by '/', at most "
                    "200 characters (e.g. myproject/web/1)"),
])
def test_bad_owner_is_refused_and_nothing_is_written(owner, message):
    ipam, kv = make()
    with pytest.raises(IpamError) as err:
        ipam.ensure_many([("shop/ok/1", None, None), (owner, None, None)])
    assert str(err.value) == message
    assert kv.list("") == {}


def test_small_pool_is_exhausted_cleanly():
    pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
    assert pool.size == 5
    ipam, kv = make(pool=pool)
    first = ipam.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(1, 4)])
    before = kv.list("/nap/addresses/"), kv.list("/nap/owners/")
    with pytest.raises(PoolExhaustedError) as err:
        ipam.ensure_many([(f"shop/db/{i}", "node1", None) for i in range(1, 4)] + [("shop/web/1", "node1", None)])
    assert str(err.value) == ("address pool 198.18.0.0-198.18.0.7 is exhausted: 5 addresses, 3 in use, "
                              "3 asked for")
    assert (kv.list("/nap/addresses/"), kv.list("/nap/owners/")) == before
    assert {a.ip for a in ipam.allocations()} == {a.ip for a in first}
    # what is left can still be taken, one by one, until the pool is really full
    ipam.ensure("shop/db/1", None), ipam.ensure("shop/db/2", None)
    with pytest.raises(PoolExhaustedError) as err:
        ipam.ensure("shop/db/3", None)
    assert str(err.value) == "address pool 198.18.0.0-198.18.0.7 is exhausted: 5 addresses, 5 in use, 1 asked for"


def test_a_full_pool_still_gives_an_owner_its_own_address_back():
    pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
    ipam, kv = make(pool=pool)
    got = ipam.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(1, 6)])
    again, _ = make(kv, pool=pool, prefix="b")
    assert again.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(5, 0, -1)]) == list(reversed(got))


def test_ensure_many_undoes_its_new_reservations_when_a_fixed_address_is_taken():
    ipam, kv = make()
    ipam.ensure("other/x/1", "node1", fixed="198.18.0.120")
    kept = ipam.ensure("shop/web/1", "node1")
    with pytest.raises(AddressTakenError):
        ipam.ensure_many([("shop/web/1", "node1", None), ("shop/web/2", "node1", None),
                          ("shop/db/1", "node1", "198.18.0.120")])
    assert {a.owner: a.ip for a in ipam.allocations()} == {"other/x/1": "198.18.0.120", "shop/web/1": kept.ip}
    assert sorted(claims(kv)) == ["/nap/owners/other~x~1", "/nap/owners/shop~web~1"]


def test_two_owners_asking_for_one_fixed_address_in_one_call_are_refused_first():
    ipam, kv = make()
    with pytest.raises(AddressTakenError) as err:
        ipam.ensure_many([("shop/a/1", None, "198.18.0.130"), ("shop/b/1", None, "198.18.0.130")])
    assert str(err.value) == "fixed address 198.18.0.130 is asked for both shop/a/1 and shop/b/1"
    assert kv.list("") == {}


def test_release_only_by_the_owner():
    ipam, kv = make()
    alloc = ipam.ensure("shop/web/1", "node1")
    with pytest.raises(NotOwnerError) as err:
        ipam.release(alloc.ip, "shop/web/2")
    assert str(err.value) == f"address {alloc.ip} is reserved by shop/web/1, not by shop/web/2"
    assert ipam.lookup("shop/web/1") == alloc
    ipam.release(alloc.ip, "shop/web/1")
    assert ipam.lookup("shop/web/1") is None and kv.list("/nap/owners/") == {}
    with pytest.raises(IpamError) as err:
        ipam.release(alloc.ip, "shop/web/1")
    assert str(err.value) == f"address {alloc.ip} is not reserved"


def test_release_owner_and_mark_bound():
    ipam, kv = make()
    alloc = ipam.ensure("shop/web/1", "node1")
    bound = ipam.mark_bound("shop/web/1", "node1")
    assert (bound.ip, bound.state, bound.host) == (alloc.ip, "bound", "node1")
    assert ipam.lookup("shop/web/1") == bound
    assert ipam.release_owner("shop/web/1") == bound
    assert ipam.release_owner("shop/web/1") is None
    with pytest.raises(IpamError) as err:
        ipam.mark_bound("shop/web/1", "node1")
    assert str(err.value) == "shop/web/1 holds no address to bind"


def test_a_reply_lost_after_the_address_write_landed_resolves_to_one_allocation():
    kv = MemoryKV()
    ipam, _ = make(kv)
    ipam.ensure("seed/x/1", None)  # pool record and hints exist already
    kv.lose_next, kv.lose_if = 1, (lambda op, key: op == "create" and "/addresses/" in key)
    alloc = ipam.ensure("shop/web/1", "node1")
    assert kv.lost == [("create", f"/nap/addresses/{alloc.ip}")]  # the reply really was lost
    mine = {ip: rec for ip, rec in addresses(kv).items() if rec["owner"] == "shop/web/1"}
    assert list(mine) == [alloc.ip] and mine[alloc.ip]["alloc_id"] == alloc.alloc_id
    assert claims(kv)["/nap/owners/shop~web~1"]["ip"] == alloc.ip


def test_a_lost_reply_while_moving_a_claim_on_resolves_to_one_allocation():
    pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
    kv = MemoryKV()
    ipam, _ = make(kv, pool=pool)
    ipam.init()
    for i in range(4):  # written behind the hints' back: every candidate but one collides
        kv.create(KEYS.address(pool.address_at(i)), json.dumps(
            {"owner": f"fill/x/{i}", "host": None, "state": "reserved", "since": 0.0, "alloc_id": f"f{i}"}))
    kv.lose_next, kv.lose_if = 1, (lambda op, key: op == "cas" and "/owners/" in key)
    alloc = ipam.ensure("shop/web/1", "node1")
    assert kv.lost == [("cas", "/nap/owners/shop~web~1")]
    assert alloc.ip == pool.address_at(4)
    assert [ip for ip, rec in addresses(kv).items() if rec["owner"] == "shop/web/1"] == [alloc.ip]


def test_a_lost_claim_reply_resolves_to_one_allocation():
    kv = MemoryKV()
    ipam, _ = make(kv)
    kv.lose_next, kv.lose_if = 1, (lambda o, key: o == "create" and "/owners/" in key)
    alloc = ipam.ensure("shop/web/1", "node1")
    assert kv.lost == [("create", "/nap/owners/shop~web~1")]
    assert list(addresses(kv)) == [alloc.ip]


def test_a_timeout_after_the_write_is_resolved_by_the_next_ensure():
    kv = MemoryKV()
    ipam, _ = make(kv)
    kv.lose_as, kv.lose_next, kv.lose_if = "timeout", 1, (lambda o, key: "/addresses/" in key)
    with pytest.raises(StoreError):
        ipam.ensure("shop/web/1", "node1")
    landed = addresses(kv)
    assert len(landed) == 1
    again, _ = make(kv, prefix="b")
    alloc = again.ensure("shop/web/1", "node1")
    assert list(addresses(kv)) == [alloc.ip] == list(landed)


def test_a_claim_whose_writer_died_before_the_address_write_is_completed():
    kv = MemoryKV()
    ipam, _ = make(kv)
    ipam.ensure("seed/x/1", None)
    kv.create("/nap/owners/shop~web~1", OwnerRecord("198.18.0.222", "dead1", 1.0).dump())
    alloc = ipam.ensure("shop/web/1", "node1")
    assert (alloc.ip, alloc.alloc_id) == ("198.18.0.222", "dead1")
    assert addresses(kv)["198.18.0.222"]["owner"] == "shop/web/1"


def test_a_stale_claim_on_someone_elses_address_is_taken_over_after_the_grace_period():
    kv, clock = MemoryKV(), FakeClock()
    ipam, _ = make(kv, clock=clock)
    other = ipam.ensure("shop/db/1", None, fixed="198.18.0.222")
    kv.create("/nap/owners/shop~web~1", OwnerRecord(other.ip, "inflight", clock.now()).dump())
    alloc = ipam.ensure("shop/web/1", "node1")
    assert alloc.ip != other.ip
    assert clock.now() - 1_800_000_000.0 >= Ipam.GRACE_S  # it waited for a live writer first
    assert claims(kv)["/nap/owners/shop~web~1"]["ip"] == alloc.ip
    assert ipam.lookup("shop/db/1") == other


def test_concurrent_ensure_of_one_owner_gives_one_address():
    kv = MemoryKV()
    make(kv)[0].init()
    results, barrier = [], threading.Barrier(8)

    def run(n):
        ipam = Ipam(kv, POOL, "/nap", FakeClock(), ids(f"t{n}-"))
        barrier.wait()
        results.append(ipam.ensure("shop/web/1", "node1").ip)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 8 and len(set(results)) == 1 and list(addresses(kv)) == results[:1]


def test_concurrent_ensure_of_one_owner_on_different_hosts_gives_it_to_one_host_only():
    kv = MemoryKV()
    make(kv)[0].init()
    won, fenced, barrier = [], [], threading.Barrier(8)

    def run(n):
        ipam = Ipam(kv, POOL, "/nap", FakeClock(), ids(f"t{n}-"))
        barrier.wait()
        try:
            won.append((ipam.ensure("shop/web/1", f"node{n}").host, n))
        except AddressFencedError:
            fenced.append(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(won) == 1 and len(fenced) == 7
    assert [a["host"] for a in addresses(kv).values()] == [won[0][0]]


def test_concurrent_allocators_never_share_an_address():
    kv = MemoryKV()
    pool = Pool.build("198.18.0.0/22", "198.18.0.1", ["198.18.0.0/22"])
    make(kv, pool=pool)[0].init()
    got, barrier = [], threading.Barrier(8)

    def run(n):
        ipam = Ipam(kv, pool, "/nap", FakeClock(), ids(f"t{n}-"))
        barrier.wait()
        for i in range(50):
            got.append(ipam.ensure(f"p{n}/web/{i}", None))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len({a.ip for a in got}) == 400 == len(addresses(kv))
    assert len({a.owner for a in got}) == 400


def test_allocation_cost_stays_flat_when_the_pool_is_ninety_percent_full():
    import random

    pool = Pool.build("198.18.0.0/16", "198.18.0.1", ["198.18.0.0/16"])
    kv = MemoryKV()
    setup, _ = make(kv, pool=pool)
    setup.init()
    rng = random.Random(7)
    for index in rng.sample(range(pool.size), int(pool.size * 0.9)):
        kv.create(KEYS.address(pool.address_at(index)), json.dumps(
            {"owner": f"fill/x/{index}", "host": None, "state": "reserved", "since": 0.0, "alloc_id": str(index)}))
    setup.rebuild_hints()
    ipam, _ = make(kv, pool=pool, prefix="z")
    before = dict(kv.calls)
    for i in range(200):
        ipam.ensure(f"shop/web/{i}", None)
    ipam.flush()
    used = {k: kv.calls[k] - before[k] for k in kv.calls}
    assert used["list"] == 0  # no scan of the pool
    round_trips = sum(used.values()) / 200
    assert round_trips <= 2.5, used


def test_hints_only_advise_a_wrong_hint_never_gives_a_duplicate():
    ipam, kv = make()
    taken = ipam.ensure("shop/db/1", None)
    for key, (_, version) in kv.list("/nap/blocks/").items():
        kv.compare_and_swap(key, "0", version)  # every hint now says "all free"
    fresh, _ = make(kv, prefix="b")
    got = [fresh.ensure(f"shop/web/{i}", None).ip for i in range(149)]
    assert taken.ip not in got and len(set(got)) == 149
    with pytest.raises(PoolExhaustedError):
        fresh.ensure("shop/web/x", None)


def test_init_is_idempotent_and_refuses_a_conflicting_pool_without_force():
    ipam, kv = make()
    assert ipam.init() == ("created", [])
    assert ipam.init() == ("unchanged", [])
    other = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.100-198.18.0.199"])
    changed, _ = make(kv, pool=other)
    stored = kv.get("/nap/pool")
    with pytest.raises(IpamError) as err:
        changed.init()
    assert str(err.value) == ("the store already holds a different address pool: pools: store has "
                              "198.18.0.100-198.18.0.249, cluster file has 198.18.0.100-198.18.0.199 (run "
                              "`nap-compose ipam init --force` to replace it)")
    assert kv.get("/nap/pool") == stored
    with pytest.raises(IpamError) as err:
        changed.ensure("shop/web/1", None)
    assert str(err.value).startswith("the address pool in the store differs from the cluster file: pools: ")
    assert kv.list("/nap/addresses/") == {}
    assert changed.init(force=True)[0] == "replaced"
    assert changed.ensure("shop/web/1", None).ip.startswith("198.18.0.1")


def test_gc_picks_only_allocations_gone_from_a_reachable_observed_host():
    ipam, _ = make()
    for owner, host in [("shop/web/1", "node1"), ("shop/web/2", "node1"), ("shop/web/3", "node2"),
                        ("shop/web/4", "node3"), ("manual/printer", None), ("shop/web/5", "node2")]:
        ipam.ensure(owner, host)
    live = {"node1": {"shop/web/1"}, "node2": {"shop/web/3", "shop/web/2"}}
    leaked = ipam.gc(live, unreachable_hosts={"node3"})
    # web/2 runs on node2 now (its record says node1): not leaked; node3 is unreachable: never a candidate.
    assert [a.owner for a in leaked] == ["shop/web/5"]
    assert ipam.gc({}, set()) == []


def test_gc_reports_a_stray_address_its_owners_claim_does_not_name_once_it_is_old():
    clock = FakeClock()
    ipam, kv = make(clock=clock)
    mine = ipam.ensure("shop/web/1", "node1")
    kv.create(KEYS.address("198.18.0.222"), json.dumps(  # written by a writer that stalled past the grace
        {"owner": "shop/web/1", "host": "node1", "state": "reserved", "since": clock.now(), "alloc_id": "late"}))
    live = {"node1": {"shop/web/1"}}
    assert ipam.gc(live, set()) == []  # young: it may still be settling
    clock.sleep(Ipam.GRACE_S)
    assert [a.ip for a in ipam.gc(live, set())] == ["198.18.0.222"]
    ipam.release("198.18.0.222", "shop/web/1")
    assert ipam.lookup("shop/web/1") == mine and ipam.gc(live, set()) == []


def test_a_released_address_comes_back_only_after_every_other_one_was_used():
    # On a LAN a reused address keeps its MAC address (Docker derives it from the IPv4 address), and
    # the bridges may still forward it to the host that held it: so a pool goes round before reuse.
    pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
    kv = MemoryKV()
    handed = []
    for run in range(12):  # each run a process of its own, starting wherever its random id points
        ipam, _ = make(kv, pool=pool, prefix=f"run{run}-")
        handed.append(ipam.ensure(f"shop/web/{run}", f"node{run % 3 + 1}").ip)
        ipam.release_owner(f"shop/web/{run}")
    # no address came back before every one had been handed out once; then they do come back
    assert sorted(handed[:pool.size]) == sorted(pool.address_at(i) for i in range(pool.size)), handed
    assert set(handed[pool.size:]) <= set(handed[:pool.size]) and len(handed) == 12
