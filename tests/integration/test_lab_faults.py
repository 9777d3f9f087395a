"""Faults on demand: `lab partition/heal` cut a host off the switch and back, `lab kill/revive` power its
daemons off and on. They disturb a host, so they run on a 2-host lab of their own (``napfi``), while the
session holds the integration lock (through the ``lab`` fixture) so no other session starts one meanwhile.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from napcompose.lab import lab_down, lab_status, lab_up
from napcompose.lab.layout import make_layout

pytestmark = pytest.mark.integration

NAME, SUBNET = "napfi", "198.18.6.0/24"
IMAGE = "nap-lab/busybox:latest"


@pytest.fixture(scope="module")
def fault_lab(lab):
    directory = os.path.join(tempfile.mkdtemp(prefix="napfi-", dir="/tmp"), "lab")
    try:
        lab_up(NAME, SUBNET, 2, directory, lambda line: None)
        yield directory
    finally:
        left = lab_down(directory, lambda line: None) if os.path.exists(os.path.join(directory, "state.json")) \
            else []
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        assert not left, f"lab down left: {left}"


def _lab(directory, *argv):
    return subprocess.run([sys.executable, "-m", "napcompose", "lab", *argv, "--dir", directory],
                          capture_output=True, text=True, timeout=120)


def _exec(directory, host, *argv):
    return subprocess.run([sys.executable, "-m", "napcompose", "lab", "exec", "--dir", directory, host, "--", *argv],
                          capture_output=True, text=True, timeout=120)


def _ssh_answers(address, timeout=1.5):
    """True when sshd's banner arrives from ``address`` within ``timeout``."""
    try:
        with socket.create_connection((address, 22), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(16).startswith(b"SSH-")
    except OSError:
        return False


def _host(status, name):
    return next(h for h in status["hosts"] if h["name"] == name)


def test_partition_and_heal(fault_lab):
    layout = make_layout(NAME, SUBNET, 2, fault_lab)
    node2 = layout.host("node2")
    assert _ssh_answers(node2.address)
    cut = _lab(fault_lab, "partition", "node2")
    assert (cut.returncode, cut.stdout) == (0, f"lab: node2 ({node2.address}) is cut off the switch {NAME}-sw: "
                                               "its packets go nowhere\n")
    again = _lab(fault_lab, "partition", "node2")
    assert (again.returncode, again.stdout) == (0, f"lab: node2 is already cut off the switch {NAME}-sw\n")
    try:
        assert not _ssh_answers(node2.address)
        # node1 cannot reach node2 either, while node2's daemons run on.
        ping = _exec(fault_lab, "node1", "ping", "-c", "1", "-W", "1", node2.address)
        assert ping.returncode != 0
        status = _lab(fault_lab, "status", "--format", "json")
        assert status.returncode == 1
        data = json.loads(status.stdout)
        assert data["healthy"] is False
        assert (_host(data, "node2")["partitioned"], _host(data, "node1")["partitioned"]) == (True, False)
        assert _host(data, "node2")["dockerd"]["running"] and _host(data, "node2")["sshd"]["running"]
        table = _lab(fault_lab, "status").stdout
        rows = {line.split()[0]: line for line in table.splitlines() if line.strip().startswith("node")}
        assert "PARTITIONED" in rows["node2"] and "PARTITIONED" not in rows["node1"]
    finally:
        healed = _lab(fault_lab, "heal", "node2")
    assert (healed.returncode, healed.stdout) == (0, f"lab: node2 ({node2.address}) is back on the switch {NAME}-sw\n")
    assert _lab(fault_lab, "heal", "node2").stdout == f"lab: node2 is already on the switch {NAME}-sw\n"
    deadline = time.monotonic() + 10
    while not _ssh_answers(node2.address) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ssh_answers(node2.address)
    assert lab_status(fault_lab)["healthy"] is True


def test_kill_and_revive_keep_the_hosts_disk(fault_lab):
    layout = make_layout(NAME, SUBNET, 2, fault_lab)
    node1 = layout.host("node1")
    run = _exec(fault_lab, "node1", "docker", "run", "-d", "--name", "victim", "--net", "none", IMAGE,
                "sleep", "600")
    assert run.returncode == 0, run.stderr
    assert _exec(fault_lab, "node1", "sh", "-c", "echo kept > /var/lib/nap-compose/probe").returncode == 0
    before = lab_status(fault_lab)
    try:
        killed = _lab(fault_lab, "kill", "node1")
        assert killed.returncode == 0, killed.stderr
        # the victim's and the names resolver's (dnsmasq, which every lab host runs)
        assert killed.stdout == "lab: node1: dockerd and sshd stopped (2 container process(es) killed)\n"
        assert _lab(fault_lab, "kill", "node1").stdout == "lab: node1 is already killed\n"
        status = lab_status(fault_lab)
        host = _host(status, "node1")
        assert (host["killed"], host["dockerd"]["running"], host["sshd"]["running"]) == (True, False, False)
        assert status["healthy"] is False
        assert not _ssh_answers(node1.address)
        for pid in (_host(before, "node1")["dockerd"]["pid"], _host(before, "node1")["sshd"]["pid"]):
            assert not os.path.exists(f"/proc/{pid}")
        assert "KILLED" in _lab(fault_lab, "status").stdout
        assert _host(status, "node2")["dockerd"]["answers"]  # the other host is untouched
    finally:
        revived = _lab(fault_lab, "revive", "node1")
    assert revived.returncode == 0, revived.stderr
    assert revived.stdout == "lab: node1: dockerd and sshd started again\n"
    assert _lab(fault_lab, "revive", "node1").stdout == "lab: node1: dockerd and sshd already run\n"
    status = lab_status(fault_lab)
    assert status["healthy"] is True and _host(status, "node1")["killed"] is False
    assert _ssh_answers(node1.address)
    # Same disk, same private view: the file and the container are there; the container was stopped.
    assert _exec(fault_lab, "node1", "cat", "/var/lib/nap-compose/probe").stdout == "kept\n"
    assert _exec(fault_lab, "node1", "ls", os.path.abspath(__file__)).returncode != 0
    state = _exec(fault_lab, "node1", "docker", "inspect", "-f", "{{.State.Running}}", "victim").stdout
    assert state.strip() == "false"
    mnt = {os.stat(f"/proc/{_host(status, 'node1')[d]['pid']}/ns/mnt").st_ino for d in ("dockerd", "sshd")}
    assert mnt == {os.stat(node1.mount_ns).st_ino}
    _exec(fault_lab, "node1", "docker", "rm", "-f", "victim")


def test_unknown_host_and_missing_lab_are_clear_errors(fault_lab, tmp_path):
    for verb in ("partition", "heal", "kill", "revive"):
        proc = _lab(fault_lab, verb, "node7")
        assert proc.returncode == 9
        assert proc.stderr == f"ERROR: lab {NAME} has no host 'node7' (hosts: node1, node2)\n"
    missing = _lab(str(tmp_path / "nolab"), "kill", "node1")
    assert (missing.returncode, missing.stderr) == (9, f"ERROR: no lab in {tmp_path / 'nolab'} (no state.json)\n")
    assert lab_status(fault_lab)["healthy"] is True


def test_lab_up_revives_and_heals(fault_lab):
    assert _lab(fault_lab, "kill", "node2").returncode == 0
    assert _lab(fault_lab, "partition", "node1").returncode == 0
    said = []
    status, already, _ = lab_up(NAME, SUBNET, 2, fault_lab, said.append)
    assert (already, status["healthy"]) == (True, True)
    assert said == [f"node1 ({make_layout(NAME, SUBNET, 2, fault_lab).host('node1').address}) is back on the "
                    f"switch {NAME}-sw", f"restarting node2/dockerd, node2/sshd of the lab in {fault_lab}"]
