"""`nap-compose build` in process over in-memory hosts: its lines, its summary of failures, its options."""

import pytest

from tests.unit.test_cli_project import Cli

COMPOSE = 'version: "2.4"\nservices:\n  good:\n    build: ./good\n  broken:\n    build: ./broken\n' \
          '  cache:\n    image: redis\n'


@pytest.fixture
def cli(tmp_path):
    c = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    for name in ("good", "broken"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    return c


def test_each_image_is_built_on_the_first_host_and_copied_to_the_others(cli):
    status, out, err = cli("build", "good")
    assert status == 0, err
    assert out == ""
    assert sorted(err.splitlines()) == ["Building good on node1 ... done", "Copying good to node2 ... done",
                                        "Copying good to node3 ... done"]
    lines = err.splitlines()
    assert lines[0] == "Building good on node1 ... done"
    assert cli.world.images.calls[0] == ("build", "shop_good", "node1")
    assert sorted(cli.world.images.calls[1:]) == [("copy", "shop_good", "node1", "node2"),
                                                  ("copy", "shop_good", "node1", "node3")]
    assert not cli.kv.list("/nap-compose/locks")


def test_a_host_that_has_the_very_image_is_up_to_date(cli, monkeypatch):
    from tests.fakes_engine import FakeImages

    assert cli("build", "good")[0] == 0
    same = cli.world.engines["node1"].images["shop_good"]
    monkeypatch.setattr(FakeImages, "build", lambda self, host, spec, tag, no_cache=False: same)  # cache hits
    status, _, err = cli("build", "good")
    assert status == 0, err
    assert sorted(err.splitlines()) == ["Building good on node1 ... done", "Copying good to node2 ... up to date",
                                        "Copying good to node3 ... up to date"]


def test_build_each_builds_on_every_host_without_the_cache_when_asked(cli, monkeypatch):
    from tests.fakes_engine import FakeImages

    asked = []
    build = FakeImages.build
    monkeypatch.setattr(FakeImages, "build", lambda self, host, spec, tag, no_cache=False: (
        asked.append((host, no_cache)), build(self, host, spec, tag, no_cache))[1])
    status, _, err = cli("build", "--strategy", "build-each", "--no-cache", "good")
    assert status == 0, err
    assert sorted(err.splitlines()) == [f"Building good on {h} ... done" for h in ("node1", "node2", "node3")]
    assert sorted(asked) == [("node1", True), ("node2", True), ("node3", True)]


def test_a_failed_build_skips_its_copies_and_the_other_services_still_arrive(cli):
    cli.world.images.failures[("build", "shop_broken", "node1")] = "COPY failed"
    status, _, err = cli("build")
    assert status == 8, err
    lines = err.splitlines()
    assert lines[0] == "cache uses an image, skipping"
    assert sorted(lines[1:-4]) == ["Building broken on node1 ... error", "Building good on node1 ... done",
                                   "Copying good to node2 ... done", "Copying good to node3 ... done"]
    assert lines[-4:] == ["ERROR: images: 3 of 6 steps failed",
                          "  build broken on node1: node1: build shop_broken: COPY failed",
                          "  copy broken to node2: skipped: the build on node1 failed",
                          "  copy broken to node3: skipped: the build on node1 failed"]
    assert cli.world.engines["node3"].images.get("shop_good")
    assert not cli.kv.list("/nap-compose/locks")


def test_a_host_that_cannot_be_reached_fails_alone(cli):
    cli.world.engines["node3"].unreachable = "no route to host"
    status, _, err = cli("build", "good")
    assert status == 8, err
    lines = err.splitlines()
    assert sorted(lines[:-2]) == ["Building good on node1 ... done", "Copying good to node2 ... done",
                                  "Copying good to node3 ... error"]
    assert lines[-2:] == ["ERROR: images: 1 of 3 steps failed",
                          "  copy good to node3: node3: cannot connect to the Docker engine: no route to host"]
