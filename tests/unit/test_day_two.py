"""The commands a user types on a running project, in process over the in-memory engines: their argument
checks (with nothing touched), volume names, down -v / rm -v, pause and unpause, and the pure helpers."""

import io
import os
import tarfile

import pytest

from napcompose.adapters.archives import ArchiveError, pack, unpack
from napcompose.cli.cp_cmd import ContainerPath, is_container_side, parse_container_path
from napcompose.cli.events_cmd import event_line
from napcompose.cli.inspect_cmd import stats_row
from napcompose.cli.ls_cmd import status_text
from napcompose.cli.timespec import moment
from napcompose.config import load_project
from napcompose.errors import ConfigError, UsageError
from napcompose.model import ContainerEvent, ObservedContainer, Replica
from tests.unit.test_cli_project import Cli

VOLUMES = """\
services:
  db:
    image: nap-lab/busybox:latest
    volumes: ["data:/data", "logs:/logs", "keep:/keep", "/anon"]
  web:
    image: nap-lab/busybox:latest
    scale: 2
    ports: ["8080:80"]
volumes:
  data: {}
  logs: {name: shared-logs}
  keep: {external: true}
"""


@pytest.fixture
def cli(tmp_path):
    made = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(VOLUMES)
    return made


def _changing_calls(cli):
    quiet = {"list", "volumes", "events", "hosts_path", "port", "top", "stats", "version"}
    return [c for e in cli.world.engines.values() for c in e.calls if c[0] not in quiet]


# ---------------------------------------------------------------------------- volume names


def test_named_volumes_are_prefixed_with_the_project_unless_named_or_external(tmp_path):
    (tmp_path / "docker-compose.yml").write_text(VOLUMES)
    project = load_project(project_name="shop", cwd=str(tmp_path))
    assert project.service("db").volumes == ("shop_data:/data", "shared-logs:/logs", "keep:/keep", "/anon")
    assert [(v.key, v.name, v.external) for v in project.volumes] == [
        ("data", "shop_data", False), ("keep", "keep", True), ("logs", "shared-logs", False)]


def test_config_writes_the_keys_back_with_the_docker_names_beside(cli):
    status, out, err = cli("config")
    assert status == 0, err
    assert "- data:/data" in out and "shop_data:/data" not in out
    assert "  data:\n    name: shop_data\n" in out
    assert "  keep:\n    external: true\n    name: keep\n" in out


def test_a_volume_name_docker_refuses_is_an_error_naming_file_and_line(tmp_path):
    (tmp_path / "docker-compose.yml").write_text(VOLUMES.replace("{name: shared-logs}", "{name: 'bad name'}"))
    with pytest.raises(ConfigError) as err:
        load_project(project_name="shop", cwd=str(tmp_path))
    assert str(err.value) == ("docker-compose.yml:11: volume 'logs': 'bad name' is not a valid Docker volume "
                              "name (letters, digits, '_', '.', '-', starting with a letter or digit)")


# ---------------------------------------------------------------------------- down -v, rm -v


def test_down_v_removes_the_projects_volumes_but_never_an_external_one(cli):
    assert cli("up", "-d")[0] == 0
    host = cli.world.host_of("shop_db_1")
    assert cli.world.engines[host].volumes == {"shop_data", "shared-logs", "keep"}
    status, out, err = cli("down", "-v")
    assert status == 0, err
    assert cli.world.engines[host].volumes == {"keep"}
    assert f"Removing volume shop_data on {host} ... done" in err.splitlines()


def test_down_v_keeps_a_volume_another_projects_container_uses_and_says_so(cli, tmp_path):
    assert cli("up", "-d")[0] == 0
    host = cli.world.host_of("shop_db_1")
    other = tmp_path / "other"
    other.mkdir()
    (other / "docker-compose.yml").write_text(
        "services:\n  user:\n    image: nap-lab/busybox:latest\n    volumes: ['d:/d']\n"
        f"    x-nap: {{hosts: [{host}]}}\nvolumes:\n  d: {{external: true, name: shop_data}}\n")
    assert cli("--project-directory", str(other), "-f", str(other / "docker-compose.yml"), "-p", "other",
               "up", "-d")[0] == 0
    status, out, err = cli("down", "-v")
    assert status == 0, err
    assert f"WARNING: volume shop_data on {host} kept: in use by other_user_1" in err.splitlines()
    assert cli.world.engines[host].volumes == {"shop_data", "keep"}


