"""A lost host's replicas move with new addresses, the old ones stay stranded until the host answers
again; an evicted host's replicas move with their addresses. In-memory engines (one flat network that
refuses a second holder of an address), the real Ipam on a memory store."""

from collections import Counter

from napcompose.cli.ps_view import ps_rows
from napcompose.ipam.evictions import Evictions
from napcompose.model import NetworkAttachment, Project, ServiceSpec
from napcompose.orchestrator import Orchestrator
from napcompose.planner import render
from napcompose.ports import ListReporter
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook

LABEL = "io.nap-compose.generation"


def where(rig):
    """name -> [(host, ip, generation)] of every container, stale copies included."""
    found = {}
    for host, engine in rig.world.engines.items():
        for c in engine.containers.values():
            found.setdefault(c.request.name, []).append((host, c.request.ip, int(dict(c.request.labels)[LABEL])))
    return {name: sorted(copies) for name, copies in found.items()}


def no_duplicate_addresses(rig):
    counts = Counter(c.request.ip for c in rig.world.all_containers())
    return all(n == 1 for n in counts.values())


def owners(rig):
    return {a.owner: (a.ip, a.host, a.state) for a in rig.ipam.allocations()}


def lose_node1():
    """guestbook on three hosts: db_1 and web_1 on node1, web_2 and front_1 on node2, lone_1 on node3."""
    rig = Rig()
    assert nap.up(rig.orc, guestbook()).failed == ()
    before = {name: rig.world.container(name).request.ip for name in rig.ids()}
    rig.world.engines["node1"].unreachable = "no route to host"
    return rig, before


def test_up_moves_a_lost_hosts_replicas_to_live_hosts_with_new_addresses():
    rig, before = lose_node1()
    plan = nap.preview(rig.orc, guestbook())
    lines = render(plan)
    assert (f"host node1 unreachable: moving db_1 to node3 with a new address ({before['gb_db_1']} stays "
            "reserved there)") in lines
    assert (f"host node1 unreachable: moving web_1 to node2 with a new address ({before['gb_web_1']} stays "
            "reserved there)") in lines

    report = nap.up(rig.orc, guestbook())
    assert [(o.subject, o.action) for o in report.failed] == [("node1", "Observing")]
    copies = where(rig)
    new_db, new_web = rig.address("db", 1), rig.address("web", 1)
    assert copies["gb_db_1"] == [("node1", before["gb_db_1"], 1), ("node3", new_db, 2)]
    assert copies["gb_web_1"] == [("node1", before["gb_web_1"], 1), ("node2", new_web, 2)]
    assert new_db not in before.values() and new_web not in before.values()
    held = owners(rig)
    assert held["gb/db/1@gen1"] == (before["gb_db_1"], "node1", "stranded")
    assert held["gb/web/1@gen1"] == (before["gb_web_1"], "node1", "stranded")
    assert held["gb/db/1"] == (new_db, "node3", "bound")
    assert no_duplicate_addresses(rig)
    # consumers that stayed follow the move: web_2 reaches db, front_1 reaches web_1, at the new addresses
    assert f"{new_db} db_1 gb_db_1 database db" in rig.block("gb_web_2")
    assert f"{new_web} web_1 gb_web_1 app web" in rig.block("gb_front_1")
    # and no line Docker wrote from their extra_hosts still names the old addresses first
    assert before["gb_db_1"] not in rig.world.container("gb_web_2").view_hosts()
    assert before["gb_web_1"] not in rig.world.container("gb_front_1").view_hosts()
    # the copies of the same replica on two hosts get different container ids; creating reused no name there
    assert rig.world.container("gb_db_1") is not None


