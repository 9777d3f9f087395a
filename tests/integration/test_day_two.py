"""The commands a user types on a running project, on the lab: cp, volumes, down -v, port, ls, pause,
events, logs, stats, version. One project is brought up once for the module and looked at; the
volume removal test has projects of its own."""

import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import time

import pytest

from tests.integration.deploy_support import DeployProject, sleeper, until

pytestmark = pytest.mark.integration

TALKER = {"image": "nap-lab/busybox:latest", "stop_signal": "SIGKILL",
          "command": ["sh", "-c", "echo one; echo two; echo three; exec sleep 3600"]}


@pytest.fixture(scope="module")
def running(lab, tmp_path_factory):
    """web (one replica on the second host, port 80 published on 18581), talker, db with a named volume."""
    project = DeployProject(lab, tmp_path_factory.mktemp("daytwo"), prefix="d")
    second = lab.cluster.hosts[1].name
    project.write({"web": sleeper(ports=["18581:80"], **{"x-nap": {"hosts": [second]}}),
                   "talker": TALKER,
                   "db": sleeper(volumes=["data:/data"])}, volumes={"data": {}})
    project.ok("up", "-d")
    yield project
    try:
        project.cleanup()
    finally:
        for host in lab.cluster.hosts:
            lab.exec(host.name, "docker", "volume", "rm", "-f", f"{project.name}_data")


