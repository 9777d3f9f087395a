"""Registry images over the in-memory fakes: one digest per tag per run, Pull actions, credentials, `pull`."""

import base64
import json
from dataclasses import replace

import pytest

from napcompose.adapters.docker_config import config_path, read_auths, registry_key
from napcompose.confighash import config_hash
from napcompose.errors import ConfigError, HostError
from napcompose.imageref import parse_image, repo_digest_of
from napcompose.model import Project, RegistryAuth, ServiceSpec, UpdateConfig
from napcompose.observe.pins import Pin, wanted_images
from napcompose.orchestrator import Orchestrator
from napcompose.planner import Command, Create, Options, Pull, Recreate, RollingUpdate, render
from napcompose.ports import ListReporter
from tests import nap
from tests.unit.test_orchestrator import NODES, Rig

REG = "198.18.0.254:5000"
IMAGE = f"{REG}/team/app:1"


def project(scale=3, image=IMAGE, policy=None, update=UpdateConfig()):
    return Project(name="shop", services=(ServiceSpec(name="app", image=image, scale=scale, pull_policy=policy,
                                                      update=update),))


@pytest.fixture
def rig():
    return Rig()


def images_run(rig):
    return sorted({c.request.image for c in rig.world.all_containers()})


def creates(rig):
    return [c for e in rig.world.engines.values() for c in e.calls if c[0] == "create"]


# ---------------------------------------------------------------------------- references and credentials


def test_references_parse_as_docker_reads_them():
    assert parse_image("postgres:16") == parse_image("postgres:16")
    ref = parse_image(IMAGE)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (REG, f"{REG}/team/app", "1", None)
    assert parse_image("postgres").registry == "docker.io" and parse_image("postgres").tag == "latest"
    assert parse_image("localhost/x").registry == "localhost"
    digest = "sha256:" + "a" * 64
    assert parse_image(f"{REG}/team/app@{digest}").pinned
    assert ref.at(digest) == f"{REG}/team/app@{digest}"
    assert repo_digest_of("postgres:16", [f"other@{digest}", f"postgres@{digest}"]) == digest
    assert repo_digest_of(IMAGE, [f"elsewhere:5000/team/app@{digest}"]) is None
    with pytest.raises(ValueError):
        parse_image("app@notadigest")


