"""Records in the store that nap-compose cannot read: skipped with a warning naming the key, never handed
out, never fatal to another project, and findings of `ipam ls` and `network check`."""

import io
import itertools
import json

import pytest

from napcompose.errors import AddressTakenError, PoolExhaustedError
from napcompose.ipam import Ipam, Pool
from napcompose.ipam.records import BadRecords, OwnerRecord
from napcompose.network.check import bad_record_findings
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV
from tests.unit.test_cli_project import Cli
from tests.unit.test_ipam_cli import CLUSTER as CLUSTER_OF_IPAM_CLI

ADDRESSES = "/nap-compose/addresses/"


def ipam_over(kv, warned, first="198.18.0.100", last="198.18.0.103", clock=None):
    ids = itertools.count(1)
    pool = Pool.build("198.18.0.0/24", "198.18.0.1", [f"{first}-{last}"])
    return Ipam(kv, pool, "/nap-compose", clock or FakeClock(), lambda: f"alloc-{next(ids)}", BadRecords(warned.append))


def test_a_junk_key_under_addresses_is_skipped_with_one_warning_naming_it():
    kv, warned = MemoryKV(), []
    kv.create(ADDRESSES + "junk", "hello")
    ipam = ipam_over(kv, warned)
    got = [ipam.ensure(f"shop/web/{i}", "node1").ip for i in (1, 2)]
    assert len(set(got)) == 2
    assert sorted(a.owner for a in ipam.allocations()) == ["shop/web/1", "shop/web/2"]
    ipam.rebuild_hints()
    assert warned == ["the store holds a malformed address record at /nap-compose/addresses/junk (its key names no "
                      "address): 'hello'; skipped; nothing is handed out from it (check it and remove the key by "
                      "hand)"]
    assert kv.get(ADDRESSES + "junk")[0] == "hello"


def test_a_well_formed_record_under_a_key_that_is_no_address_is_skipped_too():
    kv, warned = MemoryKV(), []
    kv.create(ADDRESSES + "198.18.0.0100", json.dumps({"owner": "x/y/1", "host": None, "state": "reserved",
                                                       "since": 1, "alloc_id": "a"}))
    ipam = ipam_over(kv, warned)
    assert ipam.allocations() == []
    assert [r.key for r in ipam.bad_records()] == [ADDRESSES + "198.18.0.0100"]
    assert "its key names no address" in warned[0]


def test_the_address_of_a_malformed_record_is_never_handed_out():
    kv, warned = MemoryKV(), []
    kv.create(ADDRESSES + "198.18.0.101", "{not json")
    ipam = ipam_over(kv, warned)
    got = {ipam.ensure(f"shop/web/{i}", "node1").ip for i in (1, 2, 3)}
    assert got == {"198.18.0.100", "198.18.0.102", "198.18.0.103"}
    with pytest.raises(PoolExhaustedError) as err:  # the fourth address of the pool is the record's
        ipam.ensure("shop/web/4", "node1")
    assert "4 addresses, 4 in use" in str(err.value)
    with pytest.raises(AddressTakenError) as err:
        ipam.ensure("other/db/1", "node2", "198.18.0.101")
    assert str(err.value) == ("address 198.18.0.101 is already reserved by <malformed record "
                              "/nap-compose/addresses/198.18.0.101>")
    assert kv.get(ADDRESSES + "198.18.0.101")[0] == "{not json"
    assert warned == ["the store holds a malformed address record at /nap-compose/addresses/198.18.0.101 (its value "
                      "is not an address record): '{not json'; skipped; 198.18.0.101 is not handed out while it "
                      "stays (check it and remove the key by hand)"]


def test_a_fresh_allocator_walking_onto_the_record_moves_past_it():
    # every allocator start (the hashed cursor) lands somewhere: whatever it tries, it never gets .101
    for n in range(12):
        kv, warned = MemoryKV(), []
        kv.create(ADDRESSES + "198.18.0.101", "[]")
        ids = itertools.count(n * 100)
        pool = Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.100-198.18.0.103"])
        ipam = Ipam(kv, pool, "/nap-compose", FakeClock(), lambda: f"id-{next(ids)}", BadRecords(warned.append))
        assert ipam.ensure("shop/web/1", "node1").ip != "198.18.0.101"


def test_gc_never_collects_the_address_of_an_owner_whose_claim_is_unreadable():
    kv, warned = MemoryKV(), []
    clock = FakeClock()
    ipam = ipam_over(kv, warned, clock=clock)
    held = ipam.ensure("shop/web/1", "node1")
    key = "/nap-compose/owners/shop~web~1"
    kv.compare_and_swap(key, "garbage", kv.get(key)[1])
    clock.sleep(3600)  # far past the grace period: without its claim, the address looks like a stray
    assert ipam.claims()["shop/web/1"].ip == held.ip  # a stand-in naming what it holds, for gc
    assert ipam.gc({"node1": {"shop/web/1"}}, set()) == []
    assert [a.ip for a in ipam.allocations()] == [held.ip]
    assert [(r.kind, r.owner) for r in ipam.bad_records()] == [("owner", "shop/web/1")]


