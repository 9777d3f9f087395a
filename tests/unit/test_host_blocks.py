"""Host blocks: the cluster file's block settings, where blocks may go, and their reservation in the store."""


import pytest

from napcompose.cluster import parse_cluster
from napcompose.errors import ConfigError, IpamError
from napcompose.ipam.blocks import candidates
from napcompose.ipam.hostblocks import HostBlocks
from napcompose.ipam.records import BadRecords
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV

SOURCE = "/etc/nap/nap-cluster.yml"


def cluster_text(network_extra="", hosts=("node1", "node2", "node3"), pools='["198.18.0.160-198.18.0.253"]'):
    lines = [f"network: {{name: nap, subnet: 198.18.0.0/24, router: 198.18.0.1, pools: {pools}{network_extra}}}",
             "hosts:"]
    for i, name in enumerate(hosts, start=1):
        lines.append(f"  - {{name: {name}, address: 198.18.0.{10 + i}}}")
    return "\n".join(lines) + "\n"


def cluster(*args, **kwargs):
    return parse_cluster(cluster_text(*args, **kwargs), SOURCE)


LAB = ", host_blocks: [198.18.0.32-198.18.0.159], reserved: [198.18.0.254]"


# --------------------------------------------------------------------------- the cluster file


def test_host_block_defaults_to_a_28_and_takes_a_prefix_length_with_or_without_a_slash():
    assert cluster().network.host_block == 28
    assert cluster(", host_block: 27").network.host_block == 27
    assert cluster(', host_block: "/26"').network.host_block == 26
    assert cluster(LAB).network.host_blocks == ("198.18.0.32-198.18.0.159",)


@pytest.mark.parametrize("extra,message", [
    (", host_block: 24", "network.host_block: must be a prefix length from 25 to 32 (e.g. 28: blocks of 16 "
                         "addresses), not 24"),
    (", host_block: big", "network.host_block: must be a prefix length from 25 to 32 (e.g. 28: blocks of 16 "
                          "addresses), not 'big'"),
    (", host_blocks: 198.18.0.0/25", "network.host_blocks: must be a list of ranges 'first-last' or CIDRs"),
    (", host_blocks: [198.18.1.0/28]", "network.host_blocks[0]: '198.18.1.0/28' is not inside the subnet "
                                       "198.18.0.0/24"),
    (", host_blocks: [198.18.0.128/26]", "network.host_blocks[0]: '198.18.0.128/26' overlaps network.pools[0] "
                                         "'198.18.0.160-198.18.0.253' at 198.18.0.160-198.18.0.191"),
    (", host_blocks: [198.18.0.0/28]", "network.host_blocks[0]: '198.18.0.0/28' overlaps network.router "
                                       "198.18.0.1 at 198.18.0.1"),
    (", host_blocks: [198.18.0.32/27, 198.18.0.8-198.18.0.12]",
     "network.host_blocks[1]: '198.18.0.8-198.18.0.12' overlaps hosts[0] (node1) address 198.18.0.11 at 198.18.0.11"),
    (", host_blocks: [198.18.0.32/27], reserved: [198.18.0.40]",
     "network.host_blocks[0]: '198.18.0.32/27' overlaps network.reserved[0] 198.18.0.40 at 198.18.0.40"),
    (", host_blocks: [198.18.0.32/27, 198.18.0.48/28]",
     "network.host_blocks[1]: '198.18.0.48/28' overlaps network.host_blocks[0] '198.18.0.32/27' at "
     "198.18.0.48-198.18.0.63"),
])
def test_bad_block_settings_name_the_file_the_key_and_both_ranges(extra, message):
    with pytest.raises(ConfigError) as err:
        cluster(extra)
    assert str(err.value) == f"{SOURCE}: {message}"


def test_blocks_come_from_the_subnet_s_free_space_when_no_area_is_named():
    # router .1 and hosts .11-.13 rule out .0/28, the pool .160-.253 and the broadcast rule out .160 up
    assert candidates(cluster().network, cluster().hosts) == [f"198.18.0.{16 * i}/28" for i in range(1, 10)]
    lab = cluster(LAB)
    assert candidates(lab.network, lab.hosts) == [f"198.18.0.{16 * i}/28" for i in range(2, 10)]
    small = cluster(LAB + ", host_block: 29")
    assert len(candidates(small.network, small.hosts)) == 16


# --------------------------------------------------------------------------- reservation in the store


def blocks_of(kv):
    return HostBlocks(kv, "/nap-compose", FakeClock())


def test_each_host_gets_the_next_free_block_in_cluster_file_order_and_a_rerun_writes_nothing():
    kv = MemoryKV()
    got = blocks_of(kv).ensure(cluster(LAB))
    assert {h: b.cidr for h, b in got.items()} == {
        "node1": "198.18.0.32/28", "node2": "198.18.0.48/28", "node3": "198.18.0.64/28"}
    assert kv.keys() == ["/nap-compose/host-blocks/198.18.0.32", "/nap-compose/host-blocks/198.18.0.48",
                         "/nap-compose/host-blocks/198.18.0.64"]
    creates = kv.calls["create"]
    again = blocks_of(kv).ensure(cluster(LAB))
    assert again == got and kv.calls["create"] == creates


