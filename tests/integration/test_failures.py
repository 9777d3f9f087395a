"""A lab host that goes away: per-host errors, the others go on, a partial ps, and a later up converges.

These tests kill a host's sshd, so they run on a small lab of their own (``napft``): the shared
test lab may be serving other sessions at the same time.
"""

import os
import signal
import threading
import time

import pytest

from napcompose.lab.daemons import start_sshd, tcp_open, wait_until
from napcompose.lab.state import layout_of, read_state
from tests.integration.deploy_support import module_lab, DeployProject, sleeper, sshd_processes

pytestmark = pytest.mark.integration

LAB_NAME, LAB_SUBNET = "napft", "198.18.5.0/24"


@pytest.fixture(scope="module")
def own_lab():
    with module_lab(LAB_NAME, LAB_SUBNET, 3) as started:
        yield started


@pytest.fixture
def project(own_lab, tmp_path):
    p = DeployProject(own_lab, tmp_path, prefix="f")
    yield p
    p.cleanup()


class SshdOutage:
    """Kill one lab host's sshd (listener and every session), and bring it back."""

    def __init__(self, lab, host_name):
        self.host = layout_of(read_state(lab.dir)).host(host_name)
        self.netns_inode = os.stat(f"/var/run/netns/{self.host.netns}").st_ino

    def _sshd_pids(self):
        return sshd_processes(self.netns_inode)

    def begin(self):
        # Killed again until none is left: the run reconnects as its connection drops, and a session
        # the listener accepts before it dies is a process the first sweep did not see.
        deadline = time.monotonic() + 10
        while self._sshd_pids() and time.monotonic() < deadline:
            for pid in self._sshd_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        assert not self._sshd_pids(), "sshd did not go away"

    def end(self):
        if not self._sshd_pids():
            start_sshd(self.host)
        # back only once it listens: the next command connects as its process starts
        wait_until(f"sshd of {self.host.name}", lambda: tcp_open(self.host.address, 22), 20.0)


def _chain(project):
    project.write({
        "a": sleeper(scale=3),
        "b": sleeper(scale=3, links=["a"]),
        "c": sleeper(scale=3, links=["b"]),
    })


def test_host_lost_mid_run_gives_per_host_errors_and_a_later_up_converges(project, own_lab):
    lab = own_lab
    _chain(project)
    victim = lab.cluster.hosts[-1].name
    outage = SshdOutage(lab, victim)
    result = {}

    def run():
        result["up"] = project.nap("up", "-d")

    try:
        runner = threading.Thread(target=run)
        runner.start()
        # Pull the plug once the run is under way: after the first container is done.
        deadline = time.monotonic() + 60
        while runner.is_alive() and time.monotonic() < deadline:
            if project.last_err().count(" ... done") >= 1:
                outage.begin()
                break
            time.sleep(0.02)
        runner.join(timeout=300)
        status, out, err = result["up"]
        assert status == 8, err
        assert f"{victim}: " in err, err
        failed_lines = [line for line in err.splitlines() if line.startswith("  ")]
        assert failed_lines, err
        assert any(victim in line for line in failed_lines), err

        # ps: the victim's containers are unknown with the reason; the other hosts are listed.
        project.reconnect(skip=victim)
        status, out, err = project.nap("ps")
        assert status == 8, err
        rows = out.splitlines()[1:]
        assert any(f" {victim} " in row and "unknown (" in row for row in rows), out
        assert any(" running" in row and f" {victim} " not in row for row in rows), out
        assert f"1 of {len(lab.cluster.hosts)} hosts did not answer" in err
    finally:
        outage.end()

    project.reconnect()
    status, out, err = project.nap("up", "-d")
    assert status == 0, err
    containers = project.containers()
    assert sorted(containers) == sorted(f"{project.name}_{s}_{i}" for s in "abc" for i in (1, 2, 3))
    assert all(c.status == "running" for _, c in containers.values())
    for index in (1, 2, 3):
        names = project.block_names(f"{project.name}_c_{index}")
        assert names["b"] == project.address(f"{project.name}_b_1")
    assert project.nap("hosts", "check")[0] == 0
    # One address per replica, nothing leaked by the failed run.
    owners = sorted(a.owner for a in project.allocations())
    assert owners == sorted(f"{project.name}/{s}/{i}" for s in "abc" for i in (1, 2, 3))


def test_unreachable_host_before_the_run(project, own_lab):
    lab = own_lab
    project.write({"a": sleeper(scale=3)})
    project.ok("up", "-d")
    victim = project.containers()[f"{project.name}_a_3"][0]
    outage = SshdOutage(lab, victim)
    try:
        outage.begin()
        project.write({"a": sleeper(scale=3, environment={"V": "2"})})
        status, _, err = project.nap("up", "-d")
        assert status == 8, err
        assert f"  Observing {victim}: list containers: SSH connection to root@" in err
        # The reachable hosts' replicas were recreated all the same, and a_3 came back on one of them
        # with a new address (its old one stays reserved for the copy left on the victim).
        project.reconnect(skip=victim)
        changed = [name for name, (host, c) in project.containers().items()
                   if host != victim and "V=2" in c.attrs["Config"]["Env"]]
        assert sorted(changed) == [f"{project.name}_a_{i}" for i in (1, 2, 3)], changed
    finally:
        outage.end()
    project.reconnect()
    project.ok("up", "-d")
    containers = project.containers()
    assert all("V=2" in c.attrs["Config"]["Env"] for _, c in containers.values())
    assert containers[f"{project.name}_a_3"][0] != victim, "the copy left on the victim is removed"
    assert sorted(a.owner for a in project.allocations()) == [f"{project.name}/a/{i}" for i in (1, 2, 3)]
