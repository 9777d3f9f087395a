"""up ships project files to the hosts of their consumers, edits recreate only consumers, down removes them."""

import os

import pytest

from napcompose.errors import ConfigError, HostError
from napcompose.model import Project, ServiceSpec
from napcompose.planner import (Command, Create, Options, Recreate, Remove, RemoveFiles, Reserve,
                                ShipFiles, render, ship_key)
from tests import nap
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
    report = nap.up(rig.orc, _project(root))
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
    assert nap.up(rig.orc, _project(root)).failed == ()
    assert rig.ids() == before
    assert all(files.calls == [("listdir", ROOT)] for files in rig.world.files_by_host.values())


def test_editing_a_file_recreates_only_its_consumers(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root)).failed == ()
    before = rig.ids()
    (root / "app.conf").write_text("a=2\n")
    assert nap.up(rig.orc, _project(root)).failed == ()
    after = rig.ids()
    assert after["sp_other_1"] == before["sp_other_1"]
    assert all(after[f"sp_web_{i}"] != before[f"sp_web_{i}"] for i in (1, 2, 3))
    assert all(rig.address("web", i, "sp") for i in (1, 2, 3))


def test_plan_refuses_a_missing_source_and_up_creates_nothing(root):
    rig = Rig()
    (root / "app.conf").unlink()
    for call in (lambda: nap.preview(rig.orc, _project(root)), lambda: nap.up(rig.orc, _project(root))):
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value).startswith(f"service 'web': bind source {root}/app.conf does not exist")
    assert rig.world.all_containers() == []
    assert rig.ipam.allocations() == []
    assert all(files.tree == {} for files in rig.world.files_by_host.values())


def test_a_host_that_cannot_take_the_files_gets_no_container(root):
    rig = Rig()
    rig.world.files_by_host["node2"].unreachable = "connection reset"
    report = nap.up(rig.orc, _project(root))
    assert report.failed
    failed = {(o.subject, o.host) for o in report.failed}
    assert ("files", "node2") in failed
    assert all(c.request.host != "node2" for c in rig.world.all_containers() if c.request.spec.name == "web")


def test_down_removes_the_projects_files_from_every_host_and_leaves_others(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root)).failed == ()
    rig.world.files_by_host["node1"].makedirs("/var/lib/nap-compose/another/files/x", 0o700)
    assert nap.down(rig.orc, "sp").failed == ()
    for host in ("node1", "node2", "node3"):
        assert not [p for p in rig.world.files_by_host[host].tree if p.startswith("/var/lib/nap-compose/sp")]
    assert "/var/lib/nap-compose/another/files/x" in rig.world.files_by_host["node1"].tree


# ---------------------------------------------------------------------------- as actions of the plan

def _started(rig):
    return sorted((s, a) for s, a, status, _ in rig.reporter.events if status == "started")


def _planned(the_plan):
    rows = []
    for action in the_plan.actions:
        if isinstance(action, Reserve):
            rows.extend((e.replica.label, action.verb) for e in action.entries)
        else:
            rows.append((action.subject, action.verb))
    return sorted(rows)


def test_plan_ships_once_per_consumers_host_and_their_creates_wait_for_it(root):
    rig = Rig()
    the_plan, _ = rig.orc.plan(_project(root))
    ships = [a for a in the_plan.actions if isinstance(a, ShipFiles)]
    assert [a.host for a in ships] == ["node1", "node2", "node3"]
    assert all({f.target for f in a.files} == {"/www", "/etc/app.conf"} for a in ships)
    assert all(f.host_path.startswith(ROOT + "/") for a in ships for f in a.files)
    for action in the_plan.actions:
        if isinstance(action, Create):
            assert (ship_key(action.host) in action.after) == (action.replica.service == "web"), action
    waves = [{type(a) for a in wave} for wave in the_plan.waves]
    assert waves.index({ShipFiles}) < min(i for i, kinds in enumerate(waves) if Create in kinds)
    lines = render(the_plan)
    assert "files on node2: ship what is missing of 2 source(s) of web (bind sources, configs and secrets " \
           "from the project)" in lines
    assert any(line.startswith(f"    web: {root}/app.conf -> /etc/app.conf: sha256:") for line in lines)


def test_up_executes_exactly_the_plan_that_plan_shows_shipping_included(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root, web_scale=2)).failed == ()
    (root / "site" / "index.html").write_text("<h1>new</h1>\n")
    changed = _project(root, web_scale=3)
    classic = Options(rolling=False)  # all at once: a rolling update is one action (test_rolling.py)
    the_plan, _ = rig.orc.plan(changed, classic)
    assert {type(a) for a in the_plan.actions} >= {ShipFiles, Recreate, Create}
    rig.reporter.events.clear()
    assert rig.orc.run(changed, classic).failed == ()
    assert _started(rig) == _planned(the_plan)
    after, _ = rig.orc.plan(changed)
    assert {a.kind for a in after.actions} == {"noop", "hosts", "ship"}  # kept replicas: copies checked