def test_credentials_come_from_the_docker_config_and_never_show(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:s3cret").decode()},
        f"http://{REG}/": {"username": "u", "password": "p"},
        "bad.example:5000": {"auth": "!!!"}}}))
    assert config_path({"DOCKER_CONFIG": str(tmp_path)}) == str(tmp_path / "config.json")
    assert config_path({"HOME": "/home/x"}) == "/home/x/.docker/config.json"
    assert registry_key("registry-1.docker.io") == "docker.io"
    with pytest.raises(ConfigError) as err:
        read_auths(str(tmp_path / "config.json"))
    assert "bad.example:5000" in str(err.value) and "!!!" not in str(err.value)
    data = json.loads((tmp_path / "config.json").read_text())
    del data["auths"]["bad.example:5000"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    auths = read_auths(str(tmp_path / "config.json"))
    assert (auths["docker.io"].username, auths["docker.io"].password) == ("hub", "s3cret")
    assert auths[REG].auth_config() == {"username": "u", "password": "p", "serveraddress": REG}
    assert "s3cret" not in repr(auths["docker.io"])
    assert read_auths(str(tmp_path / "none.json")) == {}


# ---------------------------------------------------------------------------- one digest per tag per run


def test_every_host_pulls_the_one_digest_the_registry_names_and_runs_it(rig):
    digest = rig.world.registry.publish(IMAGE)
    for engine in rig.world.engines.values():
        engine.retag(IMAGE, None)  # no host has it
    the_plan, _ = rig.orc.plan(project())
    pulls = [a for a in the_plan.actions if isinstance(a, Pull)]
    assert sorted(p.host for p in pulls) == list(NODES)
    assert {p.image for p in pulls} == {f"{REG}/team/app@{digest}"} and {p.tag for p in pulls} == {IMAGE}
    creates_ = [a for a in the_plan.actions if isinstance(a, Create)]
    assert all(f"{REG}/team/app@{digest}@{a.host}" in a.after for a in creates_)
    lines = render(the_plan)
    assert f"image {REG}/team/app@{digest} on node1: pull {IMAGE} for app (missing on node1)" in lines
    assert f"image {IMAGE}: runs {digest} on every host (registry {REG}, asked through node1)" in lines
    rig.world.registry.asked.clear()
    report = rig.orc.run(project())
    assert report.failed == ()
    assert images_run(rig) == [f"{REG}/team/app@{digest}"]
    assert len(rig.world.registry.asked) == 1  # resolved once per run, not once per host
    # the tag now names that digest on every host: the next run keeps it without asking again
    assert all(e.repo_digests(IMAGE) == (f"{REG}/team/app@{digest}",) for e in rig.world.engines.values())
    again, _ = rig.orc.plan(project())
    assert {a.kind for a in again.actions} == {"noop", "hosts"}
    assert len(rig.world.registry.asked) == 1


def test_a_moved_tag_is_an_update_with_pull_always_only(rig):
    update = UpdateConfig(parallelism=1)
    rig.world.registry.publish(IMAGE, "v1")
    nap.up(rig.orc, project(update=update))
    moved = rig.world.registry.publish(IMAGE, "v2")
    kept, _ = rig.orc.plan(project(update=update))  # missing: what the hosts hold stays
    assert {a.kind for a in kept.actions} == {"noop", "hosts"}
    options = Options(pull="always")
    the_plan, _ = rig.orc.plan(project(update=update), options)
    assert any(isinstance(a, RollingUpdate) for a in the_plan.actions)  # update_config says batch by batch
    assert sorted(a.host for a in the_plan.actions if isinstance(a, Pull)) == list(NODES)
    report = rig.orc.run(project(update=update), options)
    assert report.failed == ()
    assert images_run(rig) == [f"{REG}/team/app@{moved}"]
    assert len(rig.world.all_containers()) == 3


def test_pull_policy_always_in_the_file_recreates_with_no_rolling(rig):
    rig.world.registry.publish(IMAGE, "v1")
    nap.up(rig.orc, project(policy="always"))
    moved = rig.world.registry.publish(IMAGE, "v2")
    the_plan, _ = rig.orc.plan(project(policy="always"), Options(rolling=False))
    assert sorted(a.host for a in the_plan.actions if isinstance(a, Recreate)) == ["node1", "node2", "node3"]
    rig.orc.run(project(policy="always"), Options(rolling=False))
    assert images_run(rig) == [f"{REG}/team/app@{moved}"]


def test_with_missing_the_copy_a_host_holds_decides_and_the_others_pull_it(rig):
    first = rig.world.registry.publish(IMAGE, "v1")
    node2 = rig.world.engines["node2"]
    node2.pull(IMAGE)  # node2 got v1 by hand
    for engine in rig.world.engines.values():
        if engine is not node2:
            engine.retag(IMAGE, None)
    rig.world.registry.publish(IMAGE, "v2")  # the tag moved since
    rig.world.registry.asked.clear()
    the_plan, _ = rig.orc.plan(project())
    assert f"image {IMAGE}: runs {first} on every host (the copy on node2)" in render(the_plan)
    assert sorted(a.host for a in the_plan.actions if isinstance(a, Pull)) == ["node1", "node3"]
    assert rig.world.registry.asked == []
    rig.orc.run(project())
    assert images_run(rig) == [f"{REG}/team/app@{first}"]


def test_never_asks_no_registry_and_runs_the_tag_as_before(rig):
    rig.world.registry.publish(IMAGE)
    report = nap.up(rig.orc, project(policy="never"))
    assert report.failed == () and images_run(rig) == [IMAGE] and rig.world.registry.asked == []


def test_an_image_no_host_has_and_no_registry_knows_names_the_registry(rig):
    for engine in rig.world.engines.values():
        engine.retag(IMAGE, None)
    with pytest.raises(ConfigError) as err:
        rig.orc.plan(project())
    assert f"image {IMAGE} is missing on node1 (registry: ask registry {REG} for {IMAGE}: manifest unknown " \
           "(asked through node1))" in str(err.value)
    assert creates(rig) == []


# ---------------------------------------------------------------------------- credentials


def _with_credentials(rig, user, password):
    return Orchestrator(rig.cluster, rig.world.engines, rig.world.files, rig.ipam, rig.reporter, rig.clock,
                        images=rig.world.images,
                        credentials=lambda registry: RegistryAuth(registry, user, password) if registry == REG else None)


def test_the_operators_credentials_go_with_every_pull(rig):
    rig.world.registry.require(REG, "ci", "right")
    rig.world.registry.publish(IMAGE)
    for engine in rig.world.engines.values():
        engine.retag(IMAGE, None)
    orc = _with_credentials(rig, "ci", "right")
    assert nap.up(orc, project()).failed == ()
    assert sorted(u for e in rig.world.engines.values() for _, u in e.pulled) == ["ci", "ci", "ci"]
    assert not any("right" in str(event) for event in rig.reporter.events)


def test_a_wrong_password_stops_pull_always_naming_registry_and_host_before_anything(rig):
    rig.world.registry.require(REG, "ci", "right")
    rig.world.registry.publish(IMAGE)
    orc = _with_credentials(rig, "ci", "wrong")
    with pytest.raises(HostError) as err:
        orc.run(project(), Options(pull="always"))
    message = str(err.value)
    assert message.startswith("node1: service app: image ") and f"ask registry {REG}" in message
    assert "unauthorized" in message and "nothing was created" in message and "wrong" not in message
    assert creates(rig) == [] and rig.ipam.allocations() == []


def test_a_pull_failing_on_one_host_skips_only_that_hosts_creates(rig):
    rig.world.registry.publish(IMAGE)
    for engine in rig.world.engines.values():
        engine.retag(IMAGE, None)
    rig.world.engines["node2"].fail("pull", f"{REG}/team/app@{rig.world.registry.tags[(f'{REG}/team/app', '1')]}",
                                    "connection reset")
    report = rig.orc.run(project())
    failed = {(o.subject, o.host, o.skipped) for o in report.failed}
    assert ("app", "node2", False) in failed and ("app_2", "node2", True) in failed
    assert sorted(c.request.name for c in rig.world.all_containers()) == ["shop_app_1", "shop_app_3"]


# ---------------------------------------------------------------------------- pull


def test_pull_plans_one_pull_per_host_that_will_run_the_service(rig):
    digest = rig.world.registry.publish(IMAGE)
    services = project(scale=2).services + (ServiceSpec(name="tool", build=None, image="nap/local", scale=1),)
    proj = Project(name="shop", services=services)
    the_plan, _ = rig.orc.plan(proj, Options(services=("app",), no_deps=True), Command.PULL)
    assert [(a.service, a.host, a.image) for a in the_plan.actions] == [
        ("app", "node1", f"{REG}/team/app@{digest}"), ("app", "node2", f"{REG}/team/app@{digest}")]
    report = rig.orc.execute(proj, the_plan, _, Options())
    assert report.failed == ()
    assert rig.world.engines["node3"].pulled == []
    assert rig.world.engines["node1"].image_id(f"{REG}/team/app@{digest}") is not None


def test_pull_policy_is_read_from_the_file_and_is_no_part_of_the_config_hash(tmp_path):
    from napcompose.config import load_project

    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  a:\n    image: x:1\n    pull_policy: if_not_present\n"
        "  b:\n    image: x:1\n    pull_policy: always\n")
    loaded = load_project([str(tmp_path / "docker-compose.yml")], project_name="p")
    assert [s.pull_policy for s in loaded.services] == ["missing", "always"]
    assert config_hash(loaded.services[0]) == config_hash(replace(loaded.services[0], pull_policy=None))
    assert wanted_images(loaded, ["a", "b"], None) == {"x:1": ("always", "a", "b")}
    assert wanted_images(loaded, ["a", "b"], "never") == {"x:1": ("never", "a", "b")}
    (tmp_path / "docker-compose.yml").write_text("services:\n  a:\n    image: x:1\n    pull_policy: build\n")
    with pytest.raises(ConfigError) as err:
        load_project([str(tmp_path / "docker-compose.yml")], project_name="p")
    assert "pull_policy" in str(err.value) and "build" in str(err.value)


