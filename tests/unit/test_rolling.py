"""Rolling updates over the in-memory engines: batches, the gate, links that follow, pause, rollback."""

from dataclasses import replace

import pytest

from napcompose.errors import ConfigError, UsageError
from napcompose.model import Healthcheck, Link, Project, ServiceSpec, UpdateConfig
from napcompose.planner import Command, Options, Recreate, RollingUpdate, render
from tests import nap
from tests.unit.test_orchestrator import Rig

HC = Healthcheck(test=("CMD", "true"), interval_s=1.0)


def shop(version="1", update=UpdateConfig(), healthcheck=HC, scale=3):
    web = ServiceSpec(name="web", image="busybox", scale=scale, environment=(("V", version),),
                      healthcheck=healthcheck, update=update)
    front = ServiceSpec(name="front", image="busybox", links=(Link("web", "app"),))
    return Project(name="gb", services=(front, web))


@pytest.fixture
def rig():
    made = Rig()
    nap.up(made.orc, shop())
    return made


def alias_target(rig):
    """The address front_1's hosts block gives the link alias ``app``."""
    for line in rig.block("gb_front_1").splitlines():
        if " app " in f" {line} ":
            return line.split()[0]
    return None


def version(rig, name):
    return dict(rig.world.container(name).request.spec.environment)["V"]


def rollings(the_plan):
    return [a for a in the_plan.actions if isinstance(a, RollingUpdate)]


def test_the_plan_shows_one_rolling_update_in_batches_of_parallelism(rig):
    the_plan, _ = rig.orc.plan(shop("2"))
    [update] = rollings(the_plan)
    assert [[s.replica.label for s in b] for b in update.batches] == [["web_1"], ["web_2"], ["web_3"]]
    assert not [a for a in the_plan.actions if isinstance(a, Recreate)]
    lines = render(the_plan)
    assert ("web: rolling update of 3 replica(s) in 3 batch(es) of 1, stop-first, gate: healthcheck healthy, "
            "on failure: pause (configuration changed)") in lines
    assert any(line.startswith("    batch 2: web_2 on node") and f"({rig.address('web', 2)})" in line
               and "kept as gb_web_2-previous" in line for line in lines)
    pairs, _ = rig.orc.plan(shop("2", UpdateConfig(parallelism=2)))
    assert [len(b) for b in rollings(pairs)[0].batches] == [2, 1]


def test_parallelism_0_and_no_rolling_recreate_all_at_once(rig):
    for project, options in ((shop("2", UpdateConfig(parallelism=0)), Options()),
                             (shop("2"), Options(rolling=False))):
        the_plan, _ = rig.orc.plan(project, options)
        assert not rollings(the_plan)
        assert sorted(a.replica.label for a in the_plan.actions if isinstance(a, Recreate)) == \
            ["web_1", "web_2", "web_3"]


def test_an_update_replaces_every_replica_at_its_address_and_removes_the_kept_ones(rig):
    addresses = {i: rig.address("web", i) for i in (1, 2, 3)}
    before = rig.ids()
    report = nap.up(rig.orc, shop("2"))
    assert report.failed == ()
    after = rig.ids()
    assert sorted(after) == ["gb_front_1", "gb_web_1", "gb_web_2", "gb_web_3"]  # nothing kept
    for i in (1, 2, 3):
        name = f"gb_web_{i}"
        assert after[name] != before[name] and version(rig, name) == "2"
        assert rig.world.container(name).request.ip == addresses[i] == rig.address("web", i)
    assert after["gb_front_1"] == before["gb_front_1"]
    assert alias_target(rig) == addresses[1]  # settled on the lowest-numbered healthy replica
    # the batches one after the other: web_1's new container passed before web_2's old one stopped
    events = [(s, a, st) for s, a, st, _ in rig.reporter.events]
    assert events.index(("web", "Updating batch 1/3 of", "done")) < events.index(("web", "Updating batch 2/3 of",
                                                                            "started"))


