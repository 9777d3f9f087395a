"""A host's hosts files go through a few lanes: one file failing leaves the others written, each reported."""

from napcompose.execute import hosts
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook


def test_a_file_that_fails_is_reported_and_every_other_file_of_its_host_is_written():
    rig = Rig()
    assert nap.up(rig.orc, guestbook(web_scale=15)).failed == ()
    engine = rig.world.engines["node1"]
    mine = sorted(engine.containers.values(), key=lambda c: c.request.name)
    assert len(mine) > hosts.FILES_AT_ONCE  # more files than lanes
    for container in mine:
        container.inode.data = b"127.0.0.1\tlocalhost\n"  # every block gone
    broken = mine[1]
    rig.world.files_by_host["node1"].fail_paths[broken.hosts_path] = "permission denied"
    report = rig.orc.hosts_sync(guestbook(web_scale=15))
    [failure] = report.failed
    assert (failure.subject, failure.host) == (broken.request.replica.label, "node1")
    assert "permission denied" in failure.error
    for container in mine:
        if container is not broken:
            assert b"# BEGIN nap-compose gb" in container.inode.content()
    written = [o.subject for o in report.outcomes if not o.error and o.host == "node1"]
    assert written == sorted(written, key=lambda label: (label.rsplit("_", 1)[0], int(label.rsplit("_", 1)[1])))