def test_down_without_v_leaves_the_volumes(cli):
    assert cli("up", "-d")[0] == 0
    host = cli.world.host_of("shop_db_1")
    assert cli("down")[0] == 0
    assert cli.world.engines[host].volumes == {"shop_data", "shared-logs", "keep"}


def test_rm_v_removes_the_anonymous_volumes_of_the_removed_containers(cli):
    assert cli("up", "-d")[0] == 0
    assert cli("stop", "db")[0] == 0
    status, _, err = cli("rm", "-f", "-v", "db")
    assert status == 0, err
    calls = [c for e in cli.world.engines.values() for c in e.calls if c[0] == "remove anonymous volumes"]
    assert calls == [("remove anonymous volumes", "shop_db_1")]


# ---------------------------------------------------------------------------- pause, unpause


def test_pause_and_unpause_are_planned_actions_that_change_the_state(cli):
    assert cli("up", "-d")[0] == 0
    status, _, err = cli("pause", "web")
    assert status == 0, err
    states = {c.request.name: c.state for c in cli.world.all_containers()}
    assert states == {"shop_db_1": "running", "shop_web_1": "paused", "shop_web_2": "paused"}
    assert "paused" in cli("ps", "web")[1]
    assert cli("unpause")[0] == 0
    assert {c.state for c in cli.world.all_containers()} == {"running"}


def test_pause_of_an_unknown_service_touches_nothing(cli):
    assert cli("up", "-d")[0] == 0
    before = _changing_calls(cli)
    status, _, err = cli("pause", "nope")
    assert (status, err) == (2, "ERROR: no such service: nope (services in shop: db, web)\n")
    assert _changing_calls(cli) == before


# ---------------------------------------------------------------------------- cp, port: bad input


@pytest.mark.parametrize("argv,message", [
    (["cp", "web:/a", "db:/b"], "copying between containers is not supported: one of SRC and DEST must be local"),
    (["cp", "a", "b"], "one of SRC and DEST must be SERVICE[:INDEX]:PATH (got 'a' and 'b')"),
    (["cp", "nope:/x", "out"], "no such service: nope (services in shop: db, web)"),
    (["cp", "web:0:/x", "out"], "invalid container path 'web:0:/x': replicas count from 1"),
    (["cp", "web:two:/x", "out"],
     "invalid container path 'web:two:/x': expected SERVICE[:INDEX]:PATH, and 'two' is not a replica number"),
    (["cp", "web:2", "out"], "invalid container path 'web:2': the path in the container is missing "
                             "(SERVICE[:INDEX]:PATH)"),
    (["cp", "--index", "2", "web:1:/x", "out"], "--index 2 and web:1 name different replicas"),
    (["cp", "--index", "0", "web:/x", "out"], "invalid --index 0: replicas count from 1"),
    (["port", "web", "http"], "invalid port 'http': expected a number from 1 to 65535"),
    (["port", "web", "70000"], "invalid port '70000': expected a number from 1 to 65535"),
    (["port", "nope", "80"], "no such service: nope (services in shop: db, web)"),
    (["logs", "--since", "yesterday"], "invalid --since 'yesterday': expected a Unix time, an RFC 3339 date "
                                       "(2026-12-06T11:00:00Z) or a duration such as 10m or 1h30m"),
    (["logs", "--since", "100", "--until", "50"], "--until 50 is before --since 100"),
    (["events", "--since", "100", "--until", "50"], "--until 50 is before --since 100"),
])
def test_bad_arguments_are_refused_before_anything_is_touched(cli, tmp_path, argv, message):
    assert cli("up", "-d")[0] == 0
    before = _changing_calls(cli)
    status, out, err = cli(*argv)
    assert (status, out, err) == (2, "", f"ERROR: {message}\n")
    assert _changing_calls(cli) == before
    assert not (tmp_path / "out").exists()


