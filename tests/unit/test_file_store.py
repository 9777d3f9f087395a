"""The JSON file store: the port's conditional writes, its file, its errors, and 8 processes at once."""

import json
import os

import pytest

from napcompose.adapters.file_store import FileStore
from napcompose.adapters.stores import open_store
from napcompose.errors import StoreError
from napcompose.clustermodel import StoreSpec
from tests.ipam_workers import run_workers


def test_conditional_writes_and_versions(tmp_path):
    store = FileStore(str(tmp_path / "s.json"))
    assert store.get("/a") is None
    v1 = store.create("/a", "one")
    assert store.create("/a", "two") is None
    assert store.get("/a") == ("one", v1)
    v2 = store.compare_and_swap("/a", "two", v1)
    assert v2 > v1 and store.compare_and_swap("/a", "three", v1) is None
    assert store.get("/a") == ("two", v2)
    assert not store.compare_and_delete("/a", v1)
    store.create("/dir/b", "b")
    assert store.list("/dir/") == {"/dir/b": ("b", store.get("/dir/b")[1])}
    assert store.compare_and_delete("/a", v2) and store.get("/a") is None
    assert store.compare_and_swap("/a", "x", v2) is None


def test_state_survives_a_new_store_object_and_versions_keep_growing(tmp_path):
    path = str(tmp_path / "s.json")
    v1 = FileStore(path).create("/a", "1")
    again = FileStore(path)
    assert again.get("/a") == ("1", v1)
    assert again.create("/b", "2") > v1
    assert not [name for name in os.listdir(tmp_path) if ".tmp." in name]


def test_a_damaged_file_is_a_store_error_naming_it(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(StoreError) as err:
        FileStore(str(path)).get("/a")
    assert str(err.value).startswith(f"the address store {path} is not a nap-compose store file (")
    assert path.read_text() == "{not json"


def test_missing_directory_and_bad_urls(tmp_path):
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url=f"file://{tmp_path}/nowhere/s.json"))
    assert str(err.value) == (f"cannot use the address store {tmp_path}/nowhere/s.json: directory "
                              f"{tmp_path}/nowhere does not exist")
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url="file://relative/s.json"))
    assert str(err.value) == "store URL 'file://relative/s.json' needs an absolute path (file:///path/to/store.json)"
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url="consul://x:1"))
    assert str(err.value) == ("unknown store URL 'consul://x:1': use etcd://host:port[,host:port] (v2 API), "
                              "etcd3://host:port[,host:port] (v3 API) or file:///path")
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url="etcd://127.0.0.1"))
    assert str(err.value) == "'etcd://127.0.0.1': endpoint '127.0.0.1' must be host:port"
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url="etcd3://127.0.0.1:2379,h2"))
    assert str(err.value) == "'etcd3://127.0.0.1:2379,h2': endpoint 'h2' must be host:port"
    assert os.listdir(tmp_path) == []


def test_eight_processes_times_fifty_reservations_on_the_file_store(tmp_path):
    url = f"file://{tmp_path}/ipam.json"
    got = run_workers(url, "/nap", "198.18.0.0/22")
    assert len(got) == 400
    assert len({ip for _, ip in got}) == 400
    data = json.loads((tmp_path / "ipam.json").read_text())["keys"]
    records = {k: json.loads(v[0]) for k, v in data.items() if k.startswith("/nap/addresses/")}
    owners = [r["owner"] for r in records.values()]
    assert len(records) == 400 and len(set(owners)) == 400  # no owner holds two addresses
    assert {(r["owner"], k.rsplit("/", 1)[1]) for k, r in records.items()} == set(got)


def _ipam(path, subnet="198.18.0.0/29"):
    import uuid

    from napcompose.adapters.system import SystemClock
    from napcompose.ipam import Ipam, Pool

    pool = Pool.build(subnet, "198.18.0.1", [subnet])
    return Ipam(open_store(StoreSpec(url=f"file://{path}")), pool, "/nap", SystemClock(), lambda: uuid.uuid4().hex)


def test_small_pool_is_exhausted_cleanly_on_the_file_store(tmp_path):
    from napcompose.errors import PoolExhaustedError

    path = tmp_path / "ipam.json"
    ipam = _ipam(path)
    first = ipam.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(1, 4)])
    before = json.loads(path.read_text())["keys"]
    with pytest.raises(PoolExhaustedError) as err:
        _ipam(path).ensure_many([(f"shop/db/{i}", "node1", None) for i in range(1, 4)])
    assert str(err.value) == "address pool 198.18.0.0-198.18.0.7 is exhausted: 5 addresses, 3 in use, 3 asked for"
    after = json.loads(path.read_text())["keys"]
    assert {k: v for k, v in after.items() if "/blocks/" not in k} == \
        {k: v for k, v in before.items() if "/blocks/" not in k}
    assert {a.ip for a in _ipam(path).allocations()} == {a.ip for a in first}


def test_reserve_again_is_idempotent_and_release_needs_the_owner_on_the_file_store(tmp_path):
    from napcompose.errors import AddressFencedError, NotOwnerError

    path = tmp_path / "ipam.json"
    alloc = _ipam(path).ensure("shop/web/1", "node1")
    other = _ipam(path)
    assert other.ensure("shop/web/1", "node1").ip == alloc.ip
    with pytest.raises(AddressFencedError) as fenced:  # bound to node1 until node1 is seen without it
        other.ensure("shop/web/1", "node2")
    assert str(fenced.value).startswith(f"address {alloc.ip} of shop/web/1 is reserved on node1; refusing it on "
                                        "node2: ")
    with pytest.raises(NotOwnerError) as err:
        other.release(alloc.ip, "shop/web/2")
    assert str(err.value) == f"address {alloc.ip} is reserved by shop/web/1, not by shop/web/2"
    assert other.lookup("shop/web/1").ip == alloc.ip
    other.release(alloc.ip, "shop/web/1")
    assert _ipam(path).allocations() == []
