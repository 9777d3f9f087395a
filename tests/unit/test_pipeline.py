"""observe → plan → execute: the plan is what runs, options reach the engines, actions are typed."""

import ast
import pathlib
from dataclasses import FrozenInstanceError

import pytest

from napcompose.errors import ConfigError, ExitStatus, NapComposeError, PartialFailure, UsageError
from napcompose.model import BuildSpec, Link, Project, ServiceSpec
from napcompose.execute.executor import HANDLERS, check_handlers
from napcompose.planner import (ACTION_TYPES, BuildImage, Command, CopyImage, Create, Options, Release,
                                Remove, Reserve, Unreserved, WriteHosts, render)
from tests import nap
from tests.unit.test_cli_project import Cli
from tests.unit.test_orchestrator import NODES, Rig, guestbook

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "napcompose"


def started(rig):
    """(subject, verb) of every action the executor began, in no particular order."""
    return sorted((s, a) for s, a, status, _ in rig.reporter.events if status == "started")


def planned(the_plan):
    rows = []
    for action in the_plan.actions:
        if isinstance(action, Reserve):
            rows.extend((e.replica.label, action.verb) for e in action.entries)
        else:
            rows.append((action.subject, action.verb))
    return sorted(rows)


@pytest.fixture
def rig():
    return Rig()


def test_up_executes_exactly_the_plan_that_plan_shows(rig):
    nap.up(rig.orc, guestbook())
    rig.world.engines["node2"].retag("busybox", None)  # gone from node2: a copy is planned
    changed = guestbook(web_scale=3, web_env=(("V", "2"),))
    options = Options(scales=(("db", 2),), rolling=False)  # a rolling update: tests/unit/test_rolling.py
    the_plan, _ = rig.orc.plan(changed, options)
    kinds = {type(a) for a in the_plan.actions}
    assert {Reserve, CopyImage, WriteHosts, Create} <= kinds
    rig.reporter.events.clear()
    report = rig.orc.run(changed, options)
    assert report.failed == ()
    assert started(rig) == planned(the_plan)
    # and the plan, taken again after the run, has nothing left to do but keep and check
    after, _ = rig.orc.plan(changed, options)
    assert {a.kind for a in after.actions} == {"noop", "hosts"}


def test_scale_down_plans_removals_then_releases(rig):
    nap.up(rig.orc, guestbook(web_scale=3))
    the_plan, _ = rig.orc.plan(guestbook(), Options(services=("web",), no_deps=True, scales=(("web", 1),)))
    removes = [a for a in the_plan.actions if isinstance(a, Remove)]
    releases = [a for a in the_plan.actions if isinstance(a, Release)]
    assert [a.subject for a in removes] == ["web_3", "web_2"]
    assert [(a.subject, a.after) for a in releases] == [("web_3", (removes[0].key,)), ("web_2", (removes[1].key,))]
    lines = render(the_plan)
    assert f"web_3 on node3 ({rig.address('web', 3)}): remove (scale 1)" in lines
    assert f"web_3 on node3 ({rig.address('web', 3)}): release the address (scale 1)" in lines


def test_an_unreserved_address_is_a_value_not_a_placeholder(rig):
    the_plan, _ = rig.orc.plan(guestbook())
    creates = [a for a in the_plan.actions if isinstance(a, Create)]
    assert creates and all(isinstance(a.address, Unreserved) for a in creates)
    assert {a.address.owner for a in creates} == {a.replica.owner for a in creates}
    with pytest.raises(FrozenInstanceError):
        creates[0].address.owner = "x"