def test_a_pin_names_what_the_hosts_run():
    digest = "sha256:" + "b" * 64
    assert Pin(IMAGE, ("app",), "always", digest).reference == f"{REG}/team/app@{digest}"
    assert Pin(IMAGE, ("app",), "never").reference == IMAGE and not Pin(IMAGE, ("app",), "never").pull


# ---------------------------------------------------------------------------- the command line


def test_pull_and_images_on_the_command_line(tmp_path):
    from tests.unit.test_cli_project import Cli

    cli = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  app:\n    image: {IMAGE}\n    scale: 2\n  web:\n    build: .\n")
    digest = cli.world.registry.publish(IMAGE)
    status, out, err = cli("pull")
    assert status == 0, err
    assert "web builds its image, skipping" in err
    assert f"image {IMAGE}: runs {digest} on every host (registry {REG}, asked through node1)" in err
    pinned = f"{REG}/team/app@{digest}"
    assert f"Pulling app on node1 ({pinned}) ... done" in err and f"Pulling app on node2 ({pinned}) ... done" in err
    assert cli.world.engines["node3"].pulled == []
    status, out, err = cli("up", "-d", "app")
    assert status == 0, err
    status, out, err = cli("images")
    assert status == 0, err
    rows = out.splitlines()[1:]
    assert len(rows) == 2 and all(pinned in row for row in rows)
    status, out, err = cli("up", "-d", "--pull", "sometimes")
    assert status == 2 and "--pull" in err