def test_a_new_host_gets_a_new_block_and_a_removed_host_keeps_its_block_until_released():
    kv = MemoryKV()
    blocks_of(kv).ensure(cluster(LAB))
    # node2 leaves the cluster file, node4 joins: node4 must not get node2's block while it is held
    got = blocks_of(kv).ensure(cluster(LAB, hosts=("node1", "node3", "node4")))
    assert got["node4"].cidr == "198.18.0.80/28"
    assert [(b.host, b.cidr) for b in blocks_of(kv).list()] == [
        ("node1", "198.18.0.32/28"), ("node2", "198.18.0.48/28"), ("node3", "198.18.0.64/28"),
        ("node4", "198.18.0.80/28")]
    released = blocks_of(kv).release("node2")
    assert released.cidr == "198.18.0.48/28"
    assert "/nap-compose/host-blocks/198.18.0.48" not in kv.keys()
    assert blocks_of(kv).release("node2") is None


def test_no_room_for_every_block_writes_nothing():
    kv = MemoryKV()
    hosts = tuple(f"node{i}" for i in range(1, 10))
    with pytest.raises(IpamError) as err:
        blocks_of(kv).ensure(cluster(LAB, hosts=hosts))
    assert str(err.value) == (
        "no room for the blocks of host(s) node1, node2, node3, node4, node5, node6, node7, node8, node9: "
        "network.host_blocks[0] '198.18.0.32-198.18.0.159' has 8 free /28 block(s) beside the router, hosts, "
        "pools, reserved addresses and 0 block(s) already held; set a smaller network.host_block or give "
        "network.host_blocks more room")
    assert kv.keys() == []


def test_a_cluster_file_that_now_overlaps_a_held_block_is_refused_before_anything_is_written():
    kv = MemoryKV()
    blocks_of(kv).ensure(cluster(LAB))
    before = kv.keys()
    moved = cluster(", reserved: [198.18.0.254]", hosts=("node1", "node2", "node3", "node4"),
                    pools='["198.18.0.40-198.18.0.253"]')
    with pytest.raises(ConfigError) as err:
        blocks_of(kv).ensure(moved)
    assert str(err.value) == (
        f"{SOURCE}: network.pools[0] '198.18.0.40-198.18.0.253' (at 198.18.0.40-198.18.0.47) is inside the block "
        "198.18.0.32/28 that host node1 holds in the store; change the cluster file, or remove network nap on "
        "node1 and release its block first (`nap-compose network rm --host node1`)")
    assert kv.keys() == before


def test_a_block_taken_by_a_concurrent_run_is_skipped():
    kv = MemoryKV()
    c = cluster(LAB)
    kv.create("/nap-compose/host-blocks/198.18.0.32",
              '{"block": "198.18.0.32/28", "host": "node9", "since": 1}')
    got = blocks_of(kv).ensure(c)
    assert [got[h].cidr for h in ("node1", "node2", "node3")] == ["198.18.0.48/28", "198.18.0.64/28",
                                                                  "198.18.0.80/28"]


def test_a_host_given_two_blocks_by_two_runs_keeps_the_one_written_first():
    kv = MemoryKV()
    c = cluster(LAB)
    held = blocks_of(kv)
    # Another run, which saw a different store, gave node1 the block at .144 first.
    kv.create("/nap-compose/host-blocks/198.18.0.144",
              '{"block": "198.18.0.144/28", "host": "node1", "since": 1}')
    held._reserve(c, ["node1"])  # this run had decided node1 has none yet
    assert [(b.host, b.cidr) for b in held.list()] == [("node1", "198.18.0.144/28")]
    assert held.ensure(c)["node1"].cidr == "198.18.0.144/28"


def test_an_unreadable_block_record_is_skipped_reported_by_key_and_its_block_given_to_no_host():
    kv = MemoryKV()
    kv.create("/nap-compose/host-blocks/198.18.0.32", "{oops")  # the first candidate block
    kv.create("/nap-compose/host-blocks/junk", '{"host": "node9", "block": "198.18.0.48/28", "since": 1}')
    warned = []
    held = HostBlocks(kv, "/nap-compose", FakeClock(), BadRecords(warned.append))
    assert held.list() == []
    got = held.ensure(cluster(LAB))
    assert {h: b.cidr for h, b in got.items()} == {"node1": "198.18.0.48/28", "node2": "198.18.0.64/28",
                                                   "node3": "198.18.0.80/28"}
    assert warned == [
        "the store holds a malformed host block record at /nap-compose/host-blocks/198.18.0.32 (its value is not a "
        "host block record): '{oops'; skipped; the block at 198.18.0.32 is not given to a host while it stays "
        "(check it and remove the key by hand)",
        "the store holds a malformed host block record at /nap-compose/host-blocks/junk (its key names no "
        "address): '{\"host\": \"node9\", \"block\": \"198.18.0.48/28\", \"since\": 1}'; skipped (check it and "
        "remove the key by hand)"]
    assert kv.get("/nap-compose/host-blocks/198.18.0.32")[0] == "{oops"  # never removed nor rewritten
    assert kv.get("/nap-compose/host-blocks/junk") is not None


def test_host_blocks_do_not_disturb_the_free_space_hints_of_the_pool():
    # the pool's hints live at <prefix>/blocks/<n>; host blocks under their own prefix
    kv = MemoryKV()
    blocks_of(kv).ensure(cluster(LAB))
    assert not [k for k in kv.keys() if k.startswith("/nap-compose/blocks/")]
