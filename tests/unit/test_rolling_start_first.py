"""Rolling updates with order start-first: the new copy starts beside the old one at a new address."""

import threading
from dataclasses import replace

from napcompose.model import PortSpec, UpdateConfig
from napcompose.orchestrator import Command
from napcompose.planner import Options, RollingUpdate, render, stranded_owner
from tests import nap
from tests.unit.test_orchestrator import Rig
from tests.unit.test_rolling import alias_target, fail_health, shop, version

START_FIRST = UpdateConfig(order="start-first")


def rig_with(scale=2):
    rig = Rig()
    assert nap.up(rig.orc, shop(scale=scale)).failed == ()
    return rig


def owners(rig):
    return sorted((a.owner, a.ip) for a in rig.ipam.allocations())


def gc_finds(rig):
    """What ``ipam gc`` would release: the same live owners it derives from the observation."""
    observation = rig.orc.observe(None, everything=True)
    live = {h.host: set() for h in observation.hosts if h.reachable}
    for c in observation.containers:
        if c.replica is not None:
            live[c.host].update((c.replica.owner, stranded_owner(c.replica, c.generation)))
    return rig.ipam.gc(live, set(observation.down))


def with_ports(project, ports):
    web = replace(project.service("web"), ports=ports)
    return replace(project, services=tuple(web if s.name == "web" else s for s in project.services))


def test_the_plan_says_each_address_changes_old_to_new():
    rig = rig_with()
    old = rig.address("web", 1)
    the_plan, _ = rig.orc.plan(shop("2", START_FIRST, scale=2))
    [update] = [a for a in the_plan.actions if isinstance(a, RollingUpdate)]
    assert all(s.start_first for s in update.steps)
    lines = render(the_plan)
    assert any(line.startswith("web: rolling update of 2 replica(s) in 2 batch(es) of 1, start-first,")
               for line in lines)
    assert any(line.startswith(f"    batch 1: web_1 on node") and
               f"(address changes: {old} -> a new address from the pool)" in line and
               f"the old container is stopped and kept with {old} until every replica passed, then removed "
               f"and {old} released" in line for line in lines)
    assert "    then: the kept containers of web are removed once every replica passed" in lines


def test_an_update_moves_replicas_and_consumers_to_new_addresses_and_releases_the_old():
    rig = rig_with()
    before = {i: rig.address("web", i) for i in (1, 2)}
    ids = rig.ids()
    seen = {}
    for engine in rig.world.engines.values():
        original = engine.stop_container

        def stop(container_id, timeout=10, engine=engine, original=original):
            name = engine.containers[container_id].request.name
            seen[name] = (alias_target(rig), engine.containers[container_id].state)
            return original(container_id, timeout)

        engine.stop_container = stop
    assert nap.up(rig.orc, shop("2", START_FIRST, scale=2)).failed == ()
    after = {i: rig.address("web", i) for i in (1, 2)}
    assert sorted(rig.ids()) == ["gb_front_1", "gb_web_1", "gb_web_2"]
    for i in (1, 2):
        assert after[i] != before[i]
        assert version(rig, f"gb_web_{i}") == "2" and rig.ids()[f"gb_web_{i}"] != ids[f"gb_web_{i}"]
        assert rig.world.container(f"gb_web_{i}").request.ip == after[i]
        assert dict(rig.world.container(f"gb_web_{i}").request.labels).get("io.nap-compose.generation") == "2"
    # the old web_1 was still running when it was stopped, and the alias already named the new one
    assert seen["gb_web_1-previous"] == (after[1], "running")
    assert alias_target(rig) == after[1]
    assert before[1] not in {ip for _, ip in owners(rig)} and before[2] not in {ip for _, ip in owners(rig)}
    assert owners(rig) == sorted([("gb/front/1", rig.address("front", 1)), ("gb/web/1", after[1]),
                                  ("gb/web/2", after[2])])
    assert gc_finds(rig) == []


