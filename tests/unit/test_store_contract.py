"""The store contract (tests/store_contract.py) on the in-memory fakes and the file store."""

import uuid

import pytest

from napcompose.adapters.file_store import FileStore
from tests.fakes_kv import AtomicMemoryKV, MemoryKV
from tests.store_contract import PROPERTIES


@pytest.fixture(params=["memory", "memory-with-create_all", "file"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryKV()
    if request.param == "memory-with-create_all":
        return AtomicMemoryKV()
    return FileStore(str(tmp_path / "store.json"))


@pytest.mark.parametrize("check", PROPERTIES, ids=lambda fn: fn.__name__)
def test_contract(store, check):
    check(store, f"/c{uuid.uuid4().hex[:8]}/")
