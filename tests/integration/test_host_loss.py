"""Host loss on a lab of its own (``naphl``, 3 hosts): a linked service's host is cut off the switch,
`up` brings the service back on a live host with a new address and the consumer reaches it by name;
once the host is back, `up` removes the stale copy and releases its address; `host evict` lets a
replica move with its address. At every step every host's containers are scanned (through each
host's own Docker socket, which a partition does not cut) and no address is held twice.

The module holds the integration lock through the ``lab`` fixture, so no other session's tests run
beside these faults.
"""

import json
import subprocess
import sys
from collections import Counter

import pytest

from napcompose.lab import exec_argv
from tests.integration.deploy_support import module_lab, DeployProject, sleeper, until

pytestmark = pytest.mark.integration

LAB_NAME, LAB_SUBNET = "naphl", "198.18.4.0/24"


@pytest.fixture(scope="module")
def loss_lab(lab):
    with module_lab(LAB_NAME, LAB_SUBNET, 3) as started:
        yield started


def _fault(lab, verb, host):
    done = subprocess.run([sys.executable, "-m", "napcompose", "lab", verb, host, "--dir", lab.dir],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _on_host(lab, host, *argv):
    full, env = exec_argv(lab.dir, host, argv)
    return subprocess.run(full, env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _scan(lab, skip=()):
    """(address, host, name, generation) of every running container on the cluster network, every host."""
    found = []
    for host in lab.cluster.hosts:
        if host.name in skip:
            continue
        ids = _on_host(lab, host.name, "docker", "ps", "-q").stdout.split()
        if not ids:
            continue
        listing = _on_host(lab, host.name, "docker", "inspect", *ids)
        assert listing.returncode == 0, listing.stderr
        for c in json.loads(listing.stdout):
            address = (c["NetworkSettings"]["Networks"].get(lab.cluster.network.name) or {}).get("IPAddress")
            if address:
                labels = c["Config"]["Labels"] or {}
                found.append((address, host.name, c["Name"].lstrip("/"), labels.get("io.nap-compose.generation")))
    return found


def _no_duplicates(lab, skip=()):
    found = _scan(lab, skip)
    twice = [a for a, n in Counter(a for a, _, _, _ in found).items() if n > 1]
    assert not twice, [f for f in found if f[0] in twice]
    return found


def _copies(found, name):
    return sorted((host, address, generation) for address, host, n, generation in found if n == name)


def _answers(project, lab, client_host, client, target):
    """The address ``target`` resolves to in the client (from its own /etc/hosts), once it answers a ping."""
    def probe():
        got = _on_host(lab, client_host, "docker", "exec", client, "sh", "-c",
                       f"ping -c1 -W1 {target} | head -1")
        return got.stdout if got.returncode == 0 and "(" in got.stdout else None

    line = until(probe, lambda v: v is not None and _ping_ok(lab, client_host, client, target), timeout=30)
    return line.split("(", 1)[1].split(")", 1)[0]


def _ping_ok(lab, host, client, target):
    return _on_host(lab, host, "docker", "exec", client, "ping", "-c1", "-W1", target).returncode == 0


@pytest.fixture
def project(loss_lab, tmp_path):
    p = DeployProject(loss_lab, tmp_path, prefix="hl")
    # the consumer stays on node1; the service it links may run on node2 or node3
    p.write({"api": sleeper(deploy={"placement": {"constraints": ["node.hostname!=node1"]}}),
             "client": sleeper(links=["api"], deploy={"placement": {"constraints": ["node.hostname==node1"]}})})
    yield p
    p.cleanup()


def test_partition_then_up_moves_the_service_and_heal_then_up_removes_the_stale_copy(loss_lab, project):
    lab = loss_lab
    project.ok("up", "-d")
    client = f"{project.name}_client_1"
    api = f"{project.name}_api_1"
    found = _no_duplicates(lab)
    [(lost, old_ip, _)] = _copies(found, api)
    assert _answers(project, lab, "node1", client, "api") == old_ip

    _fault(lab, "partition", lost)
    try:
        status, out, err = project.nap("up", "-d")
        assert status == 8, err  # the lost host is reported; everything else was done
        [other] = [h.name for h in lab.cluster.hosts if h.name not in ("node1", lost)]
        assert f"host {lost} unreachable: moving api_1 to {other} with a new address ({old_ip} stays " \
               "reserved there)" in err
        found = _no_duplicates(lab)
        copies = _copies(found, api)
        assert [(h, g) for h, _, g in copies] == sorted([(lost, "1"), (other, "2")])
        new_ip = next(a for h, a, _ in copies if h == other)
        assert new_ip != old_ip
        assert _answers(project, lab, "node1", client, "api") == new_ip
        assert _answers(project, lab, "node1", client, "api_1") == new_ip
        held = {a.owner: (a.ip, a.host, a.state) for a in project.allocations()}
        assert held[f"{project.name}/api/1@gen1"] == (old_ip, lost, "stranded")
        assert held[f"{project.name}/api/1"][:2] == (new_ip, other)
        status, out, _ = project.nap("ps")
        rows = [line.split() for line in out.splitlines()[1:]]
        assert [r[2:5] for r in rows if r[0] == api] == sorted([[lost, old_ip, "stranded"],
                                                                 [other, new_ip, "running"]])
    finally:
        _fault(lab, "heal", lost)

    found = _no_duplicates(lab)  # the old copy runs on, at its own (still reserved) address
    assert len(_copies(found, api)) == 2
    status, out, _ = project.nap("ps")
    assert [line.split()[4:6] for line in out.splitlines() if line.startswith(api) and f" {lost} " in line] == \
        [["superseded", "(running)"]]
    project.ok("up", "-d")
    found = _no_duplicates(lab)
    assert _copies(found, api) == [(other, new_ip, "2")]
    owners = sorted(a.owner for a in project.allocations())
    assert owners == [f"{project.name}/api/1", f"{project.name}/client/1"]
    assert _answers(project, lab, "node1", client, "api") == new_ip


def test_evict_moves_the_replica_with_its_address_and_removes_the_hosts_copy_when_it_returns(loss_lab, project):
    lab = loss_lab
    project.ok("up", "-d")
    client = f"{project.name}_client_1"
    api = f"{project.name}_api_1"
    [(lost, ip, _)] = _copies(_no_duplicates(lab), api)
    _fault(lab, "kill", lost)  # gone: its daemons and its containers' processes stop
    try:
        out = project.ok("host", "evict", lost)
        assert out.startswith(f"host {lost} evicted: ")
        status, out, err = project.nap("up", "-d")
        assert status == 8, err
        [other] = [h.name for h in lab.cluster.hosts if h.name not in ("node1", lost)]
        found = _no_duplicates(lab, skip=(lost,))
        assert _copies(found, api) == [(other, ip, "2")]
        assert _answers(project, lab, "node1", client, "api") == ip
    finally:
        _fault(lab, "revive", lost)
    status, out, _ = project.nap("plan")
    assert out.splitlines()[0] == f"api_1 on {lost} ({ip}): remove (host {lost} is evicted)"
    project.ok("up", "-d")
    found = _no_duplicates(lab)
    assert _copies(found, api) == [(other, ip, "2")]
    assert not _on_host(lab, lost, "docker", "ps", "-aq", "--filter",
                        f"label=com.docker.compose.project={project.name}").stdout.split()
    assert project.ok("host", "readmit", lost).startswith(f"host {lost} readmitted")
    project.ok("up", "-d", "--scale", "api=2")
    found = _no_duplicates(lab)
    assert lost in {h for _, h, n, _ in found if n == f"{project.name}_api_2"}