def test_a_fixed_host_port_forces_stop_first_and_the_plan_says_so():
    rig = Rig()
    ported = lambda v: with_ports(shop(v, START_FIRST, scale=1), (PortSpec(80, host_port=8080),))
    assert nap.up(rig.orc, ported("1")).failed == ()
    address = rig.address("web", 1)
    the_plan, _ = rig.orc.plan(ported("2"))
    [update] = [a for a in the_plan.actions if isinstance(a, RollingUpdate)]
    assert [s.start_first for s in update.steps] == [False]
    assert any("start-first impossible: the old container holds host port(s) 8080/tcp on node" in line
               and ", so stop-first:" in line for line in render(the_plan))
    assert nap.up(rig.orc, ported("2")).failed == ()
    assert rig.address("web", 1) == address and version(rig, "gb_web_1") == "2"


def _gate_fails(failure_action):
    rig = rig_with()
    before = {i: rig.address("web", i) for i in (1, 2)}
    ids, held = rig.ids(), owners(rig)
    fail_health(rig, "gb_web_1")
    report = nap.up(rig.orc, shop("2", UpdateConfig(order="start-first", failure_action=failure_action), scale=2))
    [failure] = [o for o in report.failed if not o.skipped]
    assert "web_1 failed its gate (healthcheck healthy)" in failure.error
    assert (f"the new container was removed and its address released, the old one still runs at {before[1]}"
            in failure.error)
    # nothing of the new copy is left: the old containers run at their old addresses
    assert rig.ids() == ids and owners(rig) == held
    assert rig.world.container("gb_web_1").state == "running" and version(rig, "gb_web_1") == "1"
    assert rig.world.container("gb_web_1").request.ip == before[1]
    assert alias_target(rig) == before[1]
    return failure


def test_a_failed_gate_with_pause_removes_the_new_copy_and_stops():
    failure = _gate_fails("pause")
    assert failure.error.startswith("update of web paused:") and "web_2 stay" in failure.error


def test_a_failed_gate_with_rollback_removes_the_new_copy_the_old_one_still_runs():
    failure = _gate_fails("rollback")
    assert failure.error.startswith("update of web failed and was rolled back:")


def test_a_crash_mid_update_converges_on_the_next_up():
    rig = rig_with(scale=1)
    old = rig.address("web", 1)
    host = rig.world.host_of("gb_web_1")
    engine = rig.world.engines[host]
    crashed = []

    def start(container_id, original=engine.start_container):
        result = original(container_id)
        if engine.containers[container_id].request.name == "gb_web_1" and not crashed:
            crashed.append(container_id)
            raise KeyboardInterrupt  # the run dies with both copies running
        return result

    engine.start_container = start
    try:
        nap.up(rig.orc, shop("2", START_FIRST, scale=1))
    except KeyboardInterrupt:
        pass
    assert crashed and sorted(rig.ids()) == ["gb_front_1", "gb_web_1", "gb_web_1-previous"]
    engine.start_container = engine.__class__.start_container.__get__(engine)
    assert nap.up(rig.orc, shop("2", START_FIRST, scale=1)).failed == ()
    assert sorted(rig.ids()) == ["gb_front_1", "gb_web_1"] and version(rig, "gb_web_1") == "2"
    new = rig.address("web", 1)
    assert new != old and rig.world.container("gb_web_1").request.ip == new
    assert owners(rig) == sorted([("gb/front/1", rig.address("front", 1)), ("gb/web/1", new)])
    assert alias_target(rig) == new
    assert gc_finds(rig) == []


def names_in(block):
    """{name: address} of a hosts block."""
    return {name: line.split()[0] for line in block.splitlines() if not line.startswith("#")
            for name in line.split()[1:]}


