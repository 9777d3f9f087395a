"""up ships project files to the hosts of their consumers, edits recreate only consumers, down removes them."""

import os

import pytest

from napcompose.errors import ConfigError, HostError
from napcompose.model import Project, ServiceSpec
from napcompose.planner import PlanOptions
from tests.unit.test_orchestrator import Rig

ROOT = "/var/lib/nap-compose/sp/files"


def _project(root, web_scale=3):
    return Project(name="sp", working_dir=str(root), services=(
        ServiceSpec(name="other", image="busybox"),
        ServiceSpec(name="web", image="busybox", scale=web_scale,
                    volumes=(f"{root}/site:/www:ro", f"{root}/app.conf:/etc/app.conf", "/srv/data:/data")),
    ))


@pytest.fixture
def root(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>hi</h1>\n")
    (tmp_path / "app.conf").write_text("a=1\n")
    return tmp_path


def _copies(rig, host):
    return sorted(p for p in rig.world.files_by_host[host].tree if p.startswith(ROOT + "/"))


def test_up_ships_to_each_consumers_host_and_rewrites_the_binds(root):
    rig = Rig()
    report = rig.orc.up(_project(root))
    assert not report.failed, report
    webs = [c for c in rig.world.all_containers() if c.request.spec.name == "web"]
    assert sorted(c.request.host for c in webs) == ["node1", "node2", "node3"]
    volumes = webs[0].request.spec.volumes
    assert volumes[0].startswith(ROOT + "/") and volumes[0].endswith("/site:/www:ro")
    assert volumes[1].startswith(ROOT + "/") and volumes[1].endswith("/app.conf:/etc/app.conf")
    assert volumes[2] == "/srv/data:/data"  # a host path stays as it is
    for host in ("node1", "node2", "node3"):
        tree = rig.world.files_by_host[host].tree
        site = volumes[0].split(":")[0]
        assert tree[site + "/index.html"][2] == b"<h1>hi</h1>\n"
        assert tree[volumes[1].split(":")[0]][2] == b"a=1\n"
    # A second up: one listing per host, nothing sent, nothing recreated.
    for files in rig.world.files_by_host.values():
        files.calls.clear()
    before = rig.ids()
    assert rig.orc.up(_project(root)).failed == ()
    assert rig.ids() == before
    assert all(files.calls == [("listdir", ROOT)] for files in rig.world.files_by_host.values())


def test_editing_a_file_recreates_only_its_consumers(root):
    rig = Rig()
    assert rig.orc.up(_project(root)).failed == ()
    before = rig.ids()
    (root / "app.conf").write_text("a=2\n")
    assert rig.orc.up(_project(root)).failed == ()
    after = rig.ids()
    assert after["sp_other_1"] == before["sp_other_1"]
    assert all(after[f"sp_web_{i}"] != before[f"sp_web_{i}"] for i in (1, 2, 3))
    assert all(rig.address("web", i, "sp") for i in (1, 2, 3))


def test_plan_refuses_a_missing_source_and_up_creates_nothing(root):
    rig = Rig()
    (root / "app.conf").unlink()
    for call in (lambda: rig.orc.preview(_project(root)), lambda: rig.orc.up(_project(root))):
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value).startswith(f"service 'web': bind source {root}/app.conf does not exist")
    assert rig.world.all_containers() == []
    assert rig.ipam.allocations() == []
    assert all(files.tree == {} for files in rig.world.files_by_host.values())


def test_a_host_that_cannot_take_the_files_gets_no_container(root):
    rig = Rig()
    rig.world.files_by_host["node2"].unreachable = "connection reset"
    report = rig.orc.up(_project(root))
    assert report.failed
    failed = {(o.subject, o.host) for o in report.failed}
    assert ("files", "node2") in failed
    assert all(c.request.host != "node2" for c in rig.world.all_containers() if c.request.spec.name == "web")


def test_down_removes_the_projects_files_from_every_host_and_leaves_others(root):
    rig = Rig()
    assert rig.orc.up(_project(root)).failed == ()
    rig.world.files_by_host["node1"].makedirs("/var/lib/nap-compose/another/files/x", 0o700)
    assert rig.orc.down("sp").failed == ()
    for host in ("node1", "node2", "node3"):
        assert not [p for p in rig.world.files_by_host[host].tree if p.startswith("/var/lib/nap-compose/sp")]
    assert "/var/lib/nap-compose/another/files/x" in rig.world.files_by_host["node1"].tree