def test_a_replica_out_of_range_names_the_ones_that_exist(cli, tmp_path):
    assert cli("up", "-d")[0] == 0
    hosts = {name: cli.world.host_of(name) for name in ("shop_web_1", "shop_web_2")}
    for argv in (["cp", "web:3:/etc/hostname", "out"], ["port", "--index", "3", "web", "80"]):
        status, out, err = cli(*argv)
        assert (status, err) == (1, "ERROR: no container shop_web_3: replica 3 of web is out of range (found "
                                    f"web:1 on {hosts['shop_web_1']}, web:2 on {hosts['shop_web_2']})\n")
    assert not (tmp_path / "out").exists()


def test_port_prints_the_binding_at_the_address_of_the_replicas_host(cli):
    assert cli("up", "-d")[0] == 0
    host = cli.world.host_of("shop_web_2")
    address = {"node1": "198.18.0.11", "node2": "198.18.0.12", "node3": "198.18.0.13"}[host]
    assert cli("port", "--index", "2", "web", "80") == (0, f"{address}:8080\n", "")
    status, _, err = cli("port", "web", "80", "--protocol", "udp")
    assert (status, err) == (7, f"ERROR: {cli.world.host_of('shop_web_1')}: shop_web_1: port 80/udp is not "
                                "published\n")


@pytest.mark.parametrize("text,parsed", [
    ("web:/etc/x", ContainerPath("web", None, "/etc/x")),
    ("web:2:/etc/x", ContainerPath("web", 2, "/etc/x")),
    ("web:/a:b", ContainerPath("web", None, "/a:b")),
    ("web:relative/x", ContainerPath("web", None, "relative/x")),
])
def test_container_paths(text, parsed):
    assert is_container_side(text)
    assert parse_container_path(text) == parsed


@pytest.mark.parametrize("text", ["./a:b", "/abs/a:b", "plain", "-", "dir/web:x"])
def test_local_paths(text):
    assert not is_container_side(text)


# ---------------------------------------------------------------------------- ls, logs, version, events, stats


def test_ls_counts_each_projects_states_per_host(cli):
    assert cli("up", "-d")[0] == 0
    assert cli("stop", "db")[0] == 0
    status, out, _ = cli("ls")
    assert status == 0
    counts = {}
    for c in cli.world.all_containers():
        host = cli.world.host_of(c.request.name)
        counts.setdefault(host, {}).setdefault(c.state, 0)
        counts[host][c.state] += 1
    expected = "; ".join(f"{h}: " + ", ".join(f"{s}({n})" for s, n in sorted(states.items()))
                         for h, states in sorted(counts.items()))
    assert out.splitlines() == ["NAME   STATUS", f"shop   {expected}"]
    assert cli("stop")[0] == 0
    assert cli("ls")[1] == "NAME   STATUS\n"  # nothing runs: only with -a
    assert cli("ls", "-a", "-q")[1] == "shop\n"


def test_logs_pass_the_window_and_drop_the_prefix(cli):
    assert cli("up", "-d")[0] == 0
    engine = cli.world.engines[cli.world.host_of("shop_db_1")]
    engine.log_lines["shop_db_1"] = ["one", "two", "three"]
    status, out, _ = cli("logs", "-n", "2", "--no-log-prefix", "--since", "10m", "--until", "1800000000", "db")
    assert (status, out) == (0, "two\nthree\n")
    assert engine.log_windows[-1] == ("shop_db_1", 1_800_000_000.0 - 600, 1_800_000_000.0)


def test_version_without_hosts_and_with_them(cli):
    from napcompose import __version__

    assert cli("version", "--short") == (0, f"{__version__}\n", "")
    status, out, _ = cli("version")
    assert out.splitlines()[0] == f"nap-compose version {__version__}"
    assert [line.split()[:2] for line in out.splitlines()[2:]] == [[h, "99.0-fake"] for h in ("node1", "node2", "node3")]


def test_moments():
    assert moment("--since", "1700000000", 0) == 1_700_000_000
    assert moment("--since", "1h30m", 10_000) == 10_000 - 5400
    assert moment("--since", "2026-12-06T11:00:00Z", 0) == 1_796_554_800
    with pytest.raises(UsageError):
        moment("--since", "-5m", 0)