def test_a_replica_of_a_parallel_batch_is_named_at_its_new_copy_only_once_that_one_passed():
    rig = rig_with(scale=2)
    before = {i: rig.address("web", i) for i in (1, 2)}
    web1_replaced, web2_gating = threading.Event(), threading.Event()
    seen = []  # front_1's view of the names while web_2's new copy waits at its gate
    for engine in rig.world.engines.values():
        def removing(container_id, force=False, engine=engine, remove=engine.remove_container):
            name = engine.containers[container_id].request.name
            remove(container_id, force)
            if name == "gb_web_1-previous":
                web1_replaced.set()

        def judging(container_id, engine=engine, health=engine.health):
            request = engine.containers[container_id].request
            if request.name == "gb_web_1" and request.ip != before[1]:
                web2_gating.wait(10)  # web_1's new copy passes only while web_2's waits at its gate
            if request.name == "gb_web_2" and request.ip != before[2] and not seen:
                web2_gating.set()
                web1_replaced.wait(10)  # web_1 passed, moved its consumers and dropped its old copy
                seen.append(names_in(rig.block("gb_front_1")))
            return health(container_id)

        engine.remove_container, engine.health = removing, judging
    report = nap.up(rig.orc, shop("2", UpdateConfig(order="start-first", parallelism=2), scale=2))
    assert report.failed == () and web1_replaced.is_set() and web2_gating.is_set()
    after = {i: rig.address("web", i) for i in (1, 2)}
    [view] = seen
    assert view["web_1"] == after[1] != before[1]
    assert view["web_2"] == view["gb_web_2"] == before[2]  # still the old copy: the new one had not passed
    assert names_in(rig.block("gb_front_1"))["web_2"] == after[2] != before[2]


def _second_replica_fails(failure_action):
    """scale 3, start-first: web_1 passes, web_2's new copy fails its gate."""
    rig = rig_with(scale=3)
    before = {i: (rig.address("web", i), rig.ids()[f"gb_web_{i}"]) for i in (1, 2, 3)}
    fail_health(rig, "gb_web_2")
    report = nap.up(rig.orc, shop("2", UpdateConfig(order="start-first", failure_action=failure_action), scale=3))
    [failure] = [o for o in report.failed if not o.skipped]
    return rig, before, failure


def now(rig):
    return {i: (rig.address("web", i), rig.ids()[f"gb_web_{i}"]) for i in (1, 2, 3)}


def test_a_replica_that_passed_start_first_keeps_its_old_copy_stopped_with_its_address_until_the_end():
    rig, before, failure = _second_replica_fails("pause")
    assert failure.error.startswith("update of web paused: ") and "web_2 failed its gate" in failure.error
    assert failure.error.endswith("; web_3 stay on the old version; `nap-compose rollback web` returns the "
                                  "updated replicas to their kept containers"), failure.error
    assert (version(rig, "gb_web_1"), version(rig, "gb_web_2"), version(rig, "gb_web_3")) == ("2", "1", "1")
    kept = rig.world.container("gb_web_1-previous")
    assert (kept.id, kept.state, kept.request.ip) == (before[1][1], "exited", before[1][0])
    assert ("gb/web/1@gen1", before[1][0]) in owners(rig) and rig.address("web", 1) != before[1][0]
    assert gc_finds(rig) == []  # the kept copy's address is not a leak
    # by hand: web_1 comes back to its old container and address, the new address is released
    new_address = rig.address("web", 1)
    the_plan, _ = rig.orc.plan(shop("1", START_FIRST, scale=3), Options(services=("web",)), Command.ROLLBACK)
    assert any(f"web_1 on {rig.world.host_of('gb_web_1')} (address changes: {new_address} -> {before[1][0]}): "
               "start gb_web_1-previous beside gb_web_1; once it passed the gate, links move back to "
               f"{before[1][0]}, gb_web_1 is removed and {new_address} released" in line
               for line in render(the_plan)), render(the_plan)
    assert nap.rollback(rig.orc, shop("1", START_FIRST, scale=3), ("web",)).failed == ()
    assert now(rig) == before and version(rig, "gb_web_1") == "1"
    assert not [n for n in rig.ids() if n.endswith("-previous")]
    assert new_address not in {ip for _, ip in owners(rig)} and all("@gen" not in o for o, _ in owners(rig))
    assert alias_target(rig) == before[1][0]
    assert gc_finds(rig) == []


def test_failure_action_rollback_returns_replicas_that_passed_start_first_to_their_old_copies():
    rig, before, failure = _second_replica_fails("rollback")
    assert failure.error.startswith("update of web failed and was rolled back: ")
    assert now(rig) == before
    assert {version(rig, f"gb_web_{i}") for i in (1, 2, 3)} == {"1"}
    assert not [n for n in rig.ids() if n.endswith("-previous")]
    assert sorted(o for o, _ in owners(rig)) == ["gb/front/1", "gb/web/1", "gb/web/2", "gb/web/3"]
    assert alias_target(rig) == before[1][0]
    assert rig.orc.hosts_check(shop("1", START_FIRST, scale=3)) == []
    assert gc_finds(rig) == []


