"""``ps --format json`` prints docker compose v2's JSON Lines; ``--status`` and ``--filter status=`` select."""

import json
import textwrap

import pytest

from napcompose.cli.ps_json import human_duration, publishers
from tests.unit.test_cli_project import Cli

COMPOSE = textwrap.dedent("""\
    services:
      db:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
        healthcheck: {test: ["CMD", "true"], interval: 1s}
        volumes: ["data:/data"]
      web:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
        ports: ["8080:80"]
    volumes:
      data: {}
    """)

V2_KEYS = {"Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
           "Name", "Names", "Networks", "Ports", "Project", "Publishers", "RunningFor", "Service", "Size",
           "State", "Status"}


@pytest.fixture
def cli(tmp_path):
    made = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    return made


def _objects(out):
    return {row["Name"]: row for row in map(json.loads, out.splitlines())}


def test_one_object_per_line_with_v2_keys_state_and_health_apart(cli):
    assert cli("up", "-d")[0] == 0
    status, out, err = cli("ps", "--format", "json")
    assert status == 0, err
    assert all(line.startswith("{") and line.endswith("}") for line in out.splitlines())
    rows = _objects(out)
    assert set(rows) == {"shop_db_1", "shop_web_1"}
    db, web = rows["shop_db_1"], rows["shop_web_1"]
    assert V2_KEYS | {"Host", "IP", "Generation", "Number", "Note"} <= set(db)
    assert list(db) == sorted(db)  # v2's keys come sorted
    assert (db["State"], db["Health"], db["ExitCode"], db["Service"], db["Project"]) == (
        "running", "starting", 0, "db", "shop")
    assert (web["State"], web["Health"]) == ("running", "")
    assert web["Publishers"] == [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"}]
    assert db["Publishers"] == [] and db["LocalVolumes"] == "1" and db["Mounts"].endswith("data")
    assert db["Command"] == '"sleep 3600"' and db["Size"] == "0B" and db["Image"] == "nap-lab/busybox:latest"
    assert "com.docker.compose.service=db" in db["Labels"].split(",")
    assert db["Host"] == cli.world.host_of("shop_db_1") and db["IP"] == cli.world.container("shop_db_1").request.ip
    assert db["Note"] == "" and db["Generation"] == 1 and db["Number"] == 1


def test_an_exited_container_shows_its_exit_code_and_state(cli):
    cli("up", "-d")
    cli.world.engines[cli.world.host_of("shop_web_1")].exit("shop_web_1", 3)
    web = _objects(cli("ps", "--format", "json")[1])["shop_web_1"]
    assert (web["State"], web["ExitCode"], web["Status"]) == ("exited", 3, "Exited (3)")


def test_status_and_filter_select_by_state(cli):
    cli("up", "-d")
    cli.world.engines[cli.world.host_of("shop_web_1")].exit("shop_web_1", 1)
    assert cli("ps", "--services", "--status", "running")[1].split() == ["db"]
    assert cli("ps", "--services", "--filter", "status=exited")[1].split() == ["web"]
    assert cli("ps", "--services", "--status", "running", "--status", "exited")[1].split() == ["db", "web"]
    assert list(_objects(cli("ps", "--format", "json", "--status", "exited")[1])) == ["shop_web_1"]
    table = cli("ps", "--status", "exited")[1].splitlines()
    assert len(table) == 2 and table[1].startswith("shop_web_1")


@pytest.mark.parametrize("argv, message", [
    (("--status", "up"), "ps: invalid status 'up' (choose from paused, restarting, removing, running, dead, "
                         "created, exited)"),
    (("--filter", "name=web"), "ps --filter 'name=web': unknown filter 'name' (supported: status)"),
    (("--filter", "running"), "ps --filter 'running': expected KEY=VALUE, e.g. status=running"),
])
def test_a_bad_status_or_filter_is_a_usage_error_before_any_host_is_asked(cli, argv, message):
    status, out, err = cli("ps", *argv)
    assert (status, out) == (2, "")
    assert err == f"ERROR: {message}\n"
    assert not any(e.calls for e in cli.world.engines.values())


def test_publishers_and_running_for_read_as_v2_writes_them():
    assert publishers(["0.0.0.0:8080->80/tcp", ":::8080->80/tcp", "53/udp"]) == [
        {"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"},
        {"URL": "::", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"},
        {"URL": "", "TargetPort": 53, "PublishedPort": 0, "Protocol": "udp"}]
    assert [human_duration(s) for s in (0, 1, 5, 90, 600, 3700, 7300, 3 * 86400)] == [
        "Less than a second", "1 second", "5 seconds", "About a minute", "10 minutes", "About an hour",
        "2 hours", "3 days"]
