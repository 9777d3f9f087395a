"""The KeyValueStore contract: what every store (in-memory, file, etcd v2, etcd v3) must do, written once.

Each property is a function ``(store, prefix)``; ``prefix`` is a fresh key prefix ending in ``/`` that
nobody else uses. tests/unit/test_store_contract.py runs them on the in-memory fakes and the file
store, tests/integration/test_store_contract_etcd.py on etcd's v2 and v3 APIs. The IPAM and the
project lock rely on exactly these properties and on nothing else of a store.
"""

from __future__ import annotations

import threading
from typing import Callable, List

from napcompose.errors import StoreError

PROPERTIES: List[Callable] = []


def prop(fn: Callable) -> Callable:
    PROPERTIES.append(fn)
    return fn


def _race(count: int, action: Callable[[int], object]) -> List[object]:
    """Run ``action(n)`` in ``count`` threads released together; their results in thread order."""
    results: List[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(n):
        barrier.wait()
        results[n] = action(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


@prop
def an_absent_key_reads_as_none(store, prefix):
    assert store.get(prefix + "nothing") is None
    assert store.list(prefix + "none/") == {}


@prop
def create_is_create_if_absent(store, prefix):
    key = prefix + "a"
    version = store.create(key, "one")
    assert isinstance(version, int) and version > 0
    assert store.create(key, "two") is None
    assert store.get(key) == ("one", version)


@prop
def every_write_gives_a_higher_version(store, prefix):
    v1 = store.create(prefix + "a", "1")
    v2 = store.create(prefix + "b", "2")
    v3 = store.compare_and_swap(prefix + "a", "3", v1)
    assert v1 < v2 < v3
    assert store.get(prefix + "a") == ("3", v3)


@prop
def compare_and_swap_needs_the_current_version(store, prefix):
    key = prefix + "a"
    v1 = store.create(key, "one")
    v2 = store.compare_and_swap(key, "two", v1)
    assert v2 is not None and v2 > v1
    assert store.compare_and_swap(key, "three", v1) is None  # stale
    assert store.get(key) == ("two", v2)
    assert store.compare_and_swap(prefix + "absent", "x", v2) is None
    assert store.get(prefix + "absent") is None


@prop
def a_missing_version_never_writes(store, prefix):
    """Version 0 means "always" to etcd v2 and "absent" to etcd v3: a store must never pass it on."""
    key = prefix + "a"
    store.create(key, "kept")
    for call in (lambda: store.compare_and_swap(prefix + "absent", "x", 0),
                 lambda: store.compare_and_swap(key, "x", 0),
                 lambda: store.compare_and_delete(key, 0)):
        try:
            assert call() in (None, False)
        except StoreError:
            pass  # refusing the call outright is fine too
    assert store.get(prefix + "absent") is None
    assert store.get(key)[0] == "kept"


@prop
def compare_and_delete_needs_the_current_version(store, prefix):
    key = prefix + "a"
    v1 = store.create(key, "one")
    v2 = store.compare_and_swap(key, "two", v1)
    assert store.compare_and_delete(key, v1) is False
    assert store.get(key) == ("two", v2)
    assert store.compare_and_delete(key, v2) is True
    assert store.get(key) is None
    assert store.compare_and_delete(key, v2) is False  # gone


@prop
def a_deleted_key_can_be_created_again_with_a_new_version(store, prefix):
    key = prefix + "a"
    v1 = store.create(key, "one")
    assert store.compare_and_delete(key, v1)
    v2 = store.create(key, "two")
    assert v2 is not None and v2 > v1 and store.get(key) == ("two", v2)
    assert store.compare_and_swap(key, "x", v1) is None  # the old version means nothing any more


@prop
def list_returns_every_key_under_the_prefix_and_nothing_else(store, prefix):
    made = {}
    for name in ("owners/shop~web~1", "owners/shop~web~2", "addresses/198.18.0.7", "blocks/0"):
        made[prefix + name] = ("v-" + name, store.create(prefix + name, "v-" + name))
    store.create(prefix[:-1] + "x/other", "outside")  # a sibling whose name starts like the prefix
    assert store.list(prefix) == made
    assert store.list(prefix + "owners/") == {k: v for k, v in made.items() if "/owners/" in k}
    for key, (value, version) in made.items():
        assert store.get(key) == (value, version)


@prop
def list_returns_many_keys(store, prefix):
    made = {prefix + f"k/{i:04d}": store.create(prefix + f"k/{i:04d}", str(i)) for i in range(150)}
    listed = store.list(prefix + "k/")
    assert {k: v for k, (_, v) in listed.items()} == made
    assert all(listed[k][0] == str(int(k.rsplit("/", 1)[1])) for k in listed)


@prop
def values_round_trip_exactly(store, prefix):
    value = '{"owner": "shop/web/1", "note": "caf\u00e9 \u2713", "nl": "a\\nb", "empty": ""}'
    version = store.create(prefix + "json", value)
    assert store.get(prefix + "json") == (value, version)
    assert store.list(prefix) == {prefix + "json": (value, version)}


@prop
def one_of_many_concurrent_creates_wins(store, prefix):
    key = prefix + "lock"
    results = _race(8, lambda n: store.create(key, f"holder-{n}"))
    winners = [n for n, version in enumerate(results) if version is not None]
    assert len(winners) == 1
    assert store.get(key) == (f"holder-{winners[0]}", results[winners[0]])


@prop
def one_of_many_concurrent_swaps_from_one_version_wins(store, prefix):
    key = prefix + "lock"
    base = store.create(key, "free")
    results = _race(8, lambda n: store.compare_and_swap(key, f"holder-{n}", base))
    winners = [n for n, version in enumerate(results) if version is not None]
    assert len(winners) == 1
    assert store.get(key) == (f"holder-{winners[0]}", results[winners[0]])


@prop
def a_lock_with_its_expiry_in_the_value_works_on_the_port_alone(store, prefix):
    """Take, renew, refuse a second holder, break an expired lock, release: only create/swap/delete."""
    key = prefix + "locks/shop"
    held = store.create(key, '{"holder": "a", "expires": 100}')
    assert store.create(key, '{"holder": "b", "expires": 100}') is None
    renewed = store.compare_and_swap(key, '{"holder": "a", "expires": 130}', held)
    assert renewed is not None
    assert store.compare_and_swap(key, '{"holder": "b", "expires": 160}', held) is None  # b read it too early
    broken = store.compare_and_swap(key, '{"holder": "b", "expires": 190}', renewed)  # b found it expired
    assert broken is not None
    assert store.compare_and_delete(key, renewed) is False  # a's release comes too late
    assert store.compare_and_delete(key, broken) is True and store.get(key) is None


@prop
def create_all_is_all_or_nothing(store, prefix):
    if not callable(getattr(store, "create_all", None)):
        return  # an optional capability; stores without it keep one create per key
    version = store.create_all([(prefix + "owners/a", "claim"), (prefix + "addresses/1", "record")])
    assert version is not None
    assert store.get(prefix + "owners/a") == ("claim", version)
    assert store.get(prefix + "addresses/1") == ("record", version)
    store.create(prefix + "addresses/2", "taken")
    assert store.create_all([(prefix + "owners/b", "claim"), (prefix + "addresses/2", "mine")]) is None
    assert store.get(prefix + "owners/b") is None
    assert store.get(prefix + "addresses/2")[0] == "taken"
    results = _race(6, lambda n: store.create_all([(prefix + f"owners/c{n}", str(n)), (prefix + "addresses/3", str(n))]))
    winners = [n for n, v in enumerate(results) if v is not None]
    assert len(winners) == 1
    assert set(store.list(prefix + "owners/")) == {prefix + "owners/a", prefix + f"owners/c{winners[0]}"}