def test_links_move_off_a_replica_before_it_stops(rig):
    seen = {}
    for host, engine in rig.world.engines.items():
        original = engine.stop_container

        def stop(container_id, timeout=None, engine=engine, original=original):
            name = engine.containers[container_id].request.name
            seen[name] = alias_target(rig)
            return original(container_id, timeout)

        engine.stop_container = stop
    addresses = {i: rig.address("web", i) for i in (1, 2, 3)}
    assert nap.up(rig.orc, shop("2")).failed == ()
    # while web_1 stopped the alias named web_2; while web_2 and web_3 stopped, the new web_1
    assert seen == {"gb_web_1": addresses[2], "gb_web_2": addresses[1], "gb_web_3": addresses[1]}


def fail_health(rig, name):
    for engine in rig.world.engines.values():
        engine.health_script[name] = ["unhealthy"]


def test_a_failed_gate_pauses_leaves_the_others_old_and_keeps_the_previous(rig):
    old_web1 = rig.ids()["gb_web_1"]
    fail_health(rig, "gb_web_1")
    report = nap.up(rig.orc, shop("2"))
    [failure] = [o for o in report.failed if not o.skipped]
    host = rig.world.host_of("gb_web_1")
    assert failure.subject == "web"
    assert failure.error == (f"update of web paused: {host}: web_1 failed its gate (healthcheck healthy): its "
                             "healthcheck reports unhealthy; web_2, web_3 stay on the old version; "
                             "`nap-compose rollback web` returns the updated replicas to their kept containers")
    assert (version(rig, "gb_web_1"), version(rig, "gb_web_2"), version(rig, "gb_web_3")) == ("2", "1", "1")
    kept = rig.world.container("gb_web_1-previous")
    assert kept.id == old_web1 and kept.state == "exited"
    assert alias_target(rig) == rig.address("web", 2)  # consumers avoid the unhealthy replica
    # ps and the lifecycle commands see the kept container for what it is
    assert nap.start(rig.orc, shop("2")).failed == ()
    assert rig.world.container("gb_web_1-previous").state == "exited"

    # rollback by hand: the kept container comes back, same id, config and address
    for engine in rig.world.engines.values():
        engine.health_script.clear()
    report = nap.rollback(rig.orc, shop("2"), ["web"])
    assert report.failed == ()
    assert rig.ids()["gb_web_1"] == old_web1 and version(rig, "gb_web_1") == "1"
    assert "gb_web_1-previous" not in rig.ids()
    assert rig.world.container("gb_web_1").request.ip == rig.address("web", 1)
    assert rig.world.container("gb_web_1").state == "running"
    assert alias_target(rig) == rig.address("web", 1)
    with pytest.raises(UsageError) as caught:
        nap.rollback(rig.orc, shop("2"), ["web"])
    assert str(caught.value) == "service web has no container kept by an update to roll back to"


def test_failure_action_rollback_returns_the_updated_replicas_by_itself(rig):
    before = rig.ids()
    fail_health(rig, "gb_web_2")
    report = nap.up(rig.orc, shop("2", UpdateConfig(failure_action="rollback")))
    [failure] = [o for o in report.failed if not o.skipped]
    assert failure.error.startswith("update of web failed and was rolled back: ")
    assert "web_2 failed its gate (healthcheck healthy)" in failure.error
    assert rig.ids() == before  # web_1 and web_2 are their old containers again; web_3 never touched
    assert {version(rig, f"gb_web_{i}") for i in (1, 2, 3)} == {"1"}
    assert all(rig.world.container(f"gb_web_{i}").state == "running" for i in (1, 2, 3))


def test_failure_action_continue_goes_on_and_reports(rig):
    fail_health(rig, "gb_web_1")
    report = nap.up(rig.orc, shop("2", UpdateConfig(failure_action="continue")))
    [failure] = [o for o in report.failed if not o.skipped]
    assert failure.error.startswith("update of web went on past failures (failure_action continue): ")
    assert {version(rig, f"gb_web_{i}") for i in (1, 2, 3)} == {"2"}
    assert sorted(n for n in rig.ids() if n.endswith("-previous")) == ["gb_web_1-previous"]