def test_ps_shows_the_copies_left_behind_as_stranded_then_superseded():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rows = {(r.name, r.host): r for r in ps_rows(rig.orc.ps("gb"), (), False)}
    assert rows[("gb_db_1", "node1")].state == "stranded (cannot connect to the Docker engine: no route to host)"
    assert rows[("gb_db_1", "node1")].ip == before["gb_db_1"]
    assert (rows[("gb_db_1", "node3")].state, rows[("gb_db_1", "node3")].generation) == ("running", 2)
    rig.world.engines["node1"].unreachable = None
    rows = {(r.name, r.host): r for r in ps_rows(rig.orc.ps("gb"), (), False)}
    assert rows[("gb_db_1", "node1")].state == "superseded (running)"
    assert rows[("gb_web_1", "node1")].state == "superseded (running)"
    assert rows[("gb_web_2", "node2")].state == "running"


def test_when_the_host_answers_again_up_removes_the_old_copies_first_then_releases_their_addresses():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rig.world.engines["node1"].unreachable = None
    plan = render(nap.preview(rig.orc, guestbook()))
    assert plan[:4] == [
        f"db_1 on node1 ({before['gb_db_1']}): remove (superseded: copy 1, the current copy is 2)",
        f"web_1 on node1 ({before['gb_web_1']}): remove (superseded: copy 1, the current copy is 2)",
        f"db_1 on node1 ({before['gb_db_1']}): release the stranded address of gb/db/1@gen1 (node1 answers "
        "again: its copy there is removed first)",
        f"web_1 on node1 ({before['gb_web_1']}): release the stranded address of gb/web/1@gen1 (node1 answers "
        "again: its copy there is removed first)"]
    report = nap.up(rig.orc, guestbook())
    assert report.failed == ()
    assert sorted(owners(rig)) == ["gb/db/1", "gb/front/1", "gb/lone/1", "gb/web/1", "gb/web/2"]
    assert {name: len(c) for name, c in where(rig).items()} == {n: 1 for n in before}
    assert rig.world.engines["node1"].containers == {}
    assert no_duplicate_addresses(rig)
    # a run after that has nothing left to do
    assert nap.up(rig.orc, guestbook()).failed == ()
    assert not [a for a in nap.preview(rig.orc, guestbook()).actions if a.kind in ("create", "remove", "release")]


def test_a_failed_removal_of_an_old_copy_keeps_its_address():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rig.world.engines["node1"].unreachable = None
    rig.world.engines["node1"].fail("remove", "gb_db_1")
    report = nap.up(rig.orc, guestbook())
    assert [(o.subject, o.action, o.error) for o in report.failed] == [
        ("db_1", "Removing", "node1: remove gb_db_1: injected failure"),
        ("db_1", "Releasing", "dependency db_1@node1 failed")]
    assert owners(rig)["gb/db/1@gen1"] == (before["gb_db_1"], "node1", "stranded")
    assert "gb/web/1@gen1" not in owners(rig)
    assert no_duplicate_addresses(rig)


def test_hosts_sync_also_removes_the_old_copies_of_a_host_that_answers_again():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rig.world.engines["node1"].unreachable = None
    report = rig.orc.hosts_sync(guestbook())
    assert report.failed == ()
    assert rig.world.engines["node1"].containers == {}
    assert "gb/db/1@gen1" not in owners(rig) and "gb/web/1@gen1" not in owners(rig)


def test_a_replica_moved_twice_gets_a_higher_generation_each_time():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rig.world.engines["node3"].unreachable = "down too"  # db_1's new home
    assert nap.up(rig.orc, guestbook()).failed != ()
    copies = where(rig)["gb_db_1"]
    assert [(h, g) for h, _, g in copies] == [("node1", 1), ("node2", 3), ("node3", 2)]
    assert owners(rig)["gb/db/1@gen2"][1:] == ("node3", "stranded")
    for engine in rig.world.engines.values():
        engine.unreachable = None
    assert nap.up(rig.orc, guestbook()).failed == ()
    assert [(h, g) for h, _, g in where(rig)["gb_db_1"]] == [("node2", 3)]
    assert not [o for o in owners(rig) if "@gen" in o]
    assert no_duplicate_addresses(rig)


