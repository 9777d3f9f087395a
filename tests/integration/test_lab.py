"""The lab itself: one flat L2 segment across hosts, a router without a way out, and a clean teardown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from napcompose.errors import LabError
from napcompose.lab import daemons, lab_down, lab_status, lab_up, netns
from napcompose.lab.layout import make_layout
from napcompose.lab.teardown import CGROUP_ROOT

IMAGE = "nap-lab/busybox:latest"


def _addr(lab, last_octet: int) -> str:
    return lab.subnet.rsplit(".", 1)[0] + f".{last_octet}"


def _docker(lab, host, *argv, check=True):
    proc = lab.exec(host, "docker", *argv)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(argv)} on {host} failed: {proc.stderr}")
    return proc


@pytest.fixture
def pinger(lab):
    """A container with a fixed address on node1, removed afterwards."""
    name, ip = "labtest_target", _addr(lab, 252)  # spare: outside the pool, which the bridge filters guard
    _docker(lab, "node1", "rm", "-f", name, check=False)
    _docker(lab, "node1", "run", "-d", "--name", name, "--net", lab.cluster.network.name, "--ip", ip,
            "--stop-signal", "SIGKILL", IMAGE, "sleep", "600")
    yield name, ip
    _docker(lab, "node1", "rm", "-f", name, check=False)


def test_containers_on_two_hosts_reach_each_other_by_address(lab, pinger):
    _, target_ip = pinger
    proc = _docker(lab, "node2", "run", "--rm", "--net", lab.cluster.network.name, "--ip", _addr(lab, 253),
                   IMAGE, "ping", "-c", "2", "-W", "2", target_ip, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 packets received" in proc.stdout


def test_default_route_is_the_router_and_the_router_has_no_way_out(lab, pinger):
    name, _ = pinger
    routes = _docker(lab, "node1", "exec", name, "ip", "route").stdout
    assert f"default via {lab.router} dev eth0" in routes
    router_ns = f"{lab.name}-router"
    # `ip route get` only consults the routing table: no packet is sent.
    lookup = subprocess.run(netns.in_netns(router_ns, ["ip", "route", "get", "192.0.2.99"]),
                            capture_output=True, text=True)
    assert lookup.returncode != 0
    assert "unreachable" in lookup.stderr.lower()
    for ns in [router_ns] + [f"{lab.name}-{h.name}" for h in lab.cluster.hosts]:
        default = subprocess.run(netns.in_netns(ns, ["ip", "route", "show", "default"]),
                                 capture_output=True, text=True, check=True)
        assert default.stdout.strip() == "", f"{ns} has a default route: {default.stdout}"


def test_containers_resolve_names_only_inside_the_lab(lab, pinger):
    # Docker's embedded resolver forwards names it does not know to the daemon's nameservers: they
    # must be the lab's router (which serves nothing), never this machine's own.
    name, _ = pinger
    for host in lab.cluster.hosts:
        pidfile = os.path.join(lab.dir, host.name, "dockerd.pid")
        with open(pidfile) as f, open(f"/proc/{f.read().strip()}/cmdline", "rb") as cmd:
            argv = cmd.read().decode().split("\0")
        assert f"--dns={lab.router}" in argv, argv
    path = _docker(lab, "node1", "inspect", "-f", "{{.ResolvConfPath}}", name).stdout.strip()
    with open(path) as f:
        resolv = f.read()
    servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert servers and all(s in ("127.0.0.11", lab.router) for s in servers), resolv


def test_host_address_moved_from_eth0_to_br0(lab):
    for host in lab.cluster.hosts:
        eth0 = lab.exec(host.name, "ip", "-o", "-4", "addr", "show", "dev", "eth0", check=True).stdout
        br0 = lab.exec(host.name, "ip", "-o", "-4", "addr", "show", "dev", "br0", check=True).stdout
        link = lab.exec(host.name, "ip", "-o", "link", "show", "dev", "eth0", check=True).stdout
        assert eth0.strip() == ""
        assert f" {host.address}/24 " in br0
        assert " master br0 " in link


def test_status_and_a_second_up_report_the_running_lab(lab):
    status = lab_status(lab.dir)
    assert status["healthy"] is True
    assert [h["address"] for h in status["hosts"]] == [h.address for h in lab.cluster.hosts]
    pids = [h["dockerd"]["pid"] for h in status["hosts"]]
    began = time.monotonic()
    again, already, _ = lab_up(lab.name, lab.subnet, len(lab.cluster.hosts), lab.dir, lambda line: None)
    assert already is True
    assert time.monotonic() - began < 5
    assert [h["dockerd"]["pid"] for h in again["hosts"]] == pids
    # Options left unset take the running lab's values: a plain `lab up --dir DIR` reports it too.
    _, already, _ = lab_up(None, None, None, lab.dir, lambda line: None)
    assert already is True
    with pytest.raises(LabError) as err:
        lab_up(None, None, len(lab.cluster.hosts) + 1, lab.dir, lambda line: None)
    assert str(err.value) == (f"a lab '{lab.name}' ({len(lab.cluster.hosts)} hosts, {lab.subnet}) already runs "
                              f"in {lab.dir}; run `nap-compose lab down --dir {lab.dir}` first")
    assert lab_status(lab.dir)["healthy"] is True


def test_status_json_from_the_command_line(lab, capsys):
    from napcompose.cli import main

    assert main(["lab", "status", "--dir", lab.dir, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["healthy"] is True
    assert {h["name"] for h in data["hosts"]} == {h.name for h in lab.cluster.hosts}
    assert all(h["sshd"]["running"] and h["dockerd"]["answers"] for h in data["hosts"])


def test_lab_exec_runs_in_the_hosts_namespace_with_its_docker(lab):
    cli = [sys.executable, "-m", "napcompose", "lab", "exec", "--dir", lab.dir]
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    ps = subprocess.run(cli + ["node2", "--", "docker", "info", "--format", "{{.DockerRootDir}}"],
                        capture_output=True, text=True, env=env)
    assert (ps.returncode, ps.stdout.strip()) == (0, os.path.join(lab.dir, "node2", "docker"))
    addr = subprocess.run(cli + ["node2", "--", "ip", "-o", "-4", "addr", "show", "dev", "br0"],
                          capture_output=True, text=True, env=env)
    assert f" {lab.cluster.host('node2').address}/24 " in addr.stdout
    assert subprocess.run(cli + ["node2", "--", "sh", "-c", "exit 3"], env=env).returncode == 3
    unknown = subprocess.run(cli + ["node9", "--", "true"], capture_output=True, text=True, env=env)
    assert unknown.returncode == 9
    assert unknown.stderr == f"ERROR: lab {lab.name} has no host 'node9' (hosts: node1, node2, node3)\n"


def test_base_image_has_the_promised_applets(lab):
    proc = _docker(lab, "node3", "run", "--rm", "--net", "none", IMAGE, "sh", "-c",
                   "for a in sh ping nc wget httpd hostname cat sleep; do which $a || echo MISSING $a; done")
    assert "MISSING" not in proc.stdout
    assert proc.stdout.count("/bin/") == 8


def _lab_cgroups(name):
    found = []
    for controller in os.listdir(CGROUP_ROOT):
        base = os.path.join(CGROUP_ROOT, controller)
        if os.path.isdir(base):
            found += [os.path.join(base, d) for d in os.listdir(base) if d.startswith(f"nap-lab-{name}-")]
    return found


def _kill_and_wait(pid, marker):
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while daemons.alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_repair_crash_recovery_and_down_leave_nothing_behind():
    name, subnet = "naplt", "198.18.2.0/24"
    # A short path: the daemons' unix sockets live under it.
    directory = os.path.join(tempfile.mkdtemp(prefix="naplt-", dir="/tmp"), "lab")
    layout = make_layout(name, subnet, 1, directory)
    marker = layout.dir + "/"
    lab_up(name, subnet, 1, directory, lambda line: None)
    try:
        # The same name from another directory is refused while this lab runs; nothing is made there.
        elsewhere = directory + "2"
        with pytest.raises(LabError) as err:
            lab_up(name, subnet, 1, elsewhere, lambda line: None)
        assert str(err.value) == (f"a lab named '{name}' already runs from {directory}: stop it with "
                                  f"`nap-compose lab down --dir {directory}` or choose another --name")
        assert not os.path.exists(elsewhere)
        # A lost sshd is restarted in place: the lab's dockerd and its containers stay as they are.
        dockerd_before = lab_status(directory)["hosts"][0]["dockerd"]["pid"]
        _kill_and_wait(daemons.read_pid(layout.hosts[0].sshd_pidfile), marker)
        assert lab_status(directory)["healthy"] is False
        said = []
        status, already, _ = lab_up(name, subnet, 1, directory, said.append)
        assert (already, status["healthy"]) == (True, True)
        assert said == [f"restarting node1/sshd of the lab in {directory}"]
        assert status["hosts"][0]["dockerd"]["pid"] == dockerd_before

        sock = layout.hosts[0].docker_sock
        env = {"DOCKER_HOST": f"unix://{sock}", "PATH": os.environ["PATH"]}
        run = subprocess.run(["docker", "run", "-d", "--net", "nap", "--ip", "198.18.2.200", IMAGE, "sleep", "600"],
                             env=env, capture_output=True, text=True, check=True)
        container = run.stdout.strip()
        inspect = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container], env=env,
                                 capture_output=True, text=True, check=True)
        container_pid = int(inspect.stdout)
        # A crash: the host's dockerd dies without cleaning up; its container and shim live on.
        _kill_and_wait(daemons.read_pid(os.path.join(layout.hosts[0].dir, "dockerd.spawn.pid")), marker)
        assert lab_status(directory)["healthy"] is False
        said = []
        status, already, _ = lab_up(name, subnet, 1, directory, said.append)
        assert already is False and status["healthy"] is True
        assert any("cleaning up" in line for line in said)
        assert not os.path.exists(f"/proc/{container_pid}")
        namespaces = daemons.lab_namespace_ids(layout)
        assert len(namespaces) == 2 + 1  # router and node1 network namespaces, node1 mount namespace
        pids_before_down = daemons.lab_pids(marker, namespaces)
        assert pids_before_down
    finally:
        left = lab_down(directory, lambda line: None)
    assert left == []
    assert netns.leftovers(layout) == []
    assert not any(n.startswith(f"{name}-") for n in os.listdir(netns.NETNS_DIR))
    assert not any(link.startswith(f"{name}-") for link in os.listdir("/sys/class/net"))
    # The namespaces are gone (their inode numbers may already name someone else's namespaces).
    assert daemons.lab_namespace_ids(layout) == frozenset()
    assert daemons.lab_pids(marker) == []
    assert not any(daemons.alive(p, marker) for p in pids_before_down)
    assert _lab_cgroups(name) == []
    assert not os.path.exists(directory)
    os.rmdir(os.path.dirname(directory))
    with pytest.raises(LabError) as err:
        lab_status(directory)
    assert str(err.value) == f"no lab in {directory} (no state.json)"


def test_a_child_started_for_one_lab_is_never_taken_for_another(tmp_path):
    lab_a, lab_b = str(tmp_path / "a") + "/", str(tmp_path / "b") + "/"
    pid = daemons.spawn(["sh", "-c", "sleep 30", lab_a + "x"], str(tmp_path / "log"), str(tmp_path / "pid"))
    try:
        assert daemons.alive(pid, lab_a) is True
        assert daemons.alive(pid, lab_b) is False
        assert pid in daemons.lab_pids(lab_a)
        assert pid not in daemons.lab_pids(lab_b)
        assert daemons.stop([pid], lab_b, timeout=0.5) == []
        assert daemons.alive(pid, lab_a) is True
    finally:
        daemons.stop([pid], lab_a, timeout=5)
    assert daemons.alive(pid, lab_a) is False


def _mount_ns(pid):
    return os.stat(f"/proc/{pid}/ns/mnt").st_ino


def test_a_host_cannot_see_the_operators_files(lab, tmp_path):
    # The checkout this test runs from, and a file the operator just wrote under /tmp.
    checkout_file = os.path.abspath(__file__)
    probe = tmp_path / "operator-secret.txt"
    probe.write_text("operator content\n")
    status = lab_status(lab.dir)
    for host in status["hosts"]:
        # dockerd and sshd of one host share one mount namespace, which is not the machine's.
        dockerd_ns, sshd_ns = _mount_ns(host["dockerd"]["pid"]), _mount_ns(host["sshd"]["pid"])
        assert dockerd_ns == sshd_ns != _mount_ns(os.getpid())
        for path in (checkout_file, str(probe), lab.cluster_file, os.path.join(lab.dir, "id_ed25519")):
            seen = lab.exec(host["name"], "cat", path)
            assert seen.returncode != 0 and "No such file or directory" in seen.stderr, (host["name"], path)
        # Its own state directory stays where the operator finds it.
        own = lab.exec(host["name"], "ls", os.path.join(lab.dir, host["name"]))
        assert "docker.sock" in own.stdout.split()
        other = [h["name"] for h in status["hosts"] if h["name"] != host["name"]][0]
        assert lab.exec(host["name"], "ls", os.path.join(lab.dir, other)).returncode != 0
    # A bind mount of an operator file: the host's Docker finds nothing there and makes an empty
    # directory, as a remote daemon does; the operator's content never reaches the container.
    out = _docker(lab, "node2", "run", "--rm", "--net", "none", "-v", f"{probe}:/f.txt", IMAGE, "sh", "-c",
                  "if [ -d /f.txt ]; then echo DIRECTORY; fi; cat /f.txt 2>/dev/null; true").stdout
    assert out == "DIRECTORY\n"
    assert probe.read_text() == "operator content\n"
    # Each host has a /var/lib/nap-compose of its own.
    marker = "/var/lib/nap-compose/lab-probe"
    lab.exec("node1", "mkdir", "-p", marker, check=True)
    try:
        assert lab.exec("node2", "ls", "-d", marker).returncode != 0
        assert not os.path.exists(marker)
        assert os.path.isdir(os.path.join(lab.dir, "node1", "var-lib-nap-compose", "lab-probe"))
    finally:
        lab.exec("node1", "rmdir", marker, check=True)
