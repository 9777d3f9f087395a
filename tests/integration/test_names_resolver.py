"""The names resolver on the lab (3 hosts): dnsmasq per host, started by `network create`, fed by the
files nap-compose writes once per host; consumers on another host see every replica of a service.

The lab's cluster file leaves the resolver on (the default), so `lab up` started one on every host;
the module runs `network create` again, which finds them as wanted. Every lookup runs inside a
project's own container (glibc's getent), against its host's resolver on the lab segment.
"""

from __future__ import annotations

import io
import time

import pytest

from napcompose.adapters import resolver
from napcompose.cli import main
from tests.integration.deploy_support import DeployProject, until
from tests.integration.names_support import GETENT_IMAGE, put_getent_image

pytestmark = pytest.mark.integration


def nap(lab, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, cwd="/",
                  environ={"NAP_CLUSTER": lab.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def names_lab(lab):
    """The shared lab, whose resolvers `lab up` started; `network create` (run again here) keeps them."""
    assert lab.cluster.network.resolver is not None, "the lab's cluster file turned the resolver off"
    status, out, err = nap(lab, "network", "create")
    assert status == 0, out + err
    return lab, out


def project_on(names_lab, tmp_path, prefix="nr"):
    lab, _ = names_lab
    p = DeployProject(lab, tmp_path, prefix=prefix)
    put_getent_image(p)
    return p


def addresses(project, container, name):
    """The distinct addresses ``getent ahostsv4 name`` gives inside ``container`` (getaddrinfo, as programs
    ask); [] when the name is unknown. A `docker exec` that fails of itself (it happens on a loaded
    machine) is tried again: the answer is what getent says, not what the exec did."""
    for _ in range(3):
        code, out = project.run_in(container, "sh", "-c", 'getent ahostsv4 "$1"; echo "status $?"', "sh", name)
        lines = out.strip().splitlines()
        if lines and lines[-1].startswith("status "):
            break
    if not lines or lines[-1] != "status 0":
        return []
    return sorted({line.split()[0] for line in lines[:-1] if line.strip()})


def sleeper(host, **extra):
    spec = {"image": GETENT_IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "x-nap": {"hosts": [host]}}
    spec.update(extra)
    return spec


def test_network_create_runs_a_resolver_on_every_host_and_network_check_reports_one_that_is_down(names_lab):
    lab, created = names_lab
    for host in lab.cluster.hosts:
        assert f"{host.name}  resolver" in created or f"{host.name}" in created
        done = lab.exec(host.name, "docker", "inspect", "-f", "{{.State.Running}} {{.HostConfig.NetworkMode}}",
                        resolver.CONTAINER)
        assert done.stdout.split() == ["true", "host"], done.stderr
    victim = lab.cluster.hosts[1].name
    assert lab.exec(victim, "docker", "stop", "-t", "0", resolver.CONTAINER).returncode == 0
    status, out, err = nap(lab, "network", "check")
    assert status == 1 and f"resolver-down      {victim}" in out, out + err
    status, out, err = nap(lab, "network", "create")  # repairs it
    assert status == 0 and f"{victim}  resolver  started" in out, out + err
    status, out, err = nap(lab, "network", "check")
    assert "resolver-down" not in out, out + err


def test_scale_shows_every_replica_to_a_consumer_on_another_host_within_two_seconds(names_lab, tmp_path):
    lab, _ = names_lab
    first, second, third = [h.name for h in lab.cluster.hosts]
    project = project_on(names_lab, tmp_path)
    try:
        project.write({
            "api": sleeper(first, **{"x-nap": {"hosts": [first, third]}}),
            # no links, no depends_on: the name comes from the resolver, at the process's first instant
            "client": sleeper(second, command=["sh", "-c", "getent hosts api > /tmp/first || exit 1; "
                                                           "exec sleep 3600"]),
        })
        project.ok("up", "-d")
        client = f"{project.name}_client_1"
        api1 = project.address(f"{project.name}_api_1")
        assert until(lambda: project.run_in(client, "cat", "/tmp/first")[1].split()[:1], lambda v: v == [api1],
                     timeout=5)
        assert addresses(project, client, "api") == [api1]

        project.ok("scale", "api=3")
        returned = time.monotonic()
        wanted = sorted(project.address(f"{project.name}_api_{i}") for i in (1, 2, 3))
        seen = until(lambda: addresses(project, client, "api"), lambda found: found == wanted, timeout=2.0,
                     interval=0.05)
        took = time.monotonic() - returned
        assert seen == wanted
        for name in ("api-2", "api_2", f"{project.name}-api-2", f"{project.name}_api_2"):
            assert addresses(project, client, name) == [project.address(f"{project.name}_api_2")], name

        project.ok("scale", "api=1")
        assert until(lambda: addresses(project, client, "api"), lambda found: found == [api1], timeout=2.0,
                     interval=0.05) == [api1]
        assert addresses(project, client, "api-3") == []
        print(f"scale api=1->3: 3 addresses in {took:.2f} s after scale returned")
        assert project.nap("hosts", "check")[0] == 0
    finally:
        project.nap("down", "-t", "0")
        project.cleanup()


def test_two_projects_with_the_same_service_names_resolve_their_own(names_lab, tmp_path):
    lab, _ = names_lab
    first, second, _ = [h.name for h in lab.cluster.hosts]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = project_on(names_lab, tmp_path / "one", prefix="na")
    two = project_on(names_lab, tmp_path / "two", prefix="nb")
    try:
        for project in (one, two):
            project.write({"db": sleeper(first), "app": sleeper(second)})
            project.ok("up", "-d")
        for project in (one, two):
            db = project.address(f"{project.name}_db_1")
            app = f"{project.name}_app_1"
            assert addresses(project, app, "db") == [db]
            other = two if project is one else one
            assert addresses(project, app, f"{other.name}-db-1") == []  # another project's names are not its own
    finally:
        for project in (one, two):
            project.nap("down", "-t", "0")
            project.cleanup()


def test_with_the_resolver_twenty_consumers_find_api_at_their_first_instant_and_after_a_restart(names_lab,
                                                                                                tmp_path):
    lab, _ = names_lab
    first, second, third = [h.name for h in lab.cluster.hosts]
    project = project_on(names_lab, tmp_path)
    try:
        project.write({
            "api": sleeper(first, scale=2),
            "client": sleeper(second, scale=20, **{"x-nap": {"hosts": [second, third]}},
                              command=["sh", "-c", "getent hosts api > /tmp/first || exit 1; exec sleep 3600"]),
        })
        started = time.monotonic()
        project.ok("up", "-d")
        api = sorted(project.address(f"{project.name}_api_{i}") for i in (1, 2))
        containers = project.containers()
        clients = sorted(name for name in containers if "_client_" in name)
        assert len(clients) == 20

        def settled():
            states = {}
            for name in clients:
                container = containers[name][1]
                container.reload()
                if container.status != "running":
                    states[name] = ("ended", container.attrs["State"]["ExitCode"])
                else:
                    states[name] = ("running", project.run_in(name, "cat", "/tmp/first")[1].split()[:1])
            return states

        states = until(settled, lambda s: all(v[0] == "ended" or v[1] for v in s.values()), timeout=30, interval=0.5)
        took = time.monotonic() - started
        failures = {name: state for name, state in states.items()
                    if state[0] != "running" or state[1][0] not in api}
        assert failures == {}, f"{len(failures)} of 20 starts failed: {failures}"
        print(f"20 starts with the resolver: 0 failures, up and every first lookup done in {took:.1f} s")

        victim = clients[0]
        assert lab.exec(containers[victim][0], "docker", "restart", "-t", "0", victim).returncode == 0
        restarted = time.monotonic()
        api2 = project.address(f"{project.name}_api_2")
        other = project.address(clients[1])
        wanted = {"api": ",".join(api), "api-2": api2, "api_2": api2, f"{project.name}-api-2": api2,
                  f"{project.name}_api_2": api2, clients[1]: other}

        def answers():
            # every name in one exec (getaddrinfo, as programs ask): its addresses, or an empty line
            script = ('for n in "$@"; do r=$(getent ahostsv4 "$n" | while read a _; do echo "$a"; done '
                      '| sort -u | tr "\\n" ,); echo "${r%,}"; done')
            code, out = project.run_in(victim, "sh", "-c", script, "sh", *wanted)
            return dict(zip(wanted, out.split("\n"))) if code == 0 else {}

        assert until(answers, lambda found: found == wanted, timeout=1.0, interval=0.05) == wanted
        print(f"after docker restart: every name answers in {time.monotonic() - restarted:.2f} s")
    finally:
        project.nap("down", "-t", "0")
        project.cleanup()
