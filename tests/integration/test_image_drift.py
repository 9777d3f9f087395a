"""An image rebuilt under the same tag: `up` recreates the containers made from the old one.

docker-compose 1.29.2 does this too (its config hash covers the image id). Images are per host here,
so the comparison is per host; a replica keeps its address when it is recreated.
"""

import pytest

from napcompose.adapters.ssh import HostConnections
from tests.integration.deploy_support import IMAGE, DeployProject, sleeper

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="img")
    p.made_images = set()  # every id the tag pointed at; the older ones are dangling afterwards
    yield p
    conns = HostConnections(lab.cluster)
    try:
        p.cleanup()
        for host in lab.cluster.hosts:
            api = conns.docker(host.name).api
            for reference in [f"{p.name}_app"] + sorted(p.made_images):
                try:
                    api.remove_image(reference, force=True)
                except Exception:  # not there (any more): nothing to remove
                    pass
    finally:
        conns.close()


def _write(project, stamp: str) -> None:
    context = project.dir / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY stamp /stamp\n")
    (context / "stamp").write_text(stamp + "\n")
    project.write({
        "app": {"build": "./ctx", "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": 2},
        "other": sleeper(),
    })


def _state(project):
    """{container name: (host, container id, image id, address)} of the project."""
    found = {}
    for name, (host, container) in project.containers().items():
        container.reload()
        found[name] = (host, container.id, container.attrs["Image"], project.address(name))
    return found


def _image_ids(project, reference):
    return {host.name: project.docker(host.name).images.get(reference).id for host in project.lab.cluster.hosts}


def test_a_rebuilt_image_recreates_its_containers_at_their_addresses(project):
    app1, app2, other = (f"{project.name}_{s}" for s in ("app_1", "app_2", "other_1"))
    tag = f"{project.name}_app"
    _write(project, "one")
    project.ok("build")
    first_ids = _image_ids(project, tag)
    assert len(set(first_ids.values())) == 1, first_ids
    project.made_images.update(first_ids.values())
    project.ok("up", "-d")
    before = _state(project)
    assert sorted(before) == sorted([app1, app2, other])
    assert project.run_in(app1, "cat", "/stamp") == (0, "one\n")

    _write(project, "two")
    project.ok("build")
    second_ids = _image_ids(project, tag)
    project.made_images.update(second_ids.values())
    assert len(set(second_ids.values())) == 1 and set(second_ids.values()) != set(first_ids.values())
    new_id = next(iter(second_ids.values()))

    preview = project.ok("plan")
    # no update_config and no healthcheck: recreated all at once, as docker-compose does, each
    # replica on its host at its address
    assert not any(line.startswith("app: rolling update") for line in preview.splitlines()), preview
    for label in ("app_1", "app_2"):
        host, _, _, address = before[f"{project.name}_{label}"]
        assert f"{label} on {host} ({address}): recreate (image changed)" in preview.splitlines(), preview
    assert any(line.startswith("other_1 on ") and line.endswith(": nothing (up to date)")
               for line in preview.splitlines()), preview

    project.ok("up", "-d")
    after = _state(project)
    for name in (app1, app2):
        host, old_container, _, address = before[name]
        assert after[name][0] == host and after[name][3] == address, (before[name], after[name])
        assert after[name][1] != old_container
        assert after[name][2] == new_id
        assert project.run_in(name, "cat", "/stamp") == (0, "two\n")
    assert after[other] == before[other]

    project.ok("up", "-d")
    assert _state(project) == after


def test_the_engine_reports_image_ids_and_none_for_an_absent_image(project):
    from napcompose.adapters.docker_engine import DockerEngine

    project.write({"other": sleeper()})
    project.ok("up", "-d")
    (host, container), = project.containers().values()
    engine = DockerEngine(next(h for h in project.lab.cluster.hosts if h.name == host), project.connections)
    expected = project.docker(host).images.get(IMAGE).id
    assert expected.startswith("sha256:")
    assert engine.image_id(IMAGE) == expected
    assert engine.image_id(f"{project.name}_absent:1") is None
    observed, = engine.list_containers(project.name)
    assert observed.image_id == expected == container.attrs["Image"]