def test_max_failure_ratio_tolerates_that_share_of_failures(rig):
    fail_health(rig, "gb_web_1")
    report = nap.up(rig.orc, shop("2", UpdateConfig(max_failure_ratio=0.34)))
    [failure] = [o for o in report.failed if not o.skipped]
    # one of three failed: within the ratio, so the update went on to the end
    assert failure.error.startswith("update of web went on past failures (within max_failure_ratio 0.34): ")
    assert {version(rig, f"gb_web_{i}") for i in (2, 3)} == {"2"}


def test_a_new_container_that_cannot_start_puts_the_old_one_back(rig):
    old = rig.ids()["gb_web_2"]
    host = rig.world.host_of("gb_web_2")
    rig.world.engines[host].fail("create", "gb_web_2", "No such image")
    report = nap.up(rig.orc, shop("2"))
    [failure] = [o for o in report.failed if not o.skipped]
    assert f"{host}: web_2: the new container failed" in failure.error
    assert "the old one runs again" in failure.error
    assert rig.ids()["gb_web_2"] == old and rig.world.container("gb_web_2").state == "running"
    assert version(rig, "gb_web_1") == "2" and version(rig, "gb_web_3") == "1"


def test_without_a_healthcheck_the_gate_is_running_for_monitor(rig):
    project = shop("1", UpdateConfig(monitor_s=3.0), healthcheck=None)
    the_plan, _ = rig.orc.plan(replace(project, services=tuple(
        replace(s, environment=(("V", "2"),)) if s.name == "web" else s for s in project.services)))
    assert rollings(the_plan)[0].gate == "running for 3s"
    start = rig.clock.now()
    assert nap.up(rig.orc, project).failed == ()  # healthcheck removed: a change, gated by running 3 s each
    assert rig.clock.now() - start >= 9.0


def test_prune_previous_removes_the_kept_containers_and_keeps_the_address(rig):
    fail_health(rig, "gb_web_1")
    nap.up(rig.orc, shop("2"))
    for engine in rig.world.engines.values():
        engine.health_script.clear()
    the_plan, _ = rig.orc.plan(shop("2"), Options(prune_previous=True))
    assert any("gb_web_1-previous on" in line and "remove the container kept for a rollback" in line
               for line in render(the_plan))
    address = rig.address("web", 1)
    assert nap.up(rig.orc, shop("2"), prune_previous=True, no_rolling=True).failed == ()
    assert not [n for n in rig.ids() if n.endswith("-previous")]
    assert rig.address("web", 1) == address


def test_hosts_sync_points_an_alias_at_a_running_replica():
    rig = Rig()
    nap.up(rig.orc, shop())
    first = rig.world.container("gb_web_1")
    rig.world.engines[rig.world.host_of("gb_web_1")].stop_container(first.id)
    assert rig.orc.hosts_sync(shop()).failed == ()
    assert alias_target(rig) == rig.address("web", 2)


def test_ps_shows_a_kept_container_for_what_it_is(rig):
    from napcompose.cli.ps_view import ps_rows

    fail_health(rig, "gb_web_1")
    nap.up(rig.orc, shop("2"))
    rows = {r.name: r for r in ps_rows(rig.orc.ps("gb"), (), include_one_off=False)}
    assert rows["gb_web_1-previous"].state == "exited (previous, kept for rollback)"
    assert rows["gb_web_1-previous"].ip == rows["gb_web_1"].ip == rig.address("web", 1)
    assert rows["gb_web_2"].state.startswith("running")


