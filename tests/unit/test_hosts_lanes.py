"""A host's hosts files go in two batches: one file failing leaves the others written, each reported."""

from napcompose.errors import HostError
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook


def test_a_file_that_fails_is_reported_and_every_other_file_of_its_host_is_written():
    rig = Rig()
    assert nap.up(rig.orc, guestbook(web_scale=15)).failed == ()
    engine = rig.world.engines["node1"]
    mine = sorted(engine.containers.values(), key=lambda c: c.request.name)
    assert len(mine) > 4
    for container in mine:
        container.inode.data = b"127.0.0.1\tlocalhost\n"  # every block gone
    broken = mine[1]
    rig.world.files_by_host["node1"].fail_paths[broken.hosts_path] = "permission denied"
    rig.world.files_by_host["node1"].batches.clear()
    report = rig.orc.hosts_sync(guestbook(web_scale=15))
    # one read of every file, one write of the changed ones (the broken file fails its read)
    assert rig.world.files_by_host["node1"].batches == [("read_many", len(mine)), ("write_many_in_place", len(mine) - 1)]
    [failure] = report.failed
    assert (failure.subject, failure.host) == (broken.request.replica.label, "node1")
    assert "permission denied" in failure.error
    for container in mine:
        if container is not broken:
            assert b"# BEGIN nap-compose gb" in container.inode.content()
    written = [o.subject for o in report.outcomes if not o.error and o.host == "node1"]
    assert written == sorted(written, key=lambda label: (label.rsplit("_", 1)[0], int(label.rsplit("_", 1)[1])))


def _pass_over_empty_files(rig, scale=6):
    assert nap.up(rig.orc, guestbook(web_scale=scale)).failed == ()
    engine = rig.world.engines["node1"]
    mine = sorted(engine.containers.values(), key=lambda c: c.request.name)
    for container in mine:
        container.inode.data = b"127.0.0.1\tlocalhost\n"
    engine.calls.clear()
    return engine, mine


def test_the_engine_names_one_hosts_file_per_host_and_docker_s_layout_gives_the_others():
    rig = Rig()
    engine, mine = _pass_over_empty_files(rig)
    report = rig.orc.hosts_sync(guestbook(web_scale=6))
    assert report.failed == ()
    assert len([c for c in engine.calls if c[0] == "hosts_path"]) == 1  # one inspect, not one per container
    for container in mine:
        assert b"# BEGIN nap-compose gb" in container.inode.content()


def test_a_file_not_where_the_layout_puts_it_is_asked_of_the_engine_and_written_where_it_says():
    rig = Rig()
    engine, mine = _pass_over_empty_files(rig)
    moved = mine[-1]
    old = moved.hosts_path
    moved.hosts_path = f"/elsewhere/{moved.id}-hosts"  # the engine keeps this one somewhere else
    rig.world.fs._paths[moved.hosts_path] = rig.world.fs._paths.pop(old)
    report = rig.orc.hosts_sync(guestbook(web_scale=6))
    assert report.failed == ()
    assert b"# BEGIN nap-compose gb" in moved.inode.content()
    assert [c[1] for c in engine.calls if c[0] == "hosts_path"][-1] == moved.request.name


def test_a_host_whose_batch_fails_whole_reports_each_of_its_files_and_the_other_hosts_are_written():
    rig = Rig()
    engine, mine = _pass_over_empty_files(rig)
    files = rig.world.files_by_host["node1"]

    def cut(paths, max_bytes):
        raise HostError("node1", "ssh command failed: connection reset")

    files.read_many = cut
    for other in ("node2",):
        for container in rig.world.engines[other].containers.values():
            container.inode.data = b"127.0.0.1\tlocalhost\n"
    report = rig.orc.hosts_sync(guestbook(web_scale=6))
    failed = sorted(o.subject for o in report.failed)
    assert failed == sorted(c.request.replica.label for c in mine)
    assert all(o.host == "node1" and "connection reset" in o.error for o in report.failed)
    for container in rig.world.engines["node2"].containers.values():
        assert b"# BEGIN nap-compose gb" in container.inode.content()