def _sha(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_cp_both_ways_keeps_the_mode_and_streams_a_large_file(running, lab):
    name = f"{running.name}_web_1"
    assert running.containers()[name][0] == lab.cluster.hosts[1].name
    local = running.dir / "tool.sh"
    local.write_text("#!/bin/sh\necho tool\n")
    os.chmod(local, 0o751)
    out = running.ok("cp", "tool.sh", "web:/tmp/tool.sh")
    assert out == ""
    assert running.run_in(name, "stat", "-c", "%a %s", "/tmp/tool.sh") == (0, f"751 {local.stat().st_size}\n")
    running.ok("cp", "--index", "1", "web:/tmp/tool.sh", "back.sh")
    back = running.dir / "back.sh"
    assert (oct(back.stat().st_mode & 0o777), back.read_text()) == ("0o751", local.read_text())

    big = running.dir / "big.bin"
    with open(big, "wb") as f:
        for _ in range(20):
            f.write(os.urandom(1 << 20))
    running.ok("cp", "big.bin", "web:1:/tmp/")  # into a directory that exists, under its own name
    code, text = running.run_in(name, "sha256sum", "/tmp/big.bin")
    assert (code, text.split()[0]) == (0, _sha(big))
    (running.dir / "out").mkdir()
    running.ok("cp", "web:/tmp/big.bin", "out")
    assert _sha(running.dir / "out" / "big.bin") == _sha(big)


def test_cp_dash_is_a_tar_stream_on_stdout_and_from_stdin(running):
    """As a process of its own: ``-`` is the process's binary stdin and stdout."""
    def cp(*argv, data=b""):
        env = dict(os.environ, NAP_CLUSTER=running.lab.cluster_file,
                   PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[2]))
        done = subprocess.run([sys.executable, "-m", "napcompose", "-p", running.name, "cp", *argv],
                              cwd=running.dir, env=env, input=data, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        entry = tarfile.TarInfo("streamed.txt")
        entry.size, entry.mode = 6, 0o640
        tar.addfile(entry, io.BytesIO(b"hello\n"))
    cp("-", "web:/tmp", data=packed.getvalue())
    with tarfile.open(fileobj=io.BytesIO(cp("web:/tmp/streamed.txt", "-"))) as tar:
        (member,) = tar.getmembers()
        assert (member.name, oct(member.mode & 0o7777), tar.extractfile(member).read()) == (
            "streamed.txt", "0o640", b"hello\n")


def test_cp_errors_name_the_container_and_its_host(running, lab):
    second = lab.cluster.hosts[1].name
    status, _, err = running.nap("cp", "web:/no/such/file", "x")
    assert status != 0
    assert f"{second}: {running.name}_web_1: no such file or directory: /no/such/file" in err
    status, _, err = running.nap("cp", "web:2:/etc/hostname", "x")
    assert (status, err) == (1, f"ERROR: no container {running.name}_web_2: replica 2 of web is out of range "
                                f"(found web:1 on {second})\n")
    assert not (running.dir / "x").exists()


def test_volumes_lists_the_volume_with_its_host_and_user(running):
    host = running.containers()[f"{running.name}_db_1"][0]
    rows = [json.loads(line) for line in running.ok("volumes", "--format", "json").splitlines()]
    assert [(r["Name"], r["Host"], r["Driver"], r["UsedBy"]) for r in rows] == [
        (f"{running.name}_data", host, "local", [f"{running.name}_db_1"])]
    table = running.ok("volumes").splitlines()
    assert table[0].split() == ["NAME", "HOST", "DRIVER", "USED", "BY"]
    assert table[1].split() == [f"{running.name}_data", host, "local", f"{running.name}_db_1"]


def test_port_prints_the_published_binding_at_the_hosts_address(running, lab):
    second = lab.cluster.hosts[1]
    assert running.ok("port", "web", "80") == f"{second.address}:18581\n"
    status, _, err = running.nap("port", "web", "81")
    assert (status, err) == (7, f"ERROR: {second.name}: {running.name}_web_1: port 81/tcp is not published\n")


def test_ls_shows_the_project_with_counts_per_host(running):
    counts = {}
    for host, _ in running.containers().values():
        counts[host] = counts.get(host, 0) + 1
    projects = {p["Name"]: p for p in json.loads(running.ok("ls", "--format", "json"))}
    assert projects[running.name]["Hosts"] == {h: {"running": n} for h, n in counts.items()}
    line = next(line for line in running.ok("ls").splitlines() if line.startswith(running.name + " "))
    assert "; ".join(f"{h}: running({n})" for h, n in sorted(counts.items())) in line


def test_pause_and_unpause_change_the_state_in_ps(running):
    def state():
        rows = [json.loads(line) for line in running.ok("ps", "--format", "json", "talker").splitlines()]
        return [r["State"] for r in rows]

    running.ok("pause", "talker")
    assert state() == ["paused"]
    running.ok("unpause", "talker")
    assert state() == ["running"]


def test_events_show_a_start_with_its_host(running):
    since = time.time() - 1
    running.ok("restart", "talker")
    name = f"{running.name}_talker_1"
    host, container = running.containers()[name]
    out = running.ok("events", "--json", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}", "talker")
    events = [json.loads(line) for line in out.splitlines()]
    assert {"action": "start", "id": container.id, "service": "talker", "host": host} in [
        {k: e[k] for k in ("action", "id", "service", "host")} for e in events]
    text = running.ok("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}", "talker")
    assert any(f" container start {container.id} (" in line and f"host={host})" in line
               for line in text.splitlines())


def test_logs_since_tail_and_without_prefix(running):
    name = f"{running.name}_talker_1"
    until(lambda: running.ok("logs", "--no-log-prefix", "talker"), lambda out: "three" in out)
    host = running.containers()[name][0]
    assert running.ok("logs", "-n", "2", "--no-log-prefix", "talker").splitlines()[-2:] == ["two", "three"]
    assert running.ok("logs", "--tail", "1", "talker") == f"talker_1@{host} | three\n"
    assert running.ok("logs", "--since", "1h", "-n", "1", "--no-log-prefix", "talker") == "three\n"
    assert running.ok("logs", "--since", str(int(time.time()) + 3600), "talker") == ""


def test_stats_no_stream_has_one_row_per_container_with_its_host(running):
    lines = running.ok("stats", "--no-stream").splitlines()
    assert lines[0].split()[:4] == ["NAME", "HOST", "CPU", "%"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows == {name: host for name, (host, _) in running.containers().items()}


def test_version_names_every_hosts_docker(running, lab):
    doc = json.loads(running.ok("version", "--format", "json"))
    assert doc["version"]
    assert [h["host"] for h in doc["hosts"]] == [h.name for h in lab.cluster.hosts]
    assert all(h["docker"] and not h["error"] for h in doc["hosts"])


def test_down_v_removes_the_volumes_on_every_host_but_one_another_project_uses(lab, tmp_path):
    first, second = lab.cluster.hosts[0].name, lab.cluster.hosts[1].name
    owner = DeployProject(lab, tmp_path / "owner", prefix="v")
    other = DeployProject(lab, tmp_path / "other", prefix="w")
    (tmp_path / "owner").mkdir()
    (tmp_path / "other").mkdir()
    volume = f"{owner.name}_data"

    def holders():
        return sorted(h.name for h in lab.cluster.hosts
                      if volume in lab.exec(h.name, "docker", "volume", "ls", "-q").stdout.split())

    try:
        owner.write({"db": sleeper(volumes=["data:/data"], scale=2, **{"x-nap": {"hosts": [first, second]}})},
                    volumes={"data": {}})
        owner.ok("up", "-d")
        assert holders() == sorted([first, second])
        # another project mounts the owner's volume on the first host, by its name
        other.write({"user": sleeper(volumes=["shared:/shared"], **{"x-nap": {"hosts": [first]}})},
                    volumes={"shared": {"external": True, "name": volume}})
        other.ok("up", "-d")
        status, _, err = owner.nap("down", "-v")
        assert status == 0, err
        assert f"WARNING: volume {volume} on {first} kept: in use by {other.name}_user_1" in err
        assert holders() == [first]
        assert owner.containers() == {}
        other.ok("down", "-v")  # an external volume is never removed
        assert holders() == [first]
    finally:
        for project in (owner, other):
            project.cleanup()
        for host in lab.cluster.hosts:
            lab.exec(host.name, "docker", "volume", "rm", "-f", volume)
