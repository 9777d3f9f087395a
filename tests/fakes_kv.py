"""An in-memory KeyValueStore with the real semantics: create-if-absent, compare-and-swap and
compare-and-delete decided under one lock, a version counter per write, and a switch to lose the
reply of a write after applying it (what a timeout after commit looks like to the client)."""

from __future__ import annotations

import threading
from typing import Dict, Optional, Sequence, Tuple

from napcompose.errors import StoreError


class LostReply(StoreError):
    """The write was applied but its reply never came back."""


class MemoryKV:
    def __init__(self):
        self._lock = threading.Lock()
        self._data: Dict[str, Tuple[str, int]] = {}
        self._index = 0
        self.lose_next = 0  # how many of the next writes lose their reply after being applied
        self.lose_if = None  # optional predicate(op, key) choosing which writes lose their reply
        # "resend": the client silently sends the write again and gets "already exists"/"compare
        # failed" (python-etcd with allow_reconnect); "timeout": the client gets a StoreError.
        self.lose_as = "resend"
        self.lost = []
        self.calls: Dict[str, int] = {"get": 0, "create": 0, "cas": 0, "cad": 0, "list": 0, "create_all": 0}

    def _lose(self, op: str, key: str) -> bool:
        """True when this applied write's reply is lost as a resend; raises for a timeout."""
        if self.lose_next > 0 and (self.lose_if is None or self.lose_if(op, key)):
            self.lose_next -= 1
            self.lost.append((op, key))
            if self.lose_as == "timeout":
                raise LostReply(f"no reply for {op} {key}")
            return True
        return False

    def get(self, key: str) -> Optional[Tuple[str, int]]:
        with self._lock:
            self.calls["get"] += 1
            return self._data.get(key)

    def create(self, key: str, value: str) -> Optional[int]:
        with self._lock:
            self.calls["create"] += 1
            if key in self._data:
                return None
            self._index += 1
            self._data[key] = (value, self._index)
            version = self._index
        return None if self._lose("create", key) else version

    def compare_and_swap(self, key: str, value: str, version: int) -> Optional[int]:
        with self._lock:
            self.calls["cas"] += 1
            if key not in self._data or self._data[key][1] != version:
                return None
            self._index += 1
            self._data[key] = (value, self._index)
            new = self._index
        return None if self._lose("cas", key) else new

    def compare_and_delete(self, key: str, version: int) -> bool:
        with self._lock:
            self.calls["cad"] += 1
            if key not in self._data or self._data[key][1] != version:
                return False
            del self._data[key]
        return not self._lose("cad", key)

    def list(self, prefix: str) -> Dict[str, Tuple[str, int]]:
        with self._lock:
            self.calls["list"] += 1
            return {k: v for k, v in self._data.items() if k.startswith(prefix)}

    def keys(self):
        with self._lock:
            return sorted(self._data)


class AtomicMemoryKV(MemoryKV):
    """MemoryKV with the optional ``create_all`` (several keys in one transaction), like etcd's v3 API."""

    def create_all(self, pairs: Sequence[Tuple[str, str]]) -> Optional[int]:
        pairs = list(pairs)
        with self._lock:
            self.calls["create_all"] += 1
            if any(key in self._data for key, _ in pairs):
                return None
            self._index += 1
            for key, value in pairs:
                self._data[key] = (value, self._index)
            version = self._index
        return None if self._lose("create_all", pairs[0][0]) else version