def test_scale_moves_only_the_named_services():
    rig, before = lose_node1()
    nap.scale(rig.orc, guestbook(), {"web": 2})
    copies = where(rig)
    assert [(h, g) for h, _, g in copies["gb_web_1"]] == [("node1", 1), ("node3", 2)]
    assert copies["gb_db_1"] == [("node1", before["gb_db_1"], 1)]
    assert owners(rig)["gb/db/1"] == (before["gb_db_1"], "node1", "bound")


def test_a_replica_with_a_fixed_address_is_not_moved_off_a_lost_host():
    rig = Rig()
    pinned = ServiceSpec(name="dns", image="busybox", networks=(NetworkAttachment("default", "198.18.0.120"),))
    project = Project(name="gb", services=(pinned,))
    assert nap.up(rig.orc, project).failed == ()
    host = rig.world.host_of("gb_dns_1")
    rig.world.engines[host].unreachable = "gone"
    lines = render(nap.preview(rig.orc, project))
    assert (f"host {host} unreachable: dns_1 keeps its fixed address 198.18.0.120 there and is not moved "
            f"(`nap-compose host evict {host}` lets it move with its address)") in lines
    nap.up(rig.orc, project)
    assert [c.request.name for c in rig.world.all_containers()] == ["gb_dns_1"]


def evicted_rig(rig):
    evictions = Evictions(rig.store, "/nap-compose", rig.clock)
    orc = Orchestrator(rig.cluster, rig.world.engines, rig.world.files, rig.ipam, ListReporter(), rig.clock,
                       images=rig.world.images, evictions=evictions)
    return evictions, orc


def test_an_evicted_hosts_replicas_move_with_their_addresses():
    rig, before = lose_node1()
    evictions, orc = evicted_rig(rig)
    evictions.evict("node1", "tester")
    # the host really is gone: nothing of it holds an address any more
    for cid in list(rig.world.engines["node1"].containers):
        rig.world.network.detach(cid)
    rig.world.engines["node1"].containers.clear()
    lines = render(nap.preview(orc, guestbook()))
    assert f"host node1 is evicted: moving db_1 to node3 with its address {before['gb_db_1']}" in lines
    report = nap.up(orc, guestbook())
    assert [(o.subject, o.action) for o in report.failed] == [("node1", "Observing")]
    assert rig.world.host_of("gb_db_1") == "node3"
    assert {name: rig.world.container(name).request.ip for name in before} == before
    assert owners(rig)["gb/db/1"] == (before["gb_db_1"], "node3", "bound")
    assert not [o for o in owners(rig) if "@gen" in o]


def test_an_evicted_host_that_answers_again_loses_its_containers_before_anything_moves():
    rig, before = lose_node1()
    evictions, orc = evicted_rig(rig)
    evictions.evict("node1", "tester")
    rig.world.engines["node1"].unreachable = None  # it was only cut off, and comes back with its copies
    plan = nap.preview(orc, guestbook())
    lines = render(plan)
    assert lines[2:4] == [f"db_1 on node1 ({before['gb_db_1']}): remove (host node1 is evicted)",
                          f"web_1 on node1 ({before['gb_web_1']}): remove (host node1 is evicted)"]
    report = nap.up(orc, guestbook())
    assert report.failed == ()
    assert rig.world.engines["node1"].containers == {}
    assert {name: rig.world.container(name).request.ip for name in before} == before
    assert no_duplicate_addresses(rig)
    # nothing is placed on it any more
    assert nap.up(orc, guestbook(web_scale=4)).failed == ()
    assert "node1" not in {rig.world.host_of(n) for n in rig.ids()}


def test_evicting_a_host_after_its_replicas_moved_releases_the_addresses_kept_there():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    evictions, orc = evicted_rig(rig)
    evictions.evict("node1", "tester")
    report = nap.up(orc, guestbook())
    assert [(o.subject, o.action) for o in report.failed] == [("node1", "Observing")]
    assert not [o for o in owners(rig) if "@gen" in o]


