"""`graph` and `dashboard` run in process over in-memory engines: output, bad input, nothing touched."""

import xml.etree.ElementTree as ET

import pytest

from napcompose.cli.dashboard_cmd import parse_listen
from napcompose.errors import UsageError
from tests.unit.test_cli_project import Cli


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def test_graph_text_before_and_after_up(cli):
    status, out, err = cli("graph")
    assert (status, err) == (0, "")
    assert out == "web -> db (link)\ndb\n\nstart order: db; web\n"
    assert cli("up", "-d")[0] == 0
    status, out, err = cli("graph")
    lines = out.splitlines()
    assert lines[0] == "web -> db (link)"
    assert lines[1].split()[:2] == ["web_1", cli.world.host_of("shop_web_1")]
    assert lines[1].split()[3] == "running" and lines[1].split()[2].startswith("198.18.0.")
    assert lines[3].split()[:2] == ["db_1", cli.world.host_of("shop_db_1")]


def test_graph_svg_and_dot_of_a_running_project(cli):
    assert cli("up", "-d")[0] == 0
    status, out, _ = cli("graph", "--format", "svg")
    root = ET.fromstring(out)
    ns = "{http://www.w3.org/2000/svg}"
    assert [(g.get("data-from"), g.get("data-to")) for g in root.iter(f"{ns}g") if g.get("class") == "edge"] == \
        [("web", "db")]
    assert {g.get("data-replica"): g.get("data-host") for g in root.iter(f"{ns}g") if g.get("class") == "replica"} \
        == {"shop_web_1": cli.world.host_of("shop_web_1"), "shop_db_1": cli.world.host_of("shop_db_1")}
    status, out, _ = cli("graph", "--format", "dot", "db")
    assert status == 0 and '"web"' not in out and '"shop_db_1" [label="db_1\\n' in out


def test_graph_of_an_unknown_service_fails_before_asking_any_host(cli):
    status, out, err = cli("graph", "nope")
    assert (status, out, err) == (3, "", "ERROR: no such service: nope (services in shop: db, web)\n")
    assert cli.wiring.opened == []


def test_graph_no_hosts_asks_no_host(cli):
    status, out, _ = cli("graph", "--no-hosts")
    assert status == 0 and cli.wiring.opened == [] and "web_1" not in out


@pytest.mark.parametrize("argv,environ,message", [
    (["--listen", "localhost:8088"], {}, "dashboard --listen localhost:8088: 'localhost' is not an IP address "
                                         "(names are not resolved; give the address to listen on)"),
    (["--listen", "127.0.0.1"], {}, "dashboard --listen 127.0.0.1: give ADDRESS:PORT, e.g. 127.0.0.1:8088"),
    (["--listen", "127.0.0.1:99999"], {}, "dashboard --listen 127.0.0.1:99999: the port must be a number from 0 "
                                          "to 65535"),
    (["--interval", "10"], {}, "dashboard --interval: give seconds from 0.5 to 5"),
    ([], {"NAP_DASHBOARD_TOKEN": "short"}, "NAP_DASHBOARD_TOKEN is 5 characters long; give at least 16"),
])
def test_dashboard_bad_input_exits_2_before_connecting(cli, argv, environ, message):
    import io

    from napcompose.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = main(["dashboard", *argv], stdout=out, stderr=err, environ=environ, cwd=str(cli.dir),
                  wiring=cli.wiring)
    assert (status, err.getvalue()) == (2, f"ERROR: {message}\n")
    assert cli.wiring.opened == [] and out.getvalue() == ""


def test_listen_addresses():
    assert parse_listen("127.0.0.1:8088") == ("127.0.0.1", 8088, True)
    assert parse_listen("[::1]:0") == ("::1", 0, True)
    assert parse_listen("198.18.1.254:8088") == ("198.18.1.254", 8088, False)
    assert parse_listen("0.0.0.0:8088")[2] is False
    with pytest.raises(UsageError):
        parse_listen(":8088")