def test_a_kept_start_first_copy_pruned_gives_its_address_back_to_the_pool():
    rig, before, _ = _second_replica_fails("pause")
    assert nap.up(rig.orc, shop("1", START_FIRST, scale=3), ("web",), prune_previous=True).failed == ()
    assert "gb_web_1-previous" not in rig.ids()
    assert before[1][0] not in {ip for _, ip in owners(rig)} and all("@gen" not in o for o, _ in owners(rig))
    assert gc_finds(rig) == []


def test_a_later_update_replaces_a_kept_start_first_copy_and_releases_its_address():
    rig, before, _ = _second_replica_fails("pause")
    assert "gb_web_1-previous" in rig.ids()
    # the next update passes everywhere: web_1's earlier kept copy goes, with the address it held
    for engine in rig.world.engines.values():
        engine.health_script.clear()
    assert nap.up(rig.orc, shop("3", START_FIRST, scale=3)).failed == ()
    assert {version(rig, f"gb_web_{i}") for i in (1, 2, 3)} == {"3"}
    assert not [n for n in rig.ids() if n.endswith("-previous")]
    assert all("@gen" not in o for o, _ in owners(rig)) and before[1][0] not in {ip for _, ip in owners(rig)}
    assert gc_finds(rig) == []


def test_down_removes_a_kept_start_first_copy_and_releases_both_addresses():
    rig, _, _ = _second_replica_fails("pause")
    assert nap.down(rig.orc, shop("2", START_FIRST, scale=3)).failed == ()
    assert rig.world.all_containers() == [] and owners(rig) == []


def test_the_next_up_after_a_crash_keeps_the_new_copys_address_bound():
    # The run dies after the new copy passed and consumers moved to it, before the old copy stopped:
    # the next up removes the superseded old copy on the same host, which must leave the replica's own
    # record (bound to the new copy) as it is, not unbind it as if the replica's container had gone.
    rig = rig_with(scale=1)
    host = rig.world.host_of("gb_web_1")
    engine = rig.world.engines[host]
    crashed = []

    def stop(container_id, timeout=10, original=engine.stop_container):
        if engine.containers[container_id].request.name == "gb_web_1-previous" and not crashed:
            crashed.append(container_id)
            raise KeyboardInterrupt  # the run dies as it is about to stop the old copy
        return original(container_id, timeout)

    engine.stop_container = stop
    try:
        nap.up(rig.orc, shop("2", START_FIRST, scale=1))
    except KeyboardInterrupt:
        pass
    engine.stop_container = engine.__class__.stop_container.__get__(engine)
    assert crashed and sorted(rig.ids()) == ["gb_front_1", "gb_web_1", "gb_web_1-previous"]
    new = rig.address("web", 1)
    assert nap.up(rig.orc, shop("2", START_FIRST, scale=1)).failed == ()
    assert sorted(rig.ids()) == ["gb_front_1", "gb_web_1"] and version(rig, "gb_web_1") == "2"
    [record] = [a for a in rig.ipam.allocations() if a.owner == "gb/web/1"]
    assert (record.ip, record.host, record.state) == (new, host, "bound")
    assert owners(rig) == sorted([("gb/front/1", rig.address("front", 1)), ("gb/web/1", new)])
    assert gc_finds(rig) == []


def test_an_up_after_a_start_first_pause_keeps_the_kept_copy_and_its_address():
    rig, before, _ = _second_replica_fails("pause")
    for engine in rig.world.engines.values():
        engine.health_script.clear()
    assert nap.up(rig.orc, shop("2", START_FIRST, scale=3)).failed == ()  # the update goes on, and passes
    # web_1 was not touched again: its kept copy stays with its old address, for a rollback
    assert rig.world.container("gb_web_1-previous").id == before[1][1]
    assert ("gb/web/1@gen1", before[1][0]) in owners(rig)
    assert not [n for n in rig.ids() if n.endswith("-previous") and n != "gb_web_1-previous"]
    assert gc_finds(rig) == []
    assert rig.orc.hosts_sync(shop("2", START_FIRST, scale=3)).failed == ()
    assert ("gb/web/1@gen1", before[1][0]) in owners(rig)
