"""``up --wait``, ``start --wait`` and ``--wait-timeout`` with docker compose's meaning: the run ends by
waiting until every started replica runs, and is healthy where it has a healthcheck."""

import textwrap

import pytest

from napcompose.model import Dependency, Healthcheck, Project, ServiceSpec
from napcompose.planner import AwaitReady, WriteHosts, render
from tests import nap
from tests.unit.test_cli_project import Cli
from tests.unit.test_orchestrator import Rig

CHECK = Healthcheck(test=("CMD", "true"))


def project():
    return Project(name="gb", services=(
        ServiceSpec(name="db", image="redis", healthcheck=CHECK),
        ServiceSpec(name="migrate", image="busybox"),
        ServiceSpec(name="web", image="busybox", scale=2,
                    depends_on=(Dependency("migrate", "service_completed_successfully"),)),
    ))


@pytest.fixture
def rig():
    made = Rig()
    for engine in made.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 0
    return made


def _script(rig, name, attribute, answers):
    for engine in rig.world.engines.values():
        getattr(engine, attribute)[name] = list(answers)


def _failed(report):
    return {(o.action, o.subject): o.error for o in report.failed}


def test_the_plan_ends_with_one_wait_per_replica_after_the_hosts_files(rig):
    plan = rig.orc.plan(project(), nap.options(["up", "-d", "--wait"], project()))[0]
    last = plan.waves[-1]
    assert all(isinstance(a, AwaitReady) for a in last)
    assert [a.key for a in last] == ["ready db_1", "ready migrate_1", "ready web_1", "ready web_2"]
    assert all(isinstance(a, WriteHosts) for a in plan.waves[-2])
    assert {a.key: a.after for a in last}["ready web_2"] == ("web_2",)
    lines = [line for line in render(plan) if line.endswith("(--wait)")]
    host = {a.replica.label: a.host for a in last}
    assert lines == [f"db_1 on {host['db_1']}: wait until running and healthy (--wait)",
                     f"migrate_1 on {host['migrate_1']}: wait until exited with code 0 (--wait)",
                     f"web_1 on {host['web_1']}: wait until running (--wait)",
                     f"web_2 on {host['web_2']}: wait until running (--wait)"]
    assert not any(isinstance(a, AwaitReady) for a in nap.preview(rig.orc, project()).actions)


def test_up_wait_returns_once_running_and_healthy(rig):
    _script(rig, "gb_db_1", "health_script", ["starting", "starting", "healthy"])
    before = rig.clock.t
    report = nap.up(rig.orc, project(), wait=True)
    assert report.failed == ()
    assert rig.clock.t > before  # it waited for the healthcheck
    assert any(o.action == "Waiting for" and o.subject == "db_1" for o in report.outcomes)


def test_an_unhealthy_replica_fails_the_wait_naming_it_and_its_host(rig):
    _script(rig, "gb_db_1", "health_script", ["starting", "unhealthy"])
    report = nap.up(rig.orc, project(), wait=True)
    host = rig.world.host_of("gb_db_1")
    assert _failed(report) == {("Waiting for", "db_1"): f"{host}: db_1 is unhealthy (its healthcheck fails)"}


def test_wait_timeout_bounds_the_wait(rig):
    _script(rig, "gb_db_1", "health_script", ["starting"])
    report = nap.up(rig.orc, project(), wait=True, wait_timeout=5)
    host = rig.world.host_of("gb_db_1")
    assert _failed(report) == {("Waiting for", "db_1"): f"{host}: db_1 is not running and healthy within the "
                                                        "--wait-timeout of 5 s (running, health: starting)"}


def test_a_replica_that_exits_fails_the_wait_with_its_code(rig):
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_web_2"] = 1
    report = nap.up(rig.orc, project(), wait=True)
    host = rig.world.host_of("gb_web_2")
    assert _failed(report) == {("Waiting for", "web_2"): f"{host}: web_2 exited with code 1 instead of being "
                                                         "running"}


def test_a_failed_create_skips_its_wait_and_is_reported_once(rig):
    for engine in rig.world.engines.values():
        engine.fail("create", "gb_web_1", "no space left on device")
    failed = _failed(nap.up(rig.orc, project(), wait=True))
    assert failed[("Waiting for", "web_1")] == "dependency web_1 failed"
    assert "no space left on device" in failed[("Creating", "web_1")]


def test_start_wait_waits_for_every_chosen_container(rig):
    assert nap.up(rig.orc, project()).failed == ()
    assert nap.stop(rig.orc, project(), ("db",)).failed == ()
    _script(rig, "gb_db_1", "health_script", ["starting", "unhealthy"])
    host = rig.world.host_of("gb_db_1")
    assert _failed(nap.start(rig.orc, project(), ("db",), wait=True)) == {
        ("Waiting for", "db_1"): f"{host}: db_1 is unhealthy (its healthcheck fails)"}
    _script(rig, "gb_db_1", "health_script", ["healthy"])
    report = nap.start(rig.orc, project(), wait=True)  # nothing to start: the running ones are waited for
    assert report.failed == ()
    assert sorted(o.subject for o in report.outcomes if o.action == "Waiting for") == [
        "db_1", "migrate_1", "web_1", "web_2"]


COMPOSE = textwrap.dedent("""\
    services:
      db:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
        healthcheck: {test: ["CMD", "true"], interval: 1s}
    """)


@pytest.fixture
def cli(tmp_path):
    made = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    return made


def test_up_wait_implies_detach_and_fails_naming_service_replica_and_host(cli):
    status, _, err = cli("up", "--wait")
    assert status == 0, err
    assert "Attaching to" not in err and "Waiting for db_1 on " in err
    assert cli("down")[0] == 0
    for engine in cli.world.engines.values():
        engine.health_script["shop_db_1"] = ["starting", "unhealthy"]
    status, _, err = cli("up", "--wait")
    host = cli.world.host_of("shop_db_1")
    assert status == 8
    assert err.endswith(f"ERROR: up: 1 of 9 steps failed\n  Waiting for db_1 on {host}: db_1 is unhealthy "
                        "(its healthcheck fails)\n")


@pytest.mark.parametrize("argv, message", [
    (("up", "-d", "--wait-timeout", "5"), "--wait-timeout needs --wait"),
    (("up", "--wait", "--wait-timeout", "soon"), "invalid --wait-timeout 'soon': expected a number of seconds "
                                                 "above 0"),
    (("start", "--wait", "--wait-timeout", "0"), "invalid --wait-timeout '0': expected a number of seconds "
                                                 "above 0"),
])
def test_a_bad_wait_timeout_is_a_usage_error_and_touches_nothing(cli, argv, message):
    status, out, err = cli(*argv)
    assert (status, out, err) == (2, "", f"ERROR: {message}\n")
    assert cli.untouched()
