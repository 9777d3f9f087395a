"""Where the lab's etcd members live: member 1 on the operator address as always, the others beside it."""

import shutil
import tempfile

import pytest

from napcompose.errors import UsageError
from napcompose.lab import etcd
from napcompose.lab.cluster_file import lab_cluster
from napcompose.lab.daemons import pidfiles
from napcompose.lab.layout import make_layout


@pytest.fixture
def tmp_path():
    """A short directory: the lab's daemons' unix socket paths under it must stay under 108 bytes."""
    import pathlib

    path = tempfile.mkdtemp(prefix="nle-", dir="/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_one_member_by_default_on_the_operator_address(tmp_path):
    layout = make_layout("e3", "198.18.23.0/24", 1, str(tmp_path / "l"))
    (only,) = etcd.members(layout)
    assert (only.key, only.name, only.address, only.pidfile) == ("etcd", "lab-e3", "198.18.23.254",
                                                                 layout.etcd_pidfile)
    assert only.data_dir == str(tmp_path / "l" / "etcd" / "data")
    assert etcd.store_url(layout) == "etcd://198.18.23.254:2379" == layout.etcd_url
    assert lab_cluster(layout).store.url == "etcd://198.18.23.254:2379"


def test_three_members_on_their_own_lab_addresses_and_every_endpoint_in_the_cluster_file(tmp_path):
    layout = make_layout("e3", "198.18.23.0/24", 1, str(tmp_path / "l"))
    etcd.record(layout, 3)
    members = etcd.members(layout)
    assert [(m.key, m.name, m.address) for m in members] == [
        ("etcd", "lab-e3", "198.18.23.254"), ("etcd2", "lab-e3-2", "198.18.23.253"),
        ("etcd3", "lab-e3-3", "198.18.23.252")]
    assert all(layout.dir in m.data_dir for m in members)  # all data stays under the lab's DIR
    assert len({m.data_dir for m in members}) == 3 and len({m.pidfile for m in members}) == 3
    url = "etcd://198.18.23.254:2379,198.18.23.253:2379,198.18.23.252:2379"
    assert etcd.store_url(layout) == url == lab_cluster(layout).store.url
    assert {k: v for k, v in pidfiles(layout).items() if k.startswith("etcd")} == {m.key: m.pidfile for m in members}
    pool_first, pool_last = layout.pool.split("-")
    hosts = {h.address for h in layout.hosts} | {layout.router}
    assert not any(m.address in hosts or pool_first <= m.address <= pool_last for m in members)


@pytest.mark.parametrize("count", [0, 2, 4, 7])
def test_an_even_or_odd_count_outside_1_3_5_is_refused(count):
    with pytest.raises(UsageError) as err:
        etcd.check_count(count)
    assert str(err.value) == (f"--etcd-members {count}: a lab runs 1, 3 or 5 etcd members (an odd number keeps a "
                              "majority when one fails)")


def _cli(*argv, cwd):
    import io

    from napcompose.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(cwd))
    return status, out.getvalue(), err.getvalue()


def test_lab_up_with_two_members_is_refused_before_anything_is_made(tmp_path):
    status, out, err = _cli("lab", "up", "--etcd-members", "2", "--dir", "l", cwd=tmp_path)
    assert (status, out) == (2, "")
    assert err == ("ERROR: --etcd-members 2: a lab runs 1, 3 or 5 etcd members (an odd number keeps a majority "
                   "when one fails)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["status", "kill-leader", "revive"])
def test_lab_etcd_commands_name_a_missing_lab(tmp_path, command):
    status, out, err = _cli("lab", "etcd", command, "--dir", "nolab", cwd=tmp_path)
    assert (status, out) == (9, "")
    assert err == f"ERROR: no lab in {tmp_path}/nolab (no state.json)\n"
    assert list(tmp_path.iterdir()) == []
