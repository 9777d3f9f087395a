"""A command whose project lock was taken over while it stalled changes nothing more, on the lab.

``down`` is stopped (SIGSTOP) as soon as it holds the lock; a second operator's ``up --force-recreate``
waits out the stalled lease (a short one, ``lock: {ttl: 3}``), takes the lock over and recreates the
replicas; then the stalled ``down`` resumes. Before the fence it removed files and released both
replicas' addresses under the new containers. Now its next step finds the lock gone: exit 10, and
every new container keeps its container, its address and its reservation.
"""

import os
import signal
import subprocess
import sys

import pytest
import yaml

from napcompose.adapters.stores import open_store
from tests.integration.deploy_support import DeployProject, sleeper, until

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="tfence")
    yield p
    p.cleanup()


@pytest.fixture
def short_lease_cluster(project):
    """The lab's cluster file with a 3 s lease, beside it (its key and known_hosts paths are relative)."""
    with open(project.lab.cluster_file) as fh:
        data = yaml.safe_load(fh)
    data["lock"] = {"ttl": 3}
    path = os.path.join(os.path.dirname(project.lab.cluster_file), f"{project.name}-cluster.yml")
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    yield path
    os.remove(path)


def _nap(project, cluster, *argv, **popen):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": REPO, "NAP_CLUSTER": cluster}
    return subprocess.Popen([sys.executable, "-m", "napcompose", "-p", project.name, *argv], cwd=str(project.dir),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_a_stalled_down_resumed_after_a_takeover_undoes_nothing(project, short_lease_cluster):
    cluster = short_lease_cluster
    project.write({"web": sleeper(scale=2)})
    project.ok("up", "-d")
    store = open_store(project.lab.cluster.store)
    lock_key = f"{project.lab.cluster.store.prefix.rstrip('/')}/locks/{project.name}"

    down = _nap(project, cluster, "down", "-t", "20")
    try:
        until(lambda: store.get(lock_key), lambda found: found is not None, timeout=30, interval=0.005)
        down.send_signal(signal.SIGSTOP)
        up = _nap(project, cluster, "up", "-d", "--force-recreate", "-t", "1", "--lock-wait=60")
        out, err = up.communicate(timeout=120)
        assert up.returncode == 0, f"up exited {up.returncode}:\n{out}\n{err}"
        assert "looks stale" in err or "Waiting for the lock" in err, err
    finally:
        down.send_signal(signal.SIGCONT)
    out, err = down.communicate(timeout=120)
    assert down.returncode == 10, f"down exited {down.returncode}:\n{out}\n{err}"
    assert "was taken over" in err, err

    running = {name: c for name, (host, c) in project.containers().items() if c.status == "running"}
    assert len(running) == 2, sorted(project.containers())
    held = {a.owner: a.ip for a in project.allocations()}
    assert sorted(held) == [f"{project.name}/web/1", f"{project.name}/web/2"]
    assert sorted(held.values()) == sorted(project.address(name) for name in running)
    status, out, err = project.nap("network", "check")
    assert f"{project.name}" not in out, out  # no finding names this project's containers
    assert store.get(lock_key) is None  # the new holder gave it back; the stalled one deleted nothing
