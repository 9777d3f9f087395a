"""Hosts the operator declared gone for good (``nap-compose host evict``), kept in the store.

The record sits beside the addresses because it decides where they may go: a replica of an evicted
host moves WITH its address (nothing can still run there, on the operator's word), while one of a
host that only stopped answering gets a new address. One key per host, ``<prefix>/evicted/<host>``,
written with create-if-absent and removed with compare-and-delete; it is the cluster's, not a
project's, since a host gone for good is gone for every project. A record that cannot be read is
reported and skipped: its host counts as not evicted, so its replicas get new addresses as for any
host that stopped answering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Optional

from napcompose.errors import StoreError
from napcompose.ipam.records import BadRecord, BadRecords, check_host


@dataclass(frozen=True)
class Eviction:
    host: str
    since: float
    by: str  # who said so: user@machine and the command


class Evictions:
    """The evicted hosts of one cluster, over a KeyValueStore."""

    def __init__(self, store, prefix: str, clock, bad: Optional[BadRecords] = None):
        self._store = store
        self._prefix = f"{prefix.rstrip('/')}/evicted/"
        self._clock = clock
        self.bad = bad if bad is not None else BadRecords()

    def evicted(self) -> Dict[str, Eviction]:
        found = {}
        for key, (value, _) in self._store.list(self._prefix).items():
            host = key[len(self._prefix):]
            try:
                data = json.loads(value)
                found[host] = Eviction(host, float(data["since"]), str(data["by"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                self.bad.found(BadRecord(key, "eviction", value, "its value is not an eviction record"))
        return found

    def evict(self, host: str, by: str) -> bool:
        """Record ``host`` as evicted; False when it already was (the first record stays)."""
        check_host(host)
        record = json.dumps({"since": self._clock.now(), "by": by}, sort_keys=True)
        return self._store.create(self._prefix + host, record) is not None

    def readmit(self, host: str) -> bool:
        """Forget ``host``'s eviction; False when it was not evicted."""
        check_host(host)
        for _ in range(20):
            got = self._store.get(self._prefix + host)
            if got is None:
                return False
            if self._store.compare_and_delete(self._prefix + host, got[1]):
                return True
        raise StoreError(f"the eviction record of {host} kept changing while being removed; run it again")
