"""``up --keep``/``--no-keep``, ``down``, ``watch --once`` and ``ps --log`` in process over in-memory
engines, files and store."""

import json

from napcompose.reconcile.records import LogEntry, MOVED, ReconcileLog
from tests.unit.test_cli_project import Cli, COMPOSE  # noqa: F401 (the fixture's class)

import pytest


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def changing(cli):
    return [c for e in cli.world.engines.values() for c in e.calls if c[0] in ("create", "start", "stop", "remove")]


def kept(cli):
    return {k.rsplit("/", 1)[1]: json.loads(v) for k, (v, _) in cli.kv.list("/nap-compose/keep/").items()}


def test_up_keep_records_the_files_as_read_and_no_keep_or_down_drop_them(cli):
    status, _, err = cli("up", "-d", "--keep", "--scale", "web=2")
    assert status == 0, err
    assert "Keeping project shop" in err
    record = kept(cli)["shop"]
    assert record["files"] == [["docker-compose.yml", COMPOSE]]
    assert record["scales"] == {"web": 2} and record["working_dir"] == str(cli.dir)
    status, _, err = cli("up", "-d", "--no-keep")
    assert status == 0 and "No longer keeping project shop" in err and kept(cli) == {}
    cli("up", "-d", "--keep")
    status, _, err = cli("down")
    assert status == 0 and "No longer keeping project shop" in err and kept(cli) == {}


def test_up_without_either_flag_leaves_the_record_as_it_is(cli):
    cli("up", "-d", "--keep")
    status, _, err = cli("up", "-d")
    assert status == 0 and "Keeping project" not in err and "No longer" not in err and "shop" in kept(cli)


def test_keep_and_no_keep_together_are_a_usage_error_and_change_nothing(cli):
    status, _, err = cli("up", "-d", "--keep", "--no-keep")
    assert status == 2 and "not allowed with argument" in err
    assert cli.untouched()


def test_a_bad_compose_file_with_keep_records_nothing(cli):
    (cli.dir / "docker-compose.yml").write_text("services: [\n")
    status, _, err = cli("up", "-d", "--keep")
    assert status == 3 and "docker-compose.yml" in err
    assert cli.untouched()


def test_watch_once_prints_each_kept_projects_plan_and_changes_nothing(cli):
    status, out, _ = cli("watch", "--once")
    assert status == 0 and "No project is kept" in out
    cli("up", "-d", "--keep")
    cli.world.engines[cli.world.host_of("shop_web_1")].exit("shop_web_1", 1)
    before = changing(cli)
    status, out, _ = cli("watch", "--once")
    assert status == 0, out
    assert out.splitlines()[0] == "project shop:"
    assert any("web_1" in line and "start" in line.lower() for line in out.splitlines()), out
    assert cli.world.container("shop_web_1").state == "exited"
    assert changing(cli) == before


def test_ps_log_says_whether_the_project_is_kept_and_what_the_reconciler_did(cli):
    cli("up", "-d")
    status, out, _ = cli("ps", "--log")
    assert status == 0 and "Not kept by the reconciler" in out and "has done nothing" in out
    cli("up", "-d", "--keep")
    ReconcileLog(cli.kv, "/nap-compose").append("shop", [LogEntry(3600.0, MOVED, "web_1", "host node1 unreachable: "
                                                                 "moving web_1 to node2", "root@ws1 pid 7")])
    status, out, _ = cli("ps", "--log")
    assert status == 0 and "Kept by the reconciler since" in out
    assert "01:00:00   replica moved        web_1       host node1 unreachable: moving web_1 to node2 " \
           "[root@ws1 pid 7]" in out


def test_scale_of_a_kept_project_is_kept_and_watch_once_plans_nothing_back(cli):
    cli("up", "-d", "--keep", "--scale", "web=2")
    status, _, err = cli("scale", "web=3")
    assert status == 0, err
    assert kept(cli)["shop"]["scales"] == {"web": 3}
    status, out, _ = cli("watch", "--once")
    assert status == 0 and "remove" not in out.lower() and "create" not in out.lower(), out