def test_a_failed_copy_skips_only_the_consumers_on_that_host(root):
    rig = Rig()
    rig.world.files_by_host["node2"].unreachable = "connection reset"
    report = nap.up(rig.orc, _project(root))
    failed = {(o.subject, o.action, o.host): o.error for o in report.failed}
    web_on_node2 = [a.replica.label for a in rig.orc.plan(_project(root))[0].actions
                    if isinstance(a, Create) and a.host == "node2"]
    assert failed[("files", "Shipping", "node2")] == "node2: ssh: connection reset"
    assert {k[0] for k in failed if k[1] == "Creating"} == set(web_on_node2)
    assert all(e == "dependency files@node2 failed" for k, e in failed.items() if k[1] == "Creating")
    created = {c.request.host for c in rig.world.all_containers() if c.request.spec.name == "web"}
    assert created == {"node1", "node3"}
    assert "sp_other_1" in rig.ids()  # "other" mounts nothing: it never waits for files


def test_down_plans_file_removal_after_each_hosts_removals(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root)).failed == ()
    the_plan, _ = rig.orc.plan(None, Options(), Command.DOWN, name="sp")
    removals = [a for a in the_plan.actions if isinstance(a, RemoveFiles)]
    assert [a.host for a in removals] == ["node1", "node2", "node3"]
    for action in removals:
        removes = {a.key for a in the_plan.actions if isinstance(a, Remove) and a.host == action.host}
        assert removes and set(action.after) == removes
    assert "files on node1: remove the copies of project sp (no container of the project is left)" in \
        render(the_plan)


def test_down_leaves_the_files_of_a_host_that_does_not_answer(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root)).failed == ()
    rig.world.engines["node2"].unreachable = "no route"
    the_plan, _ = rig.orc.plan(None, Options(), Command.DOWN, name="sp")
    assert [a.host for a in the_plan.actions if isinstance(a, RemoveFiles)] == ["node1", "node3"]
    nap.down(rig.orc, "sp")
    assert [p for p in rig.world.files_by_host["node2"].tree if p.startswith(ROOT + "/")]
    assert not [p for p in rig.world.files_by_host["node1"].tree if p.startswith(ROOT + "/")]


def test_a_failed_removal_keeps_that_hosts_files(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root)).failed == ()
    webs = [c for c in rig.world.all_containers() if c.request.spec.name == "web" and c.request.host == "node1"]
    rig.world.engines["node1"].failures[("remove", webs[0].request.name)] = "device busy"
    report = nap.down(rig.orc, "sp")
    assert ("files", "Removing", "node1") in {(o.subject, o.action, o.host) for o in report.failed}
    assert [p for p in rig.world.files_by_host["node1"].tree if p.startswith(ROOT + "/")]
    assert not [p for p in rig.world.files_by_host["node2"].tree if p.startswith(ROOT + "/")]


def test_the_plan_command_shows_the_shipping_actions_and_the_bind_sources(tmp_path):
    from tests.unit.test_cli_project import Cli

    cli = Cli(tmp_path)
    (tmp_path / "app.conf").write_text("a=1\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: nap-lab/busybox:latest\n"
        "    volumes: ['./app.conf:/etc/app.conf:ro', '/srv/data:/data']\n")
    status, out, err = cli("plan")
    assert status == 0, err
    lines = out.splitlines()
    ship = [line for line in lines if line.startswith("files on ")]
    assert len(ship) == 1 and ship[0].endswith("ship what is missing of 1 source(s) of web "
                                               "(bind sources, configs and secrets from the project)")
    assert "Bind sources:" in lines
    assert any(line.startswith("  web: ./app.conf -> /etc/app.conf: shipped (file, 1 file(s), 4 bytes")
               for line in lines)
    assert "  web: /srv/data -> /data: host path, used as it is on each host" in lines
    assert cli.untouched()
    assert all(files.tree == {} for files in cli.world.files_by_host.values())
    assert cli("up", "-d")[0] == 0
    status, out, err = cli("down")
    assert status == 0, err
    assert all(not [p for p in files.tree if p.startswith("/var/lib/nap-compose/shop")]
               for files in cli.world.files_by_host.values())


def test_an_older_copy_stays_until_down_which_removes_every_digest(root):
    rig = Rig()
    assert nap.up(rig.orc, _project(root)).failed == ()
    first = set(_copies(rig, "node1"))
    (root / "app.conf").write_text("a=2\n")
    assert nap.up(rig.orc, _project(root)).failed == ()
    second = set(_copies(rig, "node1"))
    assert first < second  # the old digest is still there, beside the new one
    assert nap.down(rig.orc, "sp").failed == ()
    assert all(_copies(rig, host) == [] for host in ("node1", "node2", "node3"))
