"""Two writers of one project at once, on the lab: the lock lets one through, and without the lock the
IPAM fencing still never gives two containers one address (every host's containers are scanned)."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import pytest

from napcompose.adapters.bridge_filter import SshBridgeFilter
from napcompose.adapters.docker_engine import DockerEngine
from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.config.files import load_project
from napcompose.errors import AddressFencedError
from napcompose.ipam import Ipam, Pool
from napcompose.orchestrator import Orchestrator
from napcompose.ports import ListReporter
from tests import nap
from tests.integration.deploy_support import addresses_on_every_host, DeployProject, sleeper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="c")
    p.write({"extra": sleeper()})
    for host in ("node1", "node2"):
        (tmp_path / f"pin-{host}.yml").write_text(
            f'version: "2.4"\nservices:\n  extra:\n    x-nap: {{hosts: [{host}]}}\n')
    yield p
    p.cleanup()


def _launch(lab, project, pin, *extra):
    argv = [sys.executable, "-m", "napcompose", "-p", project.name, "-f", "docker-compose.yml", "-f", pin,
            "up", "-d", "--scale", "extra=8", *extra]
    env = {"NAP_CLUSTER": lab.cluster_file, "PYTHONPATH": ROOT, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.Popen(argv, cwd=str(project.dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_lock(lab, name, timeout=120):
    store = open_store(lab.cluster.store)
    key = f"{lab.cluster.store.prefix.rstrip('/')}/locks/{name}"
    deadline = time.monotonic() + timeout
    while store.get(key) is None:
        assert time.monotonic() < deadline, f"nobody took {key}"
        time.sleep(0.05)


def _no_duplicates(project):
    found = addresses_on_every_host(project)
    twice = [a for a, n in Counter(a for a, _, _ in found).items() if n > 1]
    assert not twice, [f for f in found if f[0] in twice]


def _hosts_of_extra(project):
    return Counter(host for name, (host, _) in project.containers().items() if "_extra_" in name)


def test_the_second_writer_fails_naming_the_holder_and_nothing_is_duplicated(lab, project):
    first = _launch(lab, project, "pin-node1.yml")
    _wait_for_lock(lab, project.name)
    second = _launch(lab, project, "pin-node2.yml")
    out2, err2 = second.communicate(timeout=300)
    out1, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 10, err2
    holder = (f"project {project.name} is locked by {getpass.getuser()}@{socket.gethostname()} (pid {first.pid}, "
              f"`nap-compose -p {project.name} -f docker-compose.yml -f pin-node1.yml up -d --scale extra=8`) "
              "since ")
    assert err2.startswith("ERROR: " + holder), err2
    assert _hosts_of_extra(project) == {"node1": 8}
    _no_duplicates(project)


def test_the_second_writer_waits_with_wait_then_converges(lab, project):
    first = _launch(lab, project, "pin-node1.yml")
    _wait_for_lock(lab, project.name)
    second = _launch(lab, project, "pin-node2.yml", "--lock-wait=240")
    out2, err2 = second.communicate(timeout=300)
    out1, err1 = first.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    assert f"Waiting for the lock of project {project.name}, held by " in err2
    assert f"(pid {first.pid}, " in err2
    assert _hosts_of_extra(project) == {"node1": 8}  # replicas that exist never move
    _no_duplicates(project)
    store = open_store(lab.cluster.store)
    assert store.get(f"{lab.cluster.store.prefix.rstrip('/')}/locks/{project.name}") is None


# ---------------------------------------------------------------------------- without the lock


class _Around:
    """An Ipam running ``before``/``after`` around its first ensure_many: where the other run cuts in."""

    def __init__(self, ipam, before=None, after=None):
        self._ipam, self._before, self._after = ipam, before, after

    def __getattr__(self, name):
        return getattr(self._ipam, name)

    def ensure_many(self, requests, vacated=None):
        before, self._before = self._before, None
        if before:
            before()
        got = self._ipam.ensure_many(requests, vacated)
        after, self._after = self._after, None
        if after:
            after()
        return got


def _orchestrator(lab, project, before=None, after=None):
    """The deploy API as the CLI builds it, minus the project lock."""
    clock = SystemClock()
    engines = {h.name: DockerEngine(h, project.connections) for h in lab.cluster.hosts}
    ipam = Ipam(open_store(lab.cluster.store), Pool.from_cluster(lab.cluster), lab.cluster.store.prefix, clock,
                lambda: uuid.uuid4().hex)
    return Orchestrator(lab.cluster, engines, project.connections.files, _Around(ipam, before, after),
                        ListReporter(), clock, bridge_filter=SshBridgeFilter(lab.cluster, project.connections))


def _project(project, pin):
    return load_project(files=["docker-compose.yml", pin], project_name=project.name, environ={},
                        cwd=str(project.dir))


def test_without_the_lock_fencing_refuses_the_second_runs_containers(lab, project):
    scales = {"extra": 8}
    done = {}
    first = _orchestrator(lab, project)
    # The second run looked at every host (no extra_N anywhere), then the first run does all of its work.
    second = _orchestrator(lab, project, before=lambda: done.setdefault(
        "first", nap.up(first, _project(project, "pin-node1.yml"), scales=scales)))
    with pytest.raises(AddressFencedError) as err:
        nap.up(second, _project(project, "pin-node2.yml"), scales=scales)
    assert not done["first"].failed, done["first"]
    extra_1 = project.ipam.lookup(f"{project.name}/extra/1")
    assert str(err.value) == (
        f"address {extra_1.ip} of {project.name}/extra/1 is bound on node1; refusing it on node2: its container "
        "was bound there after (or just before) this run looked at node1: another run is working on it")
    assert _hosts_of_extra(project) == {"node1": 8}
    _no_duplicates(project)


def test_without_the_lock_a_run_whose_addresses_moved_meanwhile_never_starts_its_containers(lab, project):
    scales = {"extra": 4}
    other_reserved, first_done, late = threading.Event(), threading.Event(), {}

    def the_other_run():
        other = _orchestrator(lab, project, after=lambda: (other_reserved.set(), first_done.wait(120)))
        late["report"] = nap.up(other, _project(project, "pin-node2.yml"), scales=scales)

    thread = threading.Thread(target=the_other_run)
    # The first run reserves for node1 and stalls before creating; the other run finds node1 empty and
    # takes the addresses over for node2; then the first run goes on and creates its containers.
    stalled = _orchestrator(lab, project, after=lambda: (thread.start(), other_reserved.wait(120)))
    report = nap.up(stalled, _project(project, "pin-node1.yml"), scales=scales)
    first_done.set()
    thread.join(300)
    failed = [o for o in report.outcomes if o.error]
    assert len(failed) == 4, report
    for outcome in failed:
        assert "was moved to node2 while its container was being created on node1; that container is not " \
               "started" in outcome.error
    assert not late["report"].failed, late["report"]
    assert _hosts_of_extra(project) == {"node2": 4}
    _no_duplicates(project)