def test_rollback_of_an_unknown_service_or_of_nothing_kept_changes_nothing(rig):
    before = rig.ids()
    mutations = len(rig.mutations())
    # Neither reaches the orchestrator from the CLI (it checks the names and asks for one at least):
    # these are the orchestrator's own refusals.
    with pytest.raises(UsageError) as caught:
        rig.orc.run(shop(), Options(services=("nope",)), Command.ROLLBACK)
    assert str(caught.value) == "no such service: nope"
    with pytest.raises(UsageError) as caught:
        rig.orc.run(shop(), Options(), Command.ROLLBACK)
    assert str(caught.value) == "nothing to roll back in project gb: no container kept by an update"
    assert rig.ids() == before and len(rig.mutations()) == mutations


def test_a_new_container_that_exits_while_starting_fails_its_gate_at_once(rig):
    host = rig.world.host_of("gb_web_1")
    engine = rig.world.engines[host]
    engine.health_script["gb_web_1"] = ["starting"]
    asked = engine.health

    def crashing(container_id):
        engine.containers[container_id].state = "exited"  # as a crash leaves it: health still "starting"
        return asked(container_id)

    engine.health = crashing
    began = rig.clock.now()
    report = nap.up(rig.orc, shop("2"))
    [failure] = [o for o in report.failed if not o.skipped]
    assert (f"{host}: web_1 failed its gate (healthcheck healthy): exited before its healthcheck passed"
            in failure.error)
    assert rig.clock.now() - began < 30  # not the 2-minute health timeout


def test_up_after_an_update_killed_between_keeping_and_creating_converges(rig):
    # What a SIGKILL leaves after batch 2 kept web_2's old container and before it made the new one.
    old = rig.world.container("gb_web_2")
    engine = rig.world.engines[rig.world.host_of("gb_web_2")]
    engine.stop_container(old.id)
    engine.rename_container(old.id, "gb_web_2-previous")
    address = rig.address("web", 2)
    assert nap.up(rig.orc, shop("2")).failed == ()
    assert {version(rig, f"gb_web_{i}") for i in (1, 2, 3)} == {"2"}
    assert rig.world.container("gb_web_2").request.ip == address == rig.address("web", 2)
    # the kept container is accounted for: still there for a rollback, holding no address of its own
    assert rig.world.container("gb_web_2-previous").id == old.id
    assert sorted(a.owner for a in rig.ipam.allocations()) == ["gb/front/1", "gb/web/1", "gb/web/2", "gb/web/3"]
    assert rig.orc.hosts_check(shop("2")) == []
    assert nap.up(rig.orc, shop("2"), prune_previous=True).failed == ()
    assert not [n for n in rig.ids() if n.endswith("-previous")]


def test_rollback_refuses_a_kept_container_whose_replica_moved_to_another_host_and_changes_nothing():
    rig = Rig()
    assert nap.up(rig.orc, shop(scale=2)).failed == ()
    home = rig.world.host_of("gb_web_1")
    fail_health(rig, "gb_web_2")
    nap.up(rig.orc, shop("2", scale=2))  # web_1 passed, web_2 failed: paused, web_1's old container kept
    assert "gb_web_1-previous" in rig.ids()
    rig.world.engines[home].unreachable = "gone"
    for engine in rig.world.engines.values():
        engine.health_script.clear()
    nap.up(rig.orc, shop("3", scale=2))  # web_1 moves off its lost host
    rig.world.engines[home].unreachable = None
    moved_to = rig.ipam.lookup("gb/web/1").host
    assert moved_to != home
    before, held = rig.ids(), sorted((a.owner, a.ip) for a in rig.ipam.allocations())
    with pytest.raises(UsageError) as err:
        nap.rollback(rig.orc, shop("3", scale=2), ["web"])
    assert str(err.value) == (f"cannot roll back web: web_1 moved to {moved_to} after gb_web_1-previous was kept "
                              f"on {home}; `up --prune-previous` removes the kept containers")
    assert rig.ids() == before and sorted((a.owner, a.ip) for a in rig.ipam.allocations()) == held
