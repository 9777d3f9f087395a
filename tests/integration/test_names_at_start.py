"""Names at start on the lab: a container finds its peers by name at its process's first instant, on
another host, with no links or depends_on, and again after a `docker restart` nobody ran nap-compose for.

The names here come from Docker's create-time host entries alone: the module runs the shared lab under
a copy of its cluster file with `resolver: false` (the resolvers keep running; these containers are not
pointed at them). tests/integration/test_names_resolver.py covers the same starts with the resolver.
Each test deploys its own project; the probes run inside the project's containers (glibc's getent),
so every lookup stays in the lab.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid

import pytest
import yaml

from napcompose.cluster import load_cluster_file

from tests.integration.deploy_support import DeployProject, until
from tests.integration.names_support import GETENT_IMAGE, put_getent_image

pytestmark = pytest.mark.integration
STARTS = 20


@pytest.fixture(scope="module")
def hosts_files_lab(lab):
    """The shared lab under a copy of its cluster file with ``network.resolver: false``."""
    with open(lab.cluster_file) as fh:
        data = yaml.safe_load(fh)
    data["network"]["resolver"] = False
    path = os.path.join(lab.dir, f"nap-cluster-no-resolver-{uuid.uuid4().hex[:8]}.yml")
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    try:
        yield dataclasses.replace(lab, cluster_file=path, cluster=load_cluster_file(path))
    finally:
        os.remove(path)


@pytest.fixture
def project(hosts_files_lab, tmp_path):
    p = DeployProject(hosts_files_lab, tmp_path, prefix="ns")
    put_getent_image(p)
    yield p
    p.nap("down", "-t", "0")
    p.cleanup()


def hosts(lab):
    return [h.name for h in lab.cluster.hosts]


def test_a_service_without_links_finds_api_on_another_host_at_its_first_instant(project, lab):
    first, *others = hosts(lab)
    project.write({
        "api": {"image": GETENT_IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL",
                "x-nap": {"hosts": [first]}},
        # the lookup is the first thing each replica's process does; a miss ends it with status 1
        "client": {"image": GETENT_IMAGE, "scale": STARTS, "stop_signal": "SIGKILL",
                   "x-nap": {"hosts": others},
                   "command": ["sh", "-c", "getent hosts api > /tmp/first || exit 1; "
                                           "getent hosts api-1 >> /tmp/first || exit 1; exec sleep 3600"]},
    })
    started = time.monotonic()
    project.ok("up", "-d")
    api = project.address(f"{project.name}_api_1")
    containers = project.containers()
    clients = {name: c for name, (host, c) in containers.items() if "_client_" in name}
    assert len(clients) == STARTS and all(containers[name][0] != first for name in clients)
    # ``getent hosts`` asks for an IPv6 address first, which /etc/hosts lacks: without a resolver that
    # answers at once that lookup waits for DNS to time out before the IPv4 one finds the entry, so
    # wait for every process to be past its two lookups (or ended by a miss)
    def settled():
        states = {}
        for name, container in clients.items():
            container.reload()
            if container.status != "running":
                states[name] = ("ended", container.attrs["State"]["ExitCode"])
            else:
                code, out = project.run_in(name, "cat", "/tmp/first")
                states[name] = ("running", [line.split()[0] for line in out.splitlines()])
        return states

    states = until(settled, lambda found: all(s[0] == "ended" or len(s[1]) == 2 for s in found.values()),
                   timeout=60, interval=1)
    failures = {name: state for name, state in states.items() if state != ("running", [api, api])}
    print(f"{STARTS} starts without a resolver: {len(failures)} failures; up and every first lookup done in "
          f"{time.monotonic() - started:.1f} s")
    assert failures == {}, f"{len(failures)} of {STARTS} starts failed: {failures}"


def test_docker_restart_on_the_host_keeps_every_name_without_nap_compose(project, lab):
    first, second, *_ = hosts(lab)
    project.write({
        "api": {"image": GETENT_IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": 2,
                "x-nap": {"hosts": [first]}},
        "db": {"image": GETENT_IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL",
               "x-nap": {"hosts": [first]}},
        "client": {"image": GETENT_IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL",
                   "links": ["db:database"], "x-nap": {"hosts": [second]}},
    })
    project.ok("up", "-d")
    api1, api2 = project.address(f"{project.name}_api_1"), project.address(f"{project.name}_api_2")
    db = project.address(f"{project.name}_db_1")
    client = f"{project.name}_client_1"
    done = lab.exec(second, "docker", "restart", "-t", "0", client)
    assert done.returncode == 0, done.stderr
    wanted = {"api": api1, "api-2": api2, "api_2": api2, f"{project.name}-api-2": api2,
              f"{project.name}_api_2": api2, "db": db, "database": db}

    def answers():
        # one exec for every name: getaddrinfo, as programs resolve a peer (/etc/hosts answers it)
        script = 'for n in "$@"; do set -- $(getent ahostsv4 "$n" | head -n 1) ; echo "${1:-none}"; done'
        code, out = project.run_in(client, "sh", "-c", script, "sh", *wanted)
        got = out.split()
        return dict(zip(wanted, [None if a == "none" else a for a in got])) if code == 0 else {}

    # the names are in the file Docker wrote before the process started: every name within 1 s
    # (a probe is one `docker exec` over SSH: the round trips count against the second)
    try:
        found = until(answers, lambda found: found == wanted, timeout=1.0, interval=0.05)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n/etc/hosts:\n{project.etc_hosts(client)}") from None
    assert found == wanted
