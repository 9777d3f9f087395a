"""`nap-compose ipam migrate --to URL`: the whole pool copied into an empty store and verified, or nothing."""

import io
import json
import textwrap

import pytest

from napcompose.adapters.file_store import FileStore
from napcompose.cli import main
from napcompose.errors import StoreError
from napcompose.ipam.migrate import migrate
from tests.fakes_kv import AtomicMemoryKV, MemoryKV

CLUSTER = textwrap.dedent("""\
    network: {name: nap, bridge: br0, subnet: 198.18.0.0/24, router: 198.18.0.1,
              pools: ["198.18.0.100-198.18.0.109"]}
    hosts:
      - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}
    """)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER)

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path))
        return status, out.getvalue(), err.getvalue()
    return tmp_path, run


def test_the_pool_moves_to_another_store_and_keeps_every_address(project):
    tmp, run = project
    for i in (1, 2, 3):
        assert run("ipam", "reserve", "--owner", f"shop/web/{i}", "--host", "node1")[0] == 0
    before = json.loads(run("ipam", "ls", "--format", "json")[1])
    target = tmp / "moved.json"
    status, out, err = run("ipam", "migrate", "--to", f"file://{target}")
    assert (status, err) == (0, "")
    source = f"file://{tmp}/nap-ipam.json"
    assert out == (f"copied 8 key(s) under /nap-compose from {source} to file://{target}: 3 addresses, 1 blocks, "
                   f"3 owners, 1 pool\n"
                   f"verified: file://{target} holds the same 8 key(s) with the same values\n"
                   f"next: set `store.url: file://{target}` in {tmp}/nap-cluster.yml, then start writers again\n")
    (tmp / "nap-cluster.yml").write_text(CLUSTER + f'store: {{url: "file://{target}"}}\n')
    assert json.loads(run("ipam", "ls", "--format", "json")[1]) == before
    held = {a["owner"]: a["address"] for a in before}
    assert run("ipam", "reserve", "--owner", "shop/web/2")[1] == held["shop/web/2"] + "\n"
    assert run("ipam", "init") == (0, f"address pool 198.18.0.100-198.18.0.109 (10 addresses) already recorded "
                                      f"in file://{target}; nothing to do\n", "")


def test_a_target_that_holds_anything_under_the_prefix_is_refused_and_left_alone(project):
    tmp, run = project
    run("ipam", "reserve", "--owner", "shop/web/1")
    target = tmp / "busy.json"
    FileStore(str(target)).create("/nap-compose/addresses/198.18.0.105", "{}")
    content = target.read_text()
    status, out, err = run("ipam", "migrate", "--to", f"file://{target}")
    assert (status, out) == (4, "")
    assert err == (f"ERROR: the target store file://{target} is not empty: it holds 1 key(s) under /nap-compose/ "
                   "(e.g. /nap-compose/addresses/198.18.0.105); migrate only into an empty store or prefix\n")
    assert target.read_text() == content


@pytest.mark.parametrize("url,message", [
    ("redis://x:1", "ERROR: ipam migrate --to 'redis://x:1': use etcd://host:port[,host:port] (v2 API), "
                    "etcd3://host:port[,host:port] (v3 API) or file:///path\n"),
    ("file://relative.json", "ERROR: store URL 'file://relative.json' needs an absolute path "
                             "(file:///path/to/store.json)\n"),
])
def test_bad_target_urls_are_refused(project, url, message):
    tmp, run = project
    run("ipam", "reserve", "--owner", "shop/web/1")
    files = sorted(p.name for p in tmp.iterdir())
    status, out, err = run("ipam", "migrate", "--to", url)
    assert (out, err) == ("", message) and status in (2, 4)
    assert sorted(p.name for p in tmp.iterdir()) == files


def test_the_cluster_files_own_store_is_refused(project):
    tmp, run = project
    run("ipam", "reserve", "--owner", "shop/web/1")
    status, _, err = run("ipam", "migrate", "--to", f"file://{tmp}/nap-ipam.json")
    assert (status, err) == (2, f"ERROR: ipam migrate --to file://{tmp}/nap-ipam.json: that is the cluster "
                                "file's own store\n")


def test_an_empty_source_is_refused(project):
    tmp, run = project
    status, _, err = run("ipam", "migrate", "--to", f"file://{tmp}/b.json")
    assert (status, err) == (4, f"ERROR: the store file://{tmp}/nap-ipam.json holds nothing under /nap-compose/: "
                                "there is no pool to migrate\n")
    assert not (tmp / "b.json").exists()


class WriterStillRunning(AtomicMemoryKV):
    """A target store whose first create lets a forgotten writer change the source meanwhile."""

    def __init__(self, source):
        super().__init__()
        self.source = source

    def create(self, key, value):
        if self.source is not None:
            self.source.create("/p/addresses/198.18.0.9", '{"owner": "late/x/1"}')
            self.source = None
        return super().create(key, value)


def test_a_source_that_changes_during_the_copy_fails_and_leaves_the_target_empty():
    source = MemoryKV()
    for i in range(3):
        source.create(f"/p/addresses/198.18.0.{i}", f'{{"owner": "a/b/{i}"}}')
    target = WriterStillRunning(source)
    with pytest.raises(StoreError) as err:
        migrate(source, target, "/p", "etcd://old:2379", "etcd3://new:2379")
    assert str(err.value) == ("the copy does not match: the source etcd://old:2379 holds 4 key(s), the copy 3; "
                              "/p/addresses/198.18.0.9 appeared in the source etcd://old:2379; stop every nap-compose "
                              "command that writes to the pool and migrate again")
    assert target.list("/") == {}


def test_the_counts_name_every_kind_of_key():
    source, target = MemoryKV(), MemoryKV()
    for key in ("/p/pool", "/p/addresses/1", "/p/addresses/2", "/p/owners/a", "/p/hostblocks/node1", "/q/other"):
        source.create(key, key)
    done = migrate(source, target, "/p", "a", "b")
    assert (done.copied, done.describe()) == (5, "2 addresses, 1 hostblocks, 1 owners, 1 pool")
    assert {k: v for k, (v, _) in target.list("/").items()} == {k: v for k, (v, _) in source.list("/p/").items()}
