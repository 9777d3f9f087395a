"""`ipam gc` planned from the Observation and the address book, run on the one executor."""

import json

from napcompose.clustermodel import HostBlock
from napcompose.ipam import Ipam
from napcompose.model import HostStatus, ObservedContainer, Replica
from napcompose.observe.observation import Observation
from napcompose.execute.state import LockedAddressBook
from napcompose.planner import AddressRecords, Addresses, Command, Options, Release, plan
from napcompose.planner.gc import kept_locked, live_owners, orphan_blocks
from tests.fakes_engine import FakeClock
from tests.unit.test_ipam_allocator import KEYS, make


def _seen(*containers, down=()):
    hosts = tuple(HostStatus(h, h not in down, "no route" if h in down else None) for h in ("node1", "node2"))
    return Observation(None, "", tuple(containers), hosts, everything=True)


def _running(owner, host, generation=1):
    project, service, index = owner.split("/")
    return ObservedContainer(host=host, id="c", name=f"{project}_{service}_{index}",
                             replica=Replica(project, service, int(index)), config_hash=None, state="running",
                             generation=generation)


def _records(ipam, clock):
    return AddressRecords(tuple(sorted(ipam.claims().items())), tuple(ipam.allocations()), clock.now(),
                          Ipam.GRACE_S)


def test_live_owners_count_a_copy_under_its_replica_and_its_stranded_name():
    seen = _seen(_running("shop/web/1", "node1", generation=2), down=("node2",))
    assert live_owners(seen) == {"node1": {"shop/web/1", "shop/web/1@gen2"}}


def test_gc_releases_what_no_container_holds_and_keeps_what_a_silent_host_holds():
    clock = FakeClock()
    ipam, _ = make(clock=clock)
    ipam.ensure("shop/web/1", "node1")
    gone = ipam.ensure("shop/web/2", "node1")
    ipam.ensure("shop/web/3", "node2")
    seen = _seen(_running("shop/web/1", "node1"), down=("node2",))
    the_plan = plan(None, seen, Addresses(), Options(), Command.GC, records=_records(ipam, clock))
    assert the_plan.actions == (Release(Replica("shop", "web", 2), "node1", gone.ip, "no container holds it",
                                        owner="shop/web/2", exact=True),)
    assert the_plan.actions[0].subject == "web_2"


def test_nothing_of_a_project_whose_lock_is_held_is_collected():
    # an `up` of shop holds its lock: it reserved web_2's address and has not created web_2 yet
    clock = FakeClock()
    ipam, _ = make(clock=clock)
    ipam.ensure("shop/web/2", "node1")
    other = ipam.ensure("blog/db/1", "node1")
    seen = _seen()
    records = AddressRecords(tuple(sorted(ipam.claims().items())), tuple(ipam.allocations()), clock.now(),
                             Ipam.GRACE_S, locked=("shop",))
    the_plan = plan(None, seen, Addresses(), Options(), Command.GC, records=records)
    assert [a.owner for a in the_plan.actions] == ["blog/db/1"] and the_plan.actions[0].ip == other.ip
    assert kept_locked(seen, records) == {"shop": 1}


def test_a_stray_is_released_by_its_address_and_the_owners_own_address_stays():
    clock = FakeClock()
    ipam, kv = make(clock=clock)
    mine = ipam.ensure("shop/web/1", "node1")
    kv.create(KEYS.address("198.18.0.222"), json.dumps(
        {"owner": "shop/web/1", "host": "node1", "state": "reserved", "since": clock.now(), "alloc_id": "late"}))
    clock.sleep(Ipam.GRACE_S)
    seen = _seen(_running("shop/web/1", "node1"))
    (release,) = plan(None, seen, Addresses(), Options(), Command.GC, records=_records(ipam, clock)).actions
    assert (release.ip, release.owner, release.exact) == ("198.18.0.222", "shop/web/1", True)
    LockedAddressBook(ipam).release(release.ip, release.owner)
    assert ipam.lookup("shop/web/1") == mine
    assert [a.ip for a in ipam.allocations()] == [mine.ip]


def test_an_owner_that_names_no_replica_is_released_under_its_own_name():
    clock = FakeClock()
    ipam, _ = make(clock=clock)
    held = ipam.ensure("ops/dns", "node1")
    (release,) = plan(None, _seen(), Addresses(), Options(), Command.GC, records=_records(ipam, clock)).actions
    assert (release.replica, release.owner, release.subject, release.ip) == (None, "ops/dns", "ops/dns", held.ip)


def test_only_blocks_of_hosts_gone_from_the_cluster_file_are_collected():
    blocks = [HostBlock("node1", "198.18.0.32/28"), HostBlock("node9", "198.18.0.64/28")]
    assert orphan_blocks(blocks, ["node1", "node2"]) == [blocks[1]]
