"""Registry images on the lab: the lab's own registries (Debian's distribution registry), `pull`, one
digest per tag per run, a tag moved between two `up --pull always`, credentials and a wrong password.

Each test pushes its own repository (named after its project) from node1's daemon, so tags and
digests never leak between tests.
"""

from __future__ import annotations

import base64
import http.client
import io
import json

import pytest

from napcompose.cli import main
from napcompose.lab import lab_status
from napcompose.lab import registry as lab_registry
from napcompose.lab.etcd import layout_in
from tests.integration.deploy_support import IMAGE, DeployProject

pytestmark = pytest.mark.integration


class RegistryProject(DeployProject):
    """A deploy project whose nap-compose reads the operator's Docker config from its own directory."""

    def __init__(self, lab, tmp_path):
        super().__init__(lab, tmp_path, prefix="g")
        self.docker_config = tmp_path / "docker-config"
        self.docker_config.mkdir()

    def login(self, registry: str, user: str, password: str) -> None:
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        (self.docker_config / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))

    def nap(self, *argv: str):
        out, err = io.StringIO(), io.StringIO()
        status = main(["-p", self.name, *argv], stdout=out, stderr=err, cwd=str(self.dir),
                      environ={"NAP_CLUSTER": self.lab.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                               "DOCKER_CONFIG": str(self.docker_config)})
        return status, out.getvalue(), err.getvalue()

    def push(self, repository: str, label: str, auth=None) -> str:
        """Push a variant of the lab image (told apart by a label) as ``repository:1`` from node1; its digest."""
        client = self.docker("node1").api
        container = client.create_container(IMAGE, command=["true"])
        try:
            client.commit(container["Id"], repository=repository, tag="1", changes=[f"LABEL variant={label}"])
        finally:
            client.remove_container(container["Id"])
        digest = ""
        try:
            for chunk in client.push(repository, "1", stream=True, decode=True, auth_config=auth):
                assert "error" not in chunk, chunk
                digest = (chunk.get("aux") or {}).get("Digest") or digest
        finally:
            client.remove_image(f"{repository}:1")  # node1 starts without it, like the others
        assert digest.startswith("sha256:")
        return digest

    def runs(self):
        """{container name: (host, the image it was created from)} of this project."""
        return {name: (host, c.attrs["Config"]["Image"]) for name, (host, c) in self.containers().items()}


@pytest.fixture(scope="module")
def registries(lab):
    status = lab_status(lab.dir)
    if not status.get("registries"):
        pytest.fail(f"the lab in {lab.dir} runs no registry (started by an older nap-compose?): "
                    f"`nap-compose lab down --dir {lab.dir}` and run again", pytrace=False)
    return status["registry"], lab_registry.credentials(layout_in(lab.dir))


@pytest.fixture
def project(lab, tmp_path):
    p = RegistryProject(lab, tmp_path)
    yield p
    p.cleanup()


def _catalog(address: str):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/v2/_catalog")
        return json.loads(conn.getresponse().read())["repositories"]
    finally:
        conn.close()


def _sleeper(image: str, **extra):
    spec = {"image": image, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": 3}
    spec.update(extra)
    return spec


def test_lab_status_shows_the_registry_seeded_with_the_lab_image(lab, registries):
    address, _ = registries
    out = io.StringIO()
    assert main(["lab", "status", "--dir", lab.dir], stdout=out, stderr=io.StringIO()) == 0
    assert f"registry {address}" in out.getvalue().splitlines()
    assert "nap-lab/busybox" in _catalog(address)


def test_pull_puts_one_digest_on_every_host_and_up_runs_it(project, registries):
    address, _ = registries
    repository = f"{address}/{project.name}/app"
    digest = project.push(repository, "one")
    project.write({"app": _sleeper(f"{repository}:1")})
    status, out, err = project.nap("pull")
    assert status == 0, err
    pinned = f"{repository}@{digest}"
    assert f"image {repository}:1: runs {digest} on every host (registry {address}, asked through node1)" in err
    for host in ("node1", "node2", "node3"):
        assert f"Pulling app on {host} ({pinned}) ... done" in err
    project.ok("up", "-d")
    runs = project.runs()
    assert sorted(host for host, _ in runs.values()) == ["node1", "node2", "node3"]
    assert {image for _, image in runs.values()} == {pinned}
    assert project.ok("images").count(pinned) == 3


def test_a_tag_moved_between_two_up_pull_always_reaches_every_replica(project, registries):
    address, _ = registries
    repository = f"{address}/{project.name}/app"
    first = project.push(repository, "one")
    update = {"parallelism": 1, "order": "stop-first", "monitor": "1s"}
    project.write({"app": _sleeper(f"{repository}:1", deploy={"update_config": update})})
    project.ok("up", "-d", "--pull", "always")
    before = {name: c.id for name, (_, c) in project.containers().items()}
    assert {image for _, image in project.runs().values()} == {f"{repository}@{first}"}
    moved = project.push(repository, "two")
    assert moved != first
    status, _, err = project.nap("up", "-d")  # missing: the hosts hold the tag, nothing changes
    assert status == 0, err
    assert "Recreating" not in err and {name: c.id for name, (_, c) in project.containers().items()} == before
    status, _, err = project.nap("up", "-d", "--pull", "always")
    assert status == 0, err
    assert "Updating batch 3/3 of app" in err  # update_config: one replica at a time
    runs = project.runs()
    assert len(runs) == 3 and {image for _, image in runs.values()} == {f"{repository}@{moved}"}
    assert not set(before.values()) & {c.id for _, (_, c) in project.containers().items()}


def test_the_password_protected_registry_takes_the_operators_credentials(project, registries):
    _, secured = registries
    address, user, password = secured["registry"], secured["username"], secured["password"]
    repository = f"{address}/{project.name}/app"
    digest = project.push(repository, "one", auth={"username": user, "password": password})
    project.write({"app": _sleeper(f"{repository}:1")})

    project.login(address, user, "not-" + password)
    status, out, err = project.nap("up", "-d")
    assert status == 3, err  # no host has it and the registry refuses: nothing can run
    assert f"registry {address}" in err and "node1" in err and "nothing was created" in err
    status, out, err = project.nap("up", "-d", "--pull", "always")
    assert status == 7, err
    assert f"ask registry {address}" in err and "node1: service app" in err
    assert "unauthorized" in err and password not in out + err
    assert project.containers() == {} and project.allocations() == []

    project.login(address, user, password)
    project.ok("up", "-d")
    assert {image for _, image in project.runs().values()} == {f"{repository}@{digest}"}
    assert len(project.runs()) == 3


def test_build_push_then_up_has_the_other_hosts_pull_instead_of_copying(project, registries):
    address, _ = registries
    repository = f"{address}/{project.name}/web"
    (project.dir / "web").mkdir()
    (project.dir / "web" / "Dockerfile").write_text(f"FROM {IMAGE}\nLABEL built-by={project.name}\n")
    project.write({"web": _sleeper(f"{repository}:1", build="./web")})
    status, _, err = project.nap("build", "--push")
    assert status == 0, err
    assert "Pushing web on node1" in err and "Copying" not in err
    status, _, err = project.nap("up", "-d")
    assert status == 0, err
    assert "Copying" not in err and "Pulling web on node2" in err and "Pulling web on node3" in err
    images = {image for _, image in project.runs().values()}
    assert len(project.runs()) == 3 and len(images) == 1 and images.pop().startswith(f"{repository}@sha256:")
    for host in ("node1", "node2", "node3"):
        project.docker(host).api.remove_image(f"{repository}:1", force=True)