def test_every_action_type_has_its_handler_and_nothing_dispatches_by_name():
    assert set(HANDLERS) == set(ACTION_TYPES)
    check_handlers(HANDLERS, ACTION_TYPES)
    # no getattr with a computed name (dispatch by string) in the pipeline or the deploy CLI
    for path in list((PACKAGE / "planner").glob("*.py")) + list((PACKAGE / "orchestrator").glob("*.py")) + \
            list((PACKAGE / "execute").glob("*.py")) + [
            PACKAGE / "parallel.py", PACKAGE / "cli" / "project_cmd.py", PACKAGE / "cli" / "project_views.py",
            PACKAGE / "cli" / "deploy_wiring.py", PACKAGE / "cli" / "ipam_cmd.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and not isinstance(node.args[1], ast.Constant)):
                raise AssertionError(f"{path.name}:{node.lineno} dispatches by a computed name")


def test_an_action_type_without_a_handler_fails_the_completeness_check():
    class Reboot:  # an action type the planner could emit, with no handler
        pass

    with pytest.raises(TypeError, match="no handler for Reboot"):
        check_handlers(HANDLERS, (*ACTION_TYPES, Reboot))
    without_create = {kind: handler for kind, handler in HANDLERS.items() if kind is not Create}
    with pytest.raises(TypeError, match="no handler for Create"):
        check_handlers(without_create, ACTION_TYPES)
    with pytest.raises(TypeError, match="no action type Reboot"):
        check_handlers({**HANDLERS, Reboot: HANDLERS[Create]}, ACTION_TYPES)


def test_a_built_service_is_built_on_one_host_and_copied_to_the_others(rig):
    project = Project(name="gb", services=(
        ServiceSpec(name="app", build=BuildSpec(context="/src/app"), scale=3),))
    for engine in rig.world.engines.values():
        engine.retag("gb_app", None)  # on no host yet
    the_plan, _ = rig.orc.plan(project)
    images = [(type(a), a.host) for a in the_plan.actions if isinstance(a, (BuildImage, CopyImage))]
    assert images == [(BuildImage, "node1"), (CopyImage, "node2"), (CopyImage, "node3")]
    assert "image gb_app on node2: copy from node1 (built on node1)" in render(the_plan)
    assert nap.up(rig.orc, project).failed == ()
    assert rig.world.images.calls == [("build", "gb_app", "node1"), ("copy", "gb_app", "node1", "node2"),
                                      ("copy", "gb_app", "node1", "node3")]
    ids = {rig.world.container(f"gb_app_{i}").image_id for i in (1, 2, 3)}
    assert len(ids) == 1


def test_a_failed_copy_skips_only_the_containers_on_that_host(rig):
    rig.world.engines["node3"].retag("busybox", None)
    rig.world.images.failures[("copy", "busybox", "node3")] = "disk full"
    report = nap.up(rig.orc, guestbook())
    failed = {(o.subject, o.action): o.error for o in report.failed}
    assert failed == {("lone", "Copying"): "node3: copy busybox: disk full",
                      ("lone_1", "Creating"): "dependency busybox@node3 failed"}
    assert "gb_lone_1" not in rig.ids() and "gb_web_1" in rig.ids()


def test_an_image_no_host_has_stops_the_plan_with_nothing_done(rig):
    for engine in rig.world.engines.values():
        engine.retag("redis", None)
    with pytest.raises(ConfigError) as err:
        nap.up(rig.orc, guestbook())
    assert str(err.value).startswith("images missing, nothing was created:\n"
                                      "  service db: image redis is missing on node1")
    assert rig.mutations() == [] and rig.ipam.allocations() == []


def test_kill_sends_the_signal_through_the_engine_port(rig):
    nap.up(rig.orc, guestbook())
    report = rig.orc.run(guestbook(), Options(services=("web",), signal="SIGHUP"), Command.KILL)
    assert report.failed == ()
    sent = sorted(s for e in rig.world.engines.values() for s in e.signals)
    assert sent == [("gb_web_1", "SIGHUP"), ("gb_web_2", "SIGHUP")]


# ---------------------------------------------------------------------- options reach the engines


def stops(cli):
    return sorted(t for e in cli.world.engines.values() for t in e.stop_timeouts)


def forget_stops(cli):
    for engine in cli.world.engines.values():
        engine.stop_timeouts.clear()


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


@pytest.mark.parametrize("argv,expected", [
    (["up", "-d", "--force-recreate", "--scale", "web=2", "-t", "1"],
     [("shop_db_1", 1), ("shop_web_1", 1), ("shop_web_2", 1)]),
    (["up", "-d", "--force-recreate"], [("shop_db_1", None), ("shop_web_1", None), ("shop_web_2", None)]),
    (["scale", "web=1", "-t", "2"], [("shop_web_2", 2)]),
    (["down", "-t", "3"], [("shop_db_1", 3), ("shop_web_1", 3), ("shop_web_2", 3)]),
    (["stop", "-t", "4", "web"], [("shop_web_1", 4), ("shop_web_2", 4)]),
    (["restart", "-t", "5", "db"], [("shop_db_1", 5)]),
])
def test_the_stop_timeout_reaches_every_stop(cli, argv, expected):
    assert cli("up", "-d", "--scale", "web=2")[0] == 0
    forget_stops(cli)
    status, _, err = cli(*argv)
    assert status == 0, err
    assert stops(cli) == expected


def test_plan_prints_image_copies_and_hosts_writes(cli):
    cli("up", "-d")
    host = cli.world.host_of("shop_web_1")
    cli.world.engines[host].retag("nap-lab/busybox:latest", None)
    status, out, err = cli("plan", "--force-recreate")
    assert status == 0, err
    lines = out.splitlines()
    source = sorted(set(("node1", "node2", "node3")) - {host})[0]
    assert f"image nap-lab/busybox:latest on {host}: copy from {source} (missing on {host})" in lines
    assert any(line.startswith(f"hosts files on {host}: write the blocks that differ") for line in lines)


def test_kill_command_and_its_bad_signal(cli):
    cli("up", "-d")
    status, _, err = cli("kill", "-s", "SIGHUP", "web")
    assert status == 0, err
    assert [s for e in cli.world.engines.values() for s in e.signals] == [("shop_web_1", "SIGHUP")]
    status, _, err = cli("kill", "-s", "HUP; reboot")
    assert (status, err) == (2, "ERROR: invalid signal 'HUP; reboot': expected a name such as SIGKILL or a number\n")


def test_logs_and_exec_go_through_the_engine_port(cli):
    cli("up", "-d")
    cli.world.engines[cli.world.host_of("shop_db_1")].log_lines["shop_db_1"] = ["ready", "accepting"]
    status, out, _ = cli("logs", "db")
    host = cli.world.host_of("shop_db_1")
    assert (status, out) == (0, f"db_1@{host} | ready\ndb_1@{host} | accepting\n")
    status, out, _ = cli("exec", "-T", "web", "echo", "hi")
    assert (status, out) == (0, "echo hi\n")
    assert cli.world.engines[cli.world.host_of("shop_web_1")].execs == [("shop_web_1", ("echo", "hi"))]


def test_every_error_carries_an_exit_status_member():
    for error in (NapComposeError("x"), UsageError("x"), ConfigError("x"), PartialFailure("x")):
        assert isinstance(error.exit_status, ExitStatus)
    assert (UsageError.exit_status, PartialFailure.exit_status) == (ExitStatus.USAGE, ExitStatus.PARTIAL)
