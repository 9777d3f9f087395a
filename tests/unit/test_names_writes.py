"""How the resolvers' files travel: made once for every host, files before their marks, nothing twice."""

from dataclasses import replace

from napcompose.execute.names import NamesSet, write_files
from napcompose.planner import WriteNames
from tests import nap
from tests.unit.test_names_resolver import DIR, NODES, Rig, shop


def _names_paths(rig, host):
    return sorted(p for p in rig.world.files(host).tree if p.startswith(f"{DIR}/{host}/shop@") and p.endswith(".hosts"))


def test_every_host_is_handed_the_same_bytes_of_each_file():
    rig = Rig()
    assert nap.up(rig.orc, shop(3)).failed == ()
    contents = {}
    for host in NODES:
        for path in _names_paths(rig, host):
            contents.setdefault(path.rsplit("/", 1)[1], []).append(rig.world.files(host).tree[path][2])
    assert sorted(contents) == ["shop@api.hosts", "shop@client.hosts", "shop@web.hosts"]
    for held in contents.values():  # one object, not one encoded copy per host
        assert len(held) == len(NODES) and all(data is held[0] for data in held)


def test_a_mark_is_put_only_after_every_changed_file():
    rig = Rig()
    assert nap.up(rig.orc, shop()).failed == ()
    for host in NODES:
        rig.world.files(host).calls.clear()
        rig.world.files(host).staged.clear()
    grown = replace(shop(3), services=tuple(replace(s, scale=2) if s.name == "client" else s
                                            for s in shop(3).services))
    assert nap.up(rig.orc, grown).failed == ()  # api's and client's files change on every host
    for host in NODES:
        puts = [path.rsplit("/", 1)[1] for op, path in rig.world.files(host).staged if op == "put"]
        assert puts[:2] == ["shop@api.hosts", "shop@client.hosts"]
        assert len(puts) == 4 and all(p.endswith(".sum") for p in puts[2:])
        # the old marks go last, all of it one round trip after the listing (the write after the
        # containers then finds every file right)
        removed = [path.rsplit("/", 1)[1] for op, path in rig.world.files(host).staged if op == "remove"]
        assert [op for op, _ in rig.world.files(host).staged][-len(removed):] == ["remove"] * len(removed)
        assert len(removed) == 2 and all(r.endswith(".sum") for r in removed)
        assert [op for op, _ in rig.world.files(host).calls] == ["listdir", "put_stages", "listdir"]


def test_an_up_that_changes_nothing_lists_each_host_once_and_writes_nothing():
    rig = Rig()
    assert nap.up(rig.orc, shop(2)).failed == ()
    the_plan = nap.preview(rig.orc, shop(2))
    # no replica changes: the names are written once, with the hosts files, not also ahead of the containers
    assert sorted((a.host, a.phase) for a in the_plan.actions if isinstance(a, WriteNames)) == \
        [(h, "after") for h in NODES]
    for host in NODES:
        rig.world.files(host).calls.clear()
    assert nap.up(rig.orc, shop(2)).failed == ()
    for host in NODES:
        assert rig.world.files(host).calls == [("listdir", f"{DIR}/{host}")]
    grown = nap.preview(rig.orc, shop(3))  # a replica more: its name is in place before it starts
    assert sorted((a.host, a.phase) for a in grown.actions if isinstance(a, WriteNames)) == \
        sorted([(h, "before") for h in NODES] + [(h, "after") for h in NODES])


def test_names_removed_behind_the_run_s_back_are_put_back_by_an_up_that_changes_nothing():
    rig = Rig()
    assert nap.up(rig.orc, shop(2)).failed == ()
    tree = rig.world.files("node2").tree
    for path in [p for p in tree if p.startswith(f"{DIR}/node2/shop@")]:
        del tree[path]
    assert nap.up(rig.orc, shop(2)).failed == ()
    assert "api-2.shop.nap" in rig.names("node2") and rig.orc.names_check(shop(2)) == []


def test_a_host_holding_exactly_the_files_is_left_alone_and_a_missing_mark_is_put_again():
    rig = Rig()
    assert nap.up(rig.orc, shop()).failed == ()
    files = rig.world.files("node1")
    wanted = NamesSet.of({p.rsplit("/", 1)[1]: files.tree[p][2].decode() for p in _names_paths(rig, "node1")})
    assert write_files(files, f"{DIR}/node1", "shop", wanted) == 0
    [mark] = [m for m in wanted.marks if m.startswith("shop@api@")]
    del files.tree[f"{DIR}/node1/{mark}"]
    files.calls.clear()
    files.staged.clear()
    assert write_files(files, f"{DIR}/node1", "shop", wanted) == 1  # the file again, then its mark
    assert [(op, path.rsplit("/", 1)[1]) for op, path in files.calls] == [("listdir", "node1"), ("put_stages", "node1")]
    assert [(op, path.rsplit("/", 1)[1]) for op, path in files.staged] == [("put", "shop@api.hosts"), ("put", mark)]


def test_the_first_write_of_a_host_starts_from_the_listing_read_while_the_addresses_are_reserved():
    import threading

    rig = Rig()
    listed = {host: threading.Event() for host in NODES}
    for host in NODES:
        files = rig.world.files(host)

        def listdir(path, files=files, done=listed[host], real=files.listdir):
            try:
                return real(path)
            finally:
                done.set()

        files.listdir = listdir
    reserve = rig.ipam.ensure_many

    def ensure_many(*args, **kwargs):
        # the reservations end only once every host's directory was listed: a listing made after them
        # (by the write that follows) would never come, and the wait would time out
        waited = [listed[host].wait(5) for host in NODES]
        assert all(waited), "the resolver directories were not listed while the addresses were reserved"
        return reserve(*args, **kwargs)

    rig.ipam.ensure_many = ensure_many
    assert nap.up(rig.orc, shop(2)).failed == ()
    for host in NODES:  # the one listing before the first write, none taken twice
        ops = [op for op, _ in rig.world.files(host).calls]
        assert ops[:2] == ["listdir", "put_stages"], ops
        assert "api-2.shop.nap" in rig.names(host)


def test_a_listing_that_failed_ahead_is_read_again_by_the_write():
    from napcompose.errors import HostError

    rig = Rig()
    files = rig.world.files("node2")
    failures = [HostError("node2", "ssh: the channel closed")]

    def listdir(path, real=files.listdir):
        if failures:
            raise failures.pop()
        return real(path)

    files.listdir = listdir
    assert nap.up(rig.orc, shop(2)).failed == ()
    assert failures == [] and "api-2.shop.nap" in rig.names("node2")