def test_a_readmitted_host_is_used_again_and_its_old_copies_go():
    rig, before = lose_node1()
    evictions, orc = evicted_rig(rig)
    evictions.evict("node1", "tester")
    for cid in list(rig.world.engines["node1"].containers):
        rig.world.network.detach(cid)  # gone from the network, though its disk still holds them
    for c in rig.world.engines["node1"].containers.values():
        c.state = "exited"
    assert nap.up(orc, guestbook()).failed[0].subject == "node1"
    assert evictions.readmit("node1") and not evictions.readmit("node1")
    rig.world.engines["node1"].unreachable = None
    rows = {(r.name, r.host): r.state for r in ps_rows(orc.ps("gb"), (), False)}
    assert rows[("gb_db_1", "node1")] == "superseded (exited)"
    assert nap.up(orc, guestbook(web_scale=4)).failed == ()
    assert all(c.request.replica.index > 1 or c.request.replica.service not in ("db", "web")
               for c in rig.world.engines["node1"].containers.values())
    assert no_duplicate_addresses(rig)


def test_the_address_record_knows_the_generation_of_a_copy_on_a_host_lost_later():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rig.world.engines["node1"].unreachable = None
    assert nap.up(rig.orc, guestbook()).failed == ()  # the old copies are gone, and so are their stranded addresses
    assert rig.ipam.lookup("gb/db/1").generation == 2
    rig.world.engines["node3"].unreachable = "lost as well"  # db_1's copy 2 lives there
    nap.up(rig.orc, guestbook())
    assert [(h, g) for h, _, g in where(rig)["gb_db_1"]] == [("node1", 3), ("node3", 2)]
    rig.world.engines["node3"].unreachable = None
    rows = {(r.name, r.host): r.state for r in ps_rows(rig.orc.ps("gb"), (), False)}
    assert rows[("gb_db_1", "node3")] == "superseded (running)"
    assert nap.up(rig.orc, guestbook()).failed == ()
    assert [(h, g) for h, _, g in where(rig)["gb_db_1"]] == [("node1", 3)]
    assert no_duplicate_addresses(rig)


def test_an_evicted_hosts_address_of_a_replica_no_longer_wanted_goes_only_after_its_copy():
    rig, before = lose_node1()
    evictions, orc = evicted_rig(rig)
    evictions.evict("node1", "tester")
    rig.world.engines["node1"].unreachable = None
    rig.world.engines["node1"].fail("remove", "gb_web_1")
    report = nap.up(orc, guestbook(web_scale=0))
    failed = [(o.subject, o.action, o.error) for o in report.failed]
    assert ("web_1", "Releasing", "dependency web_1@node1 failed") in failed
    assert owners(rig)["gb/web/1"][0] == before["gb_web_1"]
    assert no_duplicate_addresses(rig)


def test_down_keeps_a_stranded_address_while_its_host_is_lost_and_releases_it_once_the_copy_is_gone():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    nap.down(rig.orc, guestbook())
    assert sorted(owners(rig)) == ["gb/db/1@gen1", "gb/web/1@gen1"]
    assert sorted(c.request.name for c in rig.world.all_containers()) == ["gb_db_1", "gb_web_1"]
    rig.world.engines["node1"].unreachable = None
    assert nap.down(rig.orc, guestbook()).failed == ()
    assert owners(rig) == {} and rig.world.all_containers() == []


def test_hosts_check_finds_a_line_that_still_gives_a_moved_peer_its_old_address():
    rig, before = lose_node1()
    nap.up(rig.orc, guestbook())
    rig.world.engines["node1"].unreachable = None
    nap.up(rig.orc, guestbook())
    assert rig.orc.hosts_check(guestbook()) == []
    consumer = rig.world.container("gb_web_2")
    consumer.inode.data[:] = f"{before['gb_db_1']}\tdb\n".encode() + bytes(consumer.inode.data)
    [drift] = rig.orc.hosts_check(guestbook())
    assert (drift.replica.label, drift.actual == drift.expected) == ("web_2", True)
    assert rig.orc.hosts_sync(guestbook()).failed == ()
    assert before["gb_db_1"] not in consumer.view_hosts() and rig.orc.hosts_check(guestbook()) == []
