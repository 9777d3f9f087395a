"""exec's output on the lab: a short output is never lost, a large one arrives whole.

Docker streams an exec's output on the connection it upgrades; a short output can arrive in the same
packet as the upgrade's headers. Read past those headers from the raw socket (as docker-py's
exec_start does), it was lost in about one run of seven, with exit code 0.
"""

import hashlib
import subprocess

import pytest

from napcompose.adapters.docker_engine import DockerEngine
from tests.integration.deploy_support import DeployProject, sleeper

pytestmark = pytest.mark.integration

SHORT_RUNS = 200
LARGE = 100 * 1000 * 1000


@pytest.fixture(scope="module")
def project(lab, tmp_path_factory):
    p = DeployProject(lab, tmp_path_factory.mktemp("exec"))
    p.write({"web": sleeper(scale=3)})
    p.ok("up", "-d")
    yield p
    p.cleanup()


def _engines(project):
    return {h.name: DockerEngine(h, project.connections) for h in project.lab.cluster.hosts}


def test_two_hundred_short_outputs_across_hosts_lose_nothing(project):
    engines = _engines(project)
    replicas = sorted((name, host, c.id) for name, (host, c) in project.containers().items())
    assert len({host for _, host, _ in replicas}) >= 2  # across hosts
    lost = []
    for run in range(SHORT_RUNS):
        name, host, container_id = replicas[run % len(replicas)]
        out = bytearray()
        code = engines[host].exec(container_id, ["echo", f"hi {run}"], write=out.extend)
        if (code, bytes(out)) != (0, f"hi {run}\n".encode()):
            lost.append((name, code, bytes(out)))
    assert lost == []


def test_a_short_output_through_the_command_line_is_whole_every_time(project):
    for run in range(20):
        status, out, err = project.nap("exec", "-T", "--index", str(run % 3 + 1), "web", "echo", f"hi {run}")
        assert (status, out) == (0, f"hi {run}\n"), err


def test_a_large_output_arrives_whole_and_stderr_too(project):
    host, container = project.containers()[f"{project.name}_web_1"]
    engine = _engines(project)[host]
    digest, size = hashlib.sha256(), 0

    def take(chunk):
        nonlocal size
        digest.update(chunk)
        size += len(chunk)

    code = engine.exec(container.id, ["sh", "-c", f"yes 0123456789abcdef | head -c {LARGE}"], write=take)
    expected = hashlib.sha256(subprocess.run(["sh", "-c", f"yes 0123456789abcdef | head -c {LARGE}"],
                                             capture_output=True, check=True).stdout).hexdigest()
    assert (code, size, digest.hexdigest()) == (0, LARGE, expected)
    out = bytearray()
    assert engine.exec(container.id, ["sh", "-c", "echo to-err >&2; exit 3"], write=out.extend) == 3
    assert bytes(out) == b"to-err\n"