def test_an_unreadable_claim_of_another_owner_does_not_stop_an_allocation():
    kv, warned = MemoryKV(), []
    kv.create("/nap-compose/owners/junk", OwnerRecord("198.18.0.100", "x", 1.0).dump()[:-3])
    ipam = ipam_over(kv, warned)
    assert ipam.ensure("shop/web/1", "node1").ip.startswith("198.18.0.10")
    assert ipam.claims().keys() == {"shop/web/1"}
    assert warned[0].startswith("the store holds a malformed owner record at /nap-compose/owners/junk (its value is "
                                "not an owner record)")


def test_bad_records_are_network_check_findings_named_by_key():
    bad = BadRecords()
    kv = MemoryKV()
    kv.create(ADDRESSES + "junk", "x")
    kv.create(ADDRESSES + "198.18.0.102", "y")
    ipam = Ipam(kv, Pool.build("198.18.0.0/24", "198.18.0.1", ["198.18.0.100-198.18.0.103"]), "/nap-compose",
                FakeClock(), lambda: "id", bad)
    findings = bad_record_findings(ipam.bad_records())
    assert [(f.kind, f.address, f.host, f.container) for f in findings] == [
        ("malformed-record", "198.18.0.102", "store", None), ("malformed-record", None, "store", None)]
    assert ADDRESSES + "198.18.0.102" in findings[0].message and ADDRESSES + "junk" in findings[1].message


# --------------------------------------------------------------------------- through the CLI


def test_up_succeeds_beside_a_junk_key_and_warns_once_naming_it(tmp_path):
    cli = Cli(tmp_path)
    cli.kv.create(ADDRESSES + "junk", "hello")
    cli.kv.create("/nap-compose/evicted/junk", "hello")
    status, out, err = cli("up", "-d")
    assert status == 0, err
    assert err.count("/nap-compose/addresses/junk") == 1 and err.count("/nap-compose/evicted/junk") == 1
    assert "WARNING: the store holds a malformed address record at /nap-compose/addresses/junk" in err
    assert len(cli.world.all_containers()) == 2
    assert cli.kv.get(ADDRESSES + "junk")[0] == "hello"  # left for the operator to look at


def test_ipam_ls_lists_a_bad_record_by_key(tmp_path):
    cli = Cli(tmp_path)
    cli.kv.create(ADDRESSES + "198.18.0.120", "{oops")
    assert cli("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.121")[0] == 0
    status, out, err = cli("ipam", "ls")
    assert status == 0
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["198.18.0.121", "shop/web/1"]
    assert lines[2].split() == ["198.18.0.120", "/nap-compose/addresses/198.18.0.120", "-", "malformed", "-"]
    assert err.startswith("WARNING: the store holds a malformed address record at /nap-compose/addresses/198.18.0.120")
    status, out, _ = cli("ipam", "ls", "--format", "json")
    rows = json.loads(out)
    assert rows[-1]["key"] == "/nap-compose/addresses/198.18.0.120" and rows[-1]["state"] == "malformed"
    assert rows[-1]["address"] == "198.18.0.120"


def test_ipam_release_of_a_bad_records_address_is_refused_and_leaves_it(tmp_path):
    cli = Cli(tmp_path)
    cli.kv.create(ADDRESSES + "198.18.0.120", "{oops")
    status, out, err = cli("ipam", "release", "198.18.0.120")
    assert (status, out) == (5, "")
    assert err.endswith("ERROR: address 198.18.0.120 is held by a record nap-compose cannot read "
                        "(/nap-compose/addresses/198.18.0.120); check it and remove the key by hand\n")
    assert cli.kv.get(ADDRESSES + "198.18.0.120")[0] == "{oops"


def test_ipam_gc_keeps_the_address_of_an_owner_whose_claim_is_unreadable(tmp_path):
    from tests.unit.test_ipam_cli import FakeEngine, FakeWiring

    (tmp_path / "nap-cluster.yml").write_text(CLUSTER_OF_IPAM_CLI)
    kv = MemoryKV()
    wiring = FakeWiring(kv)
    old = {"owner": "shop/web/1", "host": "node1", "state": "bound", "since": 1.0, "alloc_id": "a1"}
    kv.create(ADDRESSES + "198.18.0.105", json.dumps(old))  # bound long ago: a stray if it had no claim
    kv.create("/nap-compose/owners/shop~web~1", "garbage")
    wiring.engines = {"node1": FakeEngine("node1", ["shop/web/1"]), "node2": FakeEngine("node2")}

    def run(*argv):
        from napcompose.cli import main

        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path), wiring=wiring)
        return status, out.getvalue(), err.getvalue()

    status, out, err = run("ipam", "gc", "--yes")
    assert (status, out) == (0, "no leaked addresses\n")
    assert "malformed owner record at /nap-compose/owners/shop~web~1" in err
    assert kv.get(ADDRESSES + "198.18.0.105") is not None