def test_an_event_line_reads_as_docker_composes_with_the_host():
    event = ContainerEvent(1_796_554_800.25, "node2", "abc123", "shop_web_1", "start", Replica("shop", "web", 1),
                           attributes=(("image", "busybox"), ("name", "shop_web_1"), ("x", "y")))
    assert event_line(event) == ("2026-12-06 11:00:00.250000 container start abc123 "
                                 "(image=busybox, name=shop_web_1, host=node2)")


def test_a_stats_row_names_the_container_and_its_host():
    container = ObservedContainer(host="node2", id="c1", name="shop_web_1", replica=Replica("shop", "web", 1),
                                  config_hash=None, state="running", ip=None)
    doc = {"cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
           "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
           "memory_stats": {"usage": 2 << 20, "limit": 8 << 20}, "pids_stats": {"current": 3}}
    row = stats_row(container, doc)
    assert row[:5] == ("shop_web_1", "node2", "40.00%", "2MiB / 8MiB", "25.00%")
    assert row[-1] == "3"
    assert status_text({"node1": {"running": 2, "exited": 1}}) == "node1: exited(1), running(2)"


# ---------------------------------------------------------------------------- archives


def test_a_packed_tree_unpacks_with_its_modes_under_a_new_name(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "tool").write_text("x")
    os.chmod(source / "tool", 0o751)
    os.chmod(source, 0o750)
    (tmp_path / "dest").mkdir()
    assert unpack(pack(str(source), "src"), str(tmp_path / "dest"), "copy") == 2
    assert oct((tmp_path / "dest" / "copy" / "tool").stat().st_mode & 0o7777) == "0o751"
    assert oct((tmp_path / "dest" / "copy").stat().st_mode & 0o7777) == "0o750"


def test_an_entry_that_would_land_outside_is_refused(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("../escape"))
    with pytest.raises(ArchiveError) as err:
        unpack([raw.getvalue()], str(tmp_path))
    assert "'../escape'" in str(err.value) and "outside the destination" in str(err.value)
    assert not (tmp_path.parent / "escape").exists()


def test_packing_a_missing_path_names_it(tmp_path):
    with pytest.raises(ArchiveError) as err:
        pack(str(tmp_path / "gone"), "gone")
    assert str(err.value) == f"no such file or directory: {tmp_path / 'gone'}"


def test_a_volume_docker_refuses_as_in_use_is_kept_with_a_warning_and_a_failure_is_named(cli):
    from napcompose.errors import HostError, VolumeInUseError

    assert cli("up", "-d")[0] == 0
    host = cli.world.host_of("shop_db_1")
    engine = cli.world.engines[host]

    def in_use(name):  # a container nap-compose does not see (not of any project) mounts it
        raise VolumeInUseError(host, f"remove volume {name}: volume is in use - [abc123]")

    engine.remove_volume = in_use
    status, _, err = cli("down", "-v")
    assert status == 0, err
    assert f"WARNING: volume shop_data on {host} kept: remove volume shop_data: volume is in use - [abc123]" \
        in err.splitlines()
    assert cli("up", "-d")[0] == 0

    def broken(name):
        raise HostError(host, f"remove volume {name}: disk on fire")

    engine.remove_volume = broken
    status, _, err = cli("down", "-v")
    assert status == 8
    assert f"  Removing volume shop_data on {host}: remove volume shop_data: disk on fire" in err.splitlines()


def test_top_prints_each_container_under_its_name_and_host(cli):
    assert cli("up", "-d")[0] == 0
    status, out, _ = cli("top", "db")
    host = cli.world.host_of("shop_db_1")
    assert (status, out) == (0, f"shop_db_1 on {host}\nPID   CMD\n1     sleep\n\n")


def test_a_host_that_does_not_answer_makes_the_listing_partial(cli):
    assert cli("up", "-d")[0] == 0
    cli.world.engines["node3"].unreachable = "connection refused"
    for argv in (["volumes"], ["ls"]):
        status, _, err = cli(*argv)
        assert status == 8
        assert "  node3: cannot connect to the Docker engine: connection refused" in err.splitlines()
