"""A host cut off the switch is down for the run after ssh.connect_timeout, and comes back by itself.

The link of a lab host goes down here, so this runs on a small lab of its own (``naptm``), while the
session holds the integration lock (the ``lab`` fixture), as the other labs of the suite are built.
"""

from __future__ import annotations

import subprocess

import pytest

from napcompose.lab.state import layout_of, read_state
from tests.integration.deploy_support import module_lab, DeployProject, sleeper

LAB_NAME, LAB_SUBNET = "naptm", "198.18.6.0/24"


@pytest.fixture(scope="module")
def small_lab(lab):
    with module_lab(LAB_NAME, LAB_SUBNET, 2) as started:
        yield started


class LinkDown:
    """Take a lab host's cable out of the switch (its veth's root end), and put it back."""

    def __init__(self, lab, host_name):
        self.veth = layout_of(read_state(lab.dir)).host(host_name).veth

    def _set(self, state):
        subprocess.run(["ip", "link", "set", self.veth, state], check=True)

    def __enter__(self):
        self._set("down")
        return self

    def __exit__(self, *exc):
        self._set("up")


def test_a_host_cut_off_the_switch_is_down_for_the_run_after_the_connect_timeout(small_lab, tmp_path):
    project = DeployProject(small_lab, tmp_path, prefix="m")
    victim = small_lab.cluster.hosts[1]
    try:
        project.write({"a": sleeper(scale=2)})
        project.ok("up", "-d")
        assert sorted(h for h, _ in project.containers().values()) == ["node1", "node2"]
        with LinkDown(small_lab, victim.name):
            status, out, err = project.nap("ps")
            assert status == 8, err
            assert (f"  {victim.name}: list containers of project {project.name}: SSH connection to "
                    f"root@{victim.address}:22: no answer within 1 s (ssh.connect_timeout)") in err, err
            rows = out.splitlines()[1:]
            assert any(" node1 " in row and " running" in row for row in rows), out
            # up goes on with the host that answers; the dead one is reported, not waited for again
            project.write({"a": sleeper(scale=2, environment={"V": "2"})})
            status, _, err = project.nap("up", "-d")
            assert status == 8, err
            assert err.count("no answer within 1 s (ssh.connect_timeout)") >= 1, err
        project.reconnect()
        project.ok("up", "-d")
        assert project.nap("ps")[0] == 0
        assert all("V=2" in c.attrs["Config"]["Env"] for _, c in project.containers().values())
    finally:
        project.reconnect()
        project.cleanup()
