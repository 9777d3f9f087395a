"""Image names, the build/copy plan, and `build`'s refusals before any work."""

import io

import pytest

from napcompose.cli import main
from napcompose.cli.wiring import Wiring
from napcompose.errors import ConfigError, UsageError
from napcompose.imagecheck import image_name
from napcompose.model import BuildSpec, Project, ServiceSpec
from napcompose.planner import BuildImage, CopyImage
from napcompose.planner.build import BUILD_EACH, COPY, image_steps, select_services


def _project():
    return Project(name="gb", services=(
        ServiceSpec(name="cache", image="redis:7"),
        ServiceSpec(name="db", image="postgres"),
        ServiceSpec(name="web", build=BuildSpec(context="/src/web")),
        ServiceSpec(name="worker", image="gb/worker:1.0", build=BuildSpec(context="/src/worker")),
    ))


def test_image_name_follows_docker_compose():
    project = _project()
    assert image_name(project.name, project.service("web")) == "gb_web"
    assert image_name(project.name, project.service("worker")) == "gb/worker:1.0"
    assert image_name(project.name, project.service("cache")) == "redis:7"


def test_select_services():
    project = _project()
    built, skipped = select_services(project, [])
    assert [s.name for s in built] == ["web", "worker"] and skipped == ("cache", "db")
    built, skipped = select_services(project, ["worker", "db"])
    assert [s.name for s in built] == ["worker"] and skipped == ("db",)


def test_select_refuses_unknown_services():
    with pytest.raises(UsageError) as caught:
        select_services(_project(), ["web", "nope", "api"])
    assert str(caught.value) == "no such service: nope, api (services in gb: cache, db, web, worker)"


def test_copy_plan_builds_on_the_first_host_and_copies_to_the_rest():
    project = _project()
    builds, copies = image_steps(project, [project.service("web")], ["node2", "node1", "node3"], COPY)
    assert builds == (BuildImage("web", "gb_web", "node2", "build"),)
    assert copies == (CopyImage("web", "gb_web", "node2", "node1", "built on node2", after=("gb_web@node2",)),
                      CopyImage("web", "gb_web", "node2", "node3", "built on node2", after=("gb_web@node2",)))
    assert [s.kind for s in builds + copies] == ["build", "copy", "copy"]


def test_build_each_plan_builds_everywhere():
    project = _project()
    builds, copies = image_steps(project, [project.service("web"), project.service("worker")], ["a", "b"],
                                 BUILD_EACH)
    assert builds == (BuildImage("web", "gb_web", "a", "build"), BuildImage("web", "gb_web", "b", "build"),
                      BuildImage("worker", "gb/worker:1.0", "a", "build"),
                      BuildImage("worker", "gb/worker:1.0", "b", "build"))
    assert copies == ()


def test_no_cache_travels_on_every_build():
    project = _project()
    builds, _ = image_steps(project, [project.service("web")], ["a", "b"], BUILD_EACH, no_cache=True)
    assert [b.no_cache for b in builds] == [True, True]
    assert image_steps(project, [project.service("web")], ["a"])[0][0].no_cache is False


def test_plan_refusals():
    project = _project()
    web = project.service("web")
    with pytest.raises(UsageError) as caught:
        image_steps(project, [web], ["a"], "rsync")
    assert str(caught.value) == "unknown image strategy 'rsync': use one of copy, build-each"
    with pytest.raises(UsageError) as caught:
        image_steps(project, [web], [])
    assert str(caught.value) == "no hosts to put the images on"
    with pytest.raises(UsageError) as caught:
        image_steps(project, [web], ["a", "b", "a"])
    assert str(caught.value) == "a host is named twice: a, b, a"
    with pytest.raises(ConfigError) as caught:
        image_steps(project, [project.service("db")], ["a"])
    assert str(caught.value) == "service db has no build: section to build its image from"


# ---------------------------------------------------------------------------- the build command


class _NoHosts(Wiring):
    """Wiring that records any attempt to reach a host; these runs must stop before that."""

    def __init__(self):
        self.connected = []

    def connections(self, cluster, accept_new_host_keys=False):
        self.connected.append(cluster)
        raise AssertionError("build reached for the hosts")


def _run(tmp_path, *argv):
    (tmp_path / "docker-compose.yml").write_text(
        "web:\n  build: ./web\ncache:\n  image: redis\n")
    (tmp_path / "web").mkdir(exist_ok=True)
    out, err, wiring = io.StringIO(), io.StringIO(), _NoHosts()
    status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path), wiring=wiring)
    return status, out.getvalue(), err.getvalue(), wiring


def test_build_refuses_an_unknown_service_before_reaching_any_host(tmp_path):
    status, out, err, wiring = _run(tmp_path, "build", "web", "nope")
    assert status == 2
    assert err == f"ERROR: no such service: nope (services in {tmp_path.name.lower()}: cache, web)\n"
    assert wiring.connected == []


def test_build_of_image_only_services_skips_them_and_reaches_no_host(tmp_path):
    status, out, err, wiring = _run(tmp_path, "build", "cache")
    assert status == 0
    assert err == "cache uses an image, skipping\n"
    assert wiring.connected == []


def test_build_refuses_an_unknown_strategy(tmp_path):
    status, out, err, wiring = _run(tmp_path, "build", "--strategy", "rsync")
    assert status == 2
    assert "argument --strategy: invalid choice: 'rsync'" in err
    assert wiring.connected == []


def test_build_without_a_cluster_file_names_it(tmp_path):
    status, out, err, wiring = _run(tmp_path, "build")
    assert status == 3
    assert err == (f"ERROR: cluster file {tmp_path / 'nap-cluster.yml'} not found: pass --cluster FILE "
                   "or set NAP_CLUSTER (`nap-compose lab up` writes one for a local lab)\n")
    assert wiring.connected == []


# ---------------------------------------------------------------------------- build's own checks


def test_build_refuses_a_missing_context_before_reaching_the_host(tmp_path):
    from napcompose.adapters import images

    missing = tmp_path / "nowhere"
    # no client at all: the refusal must come before any call to the daemon
    with pytest.raises(ConfigError) as caught:
        images.build(None, BuildSpec(context=str(missing)), "gb_web", host="node1")
    assert str(caught.value) == f"build context {missing} for image gb_web is not a directory"


def test_build_refuses_a_context_without_its_dockerfile(tmp_path):
    from napcompose.adapters import images

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(ConfigError) as caught:
        images.build(None, BuildSpec(context=str(tmp_path), dockerfile="web.Dockerfile"), "gb_web", host="node1")
    assert str(caught.value) == f"build context {tmp_path} for image gb_web has no web.Dockerfile"