# ---------------------------------------------------------------------------- push and build --push


def _built(image=f"{REG}/team/web:1"):
    from napcompose.model import BuildSpec

    return Project(name="shop", services=(ServiceSpec(name="web", image=image, build=BuildSpec(context="."),
                                                      scale=3),))


def test_build_push_builds_once_and_pushes_then_up_has_the_other_hosts_pull(rig):
    from napcompose.planner import BuildImage, CopyImage, PushImage

    for engine in rig.world.engines.values():
        engine.retag(f"{REG}/team/web:1", None)
    options = Options(push=True)
    the_plan, addresses = rig.orc.plan(_built(), options, Command.BUILD)
    assert [(type(a).__name__, a.host) for a in the_plan.actions] == [("BuildImage", "node1"), ("PushImage", "node1")]
    assert the_plan.actions[1].after == (the_plan.actions[0].key,)
    assert "image 198.18.0.254:5000/team/web:1 on node1: push to its registry for web (build --push)" in render(the_plan)
    assert rig.orc.execute(_built(), the_plan, addresses, options).failed == ()
    digest = rig.world.registry.tags[(f"{REG}/team/web", "1")]
    up_plan, _ = rig.orc.plan(_built())
    kinds = [(type(a).__name__, a.host) for a in up_plan.actions if isinstance(a, (BuildImage, CopyImage, Pull))]
    assert kinds == [("Pull", "node2"), ("Pull", "node3")]
    assert nap.up(rig.orc, _built()).failed == ()
    assert images_run(rig) == [f"{REG}/team/web@{digest}"]
    assert not any(isinstance(a, PushImage) for a in up_plan.actions)


def test_push_needs_an_image_that_names_a_registry_and_a_host_that_holds_it(rig):
    from napcompose.planner import PushImage

    with pytest.raises(ConfigError) as err:
        rig.orc.plan(_built(image="team/web:1"), Options(), Command.PUSH)
    assert "service web: image team/web:1: names no registry to push to" in str(err.value)
    for engine in rig.world.engines.values():
        engine.retag(f"{REG}/team/web:1", None)
    with pytest.raises(ConfigError) as err:
        rig.orc.plan(_built(), Options(), Command.PUSH)
    assert f"service web: image {REG}/team/web:1 is on no host that answers" in str(err.value)
    rig.world.engines["node2"].retag(f"{REG}/team/web:1", "sha256:built")
    the_plan, addresses = rig.orc.plan(_built(), Options(), Command.PUSH)
    assert [(type(a), a.host) for a in the_plan.actions] == [(PushImage, "node2")]
    assert rig.orc.execute(_built(), the_plan, addresses, Options()).failed == ()
    assert rig.world.registry.ids[rig.world.registry.tags[(f"{REG}/team/web", "1")]] == "sha256:built"


def test_a_built_image_never_pushed_is_built_and_copied_as_before(rig):
    from napcompose.planner import BuildImage, CopyImage

    for engine in rig.world.engines.values():
        engine.retag(f"{REG}/team/web:1", None)
    the_plan, _ = rig.orc.plan(_built())
    assert sorted(type(a).__name__ for a in the_plan.actions if isinstance(a, (BuildImage, CopyImage, Pull))) == \
        ["BuildImage", "CopyImage", "CopyImage"]
    assert rig.world.registry.asked == []


def test_an_image_every_host_holds_without_a_digest_asks_no_registry(rig):
    # loaded or imported on the hosts (the lab's image): no registry knows it, nothing is pinned
    the_plan, _ = rig.orc.plan(project(image="nap-lab/busybox:latest"))
    assert rig.world.registry.asked == [] and the_plan.pins[0].digest is None
    rig.world.engines["node3"].retag("nap-lab/busybox:latest", None)
    the_plan, _ = rig.orc.plan(project(image="nap-lab/busybox:latest"))
    assert rig.world.registry.asked == []
    assert [(type(a).__name__, a.host) for a in the_plan.actions if a.kind in ("copy", "pull")] == [("CopyImage", "node3")]


def test_pull_build_builds_afresh_what_builds_and_pins_nothing_built(rig):
    from napcompose.planner import BuildImage

    rig.world.engines["node1"].push(f"{REG}/team/web:1")  # pushed once: up would pin that digest
    pinned_plan, _ = rig.orc.plan(_built())
    assert pinned_plan.pins[0].digest is not None
    the_plan, _ = rig.orc.plan(_built(), Options(pull="build"))
    assert [a.host for a in the_plan.actions if isinstance(a, BuildImage)] == ["node1"]
    assert all(p.digest is None for p in the_plan.pins) and not any(isinstance(a, Pull) for a in the_plan.actions)
