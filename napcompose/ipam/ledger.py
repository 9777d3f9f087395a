"""Typed access to the IPAM records in the store: claims, addresses and the pool record.

Every write is conditional (create-if-absent, or on the version read). No decisions are made here.
A record that cannot be read (ipam/records.py ``BadRecord``) is reported to the command's
``BadRecords`` and skipped: a listing leaves it out, while a read of one address finds it held by
the record (``held_by_bad``), so it is never handed out.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

from napcompose.errors import StoreError
from napcompose.ipam.pool import parse_address
from napcompose.ipam.records import (BadRecord, BadRecords, Keys, OwnerRecord, address_of_key, bad_address,
                                     dump_allocation, load_allocation)
from napcompose.model import Allocation

MALFORMED = "malformed"  # the state of an address held by a record that cannot be read


def held_by_bad(ip: str, key: str) -> Allocation:
    """What a read of ``ip`` finds when its record cannot be read: taken, by nobody who could match it."""
    return Allocation(ip=ip, owner=f"<malformed record {key}>", host=None, state=MALFORMED, since=0.0, alloc_id="")


class Ledger:
    def __init__(self, store, keys: Keys, bad: Optional[BadRecords] = None):
        self._store = store
        self._keys = keys
        self.bad = bad if bad is not None else BadRecords()

    # ------------------------------------------------------------------ claims

    def claim(self, owner: str) -> Optional[Tuple[OwnerRecord, int]]:
        key = self._keys.owner(owner)
        got = self._store.get(key)
        return None if got is None else (OwnerRecord.load(key, got[0]), got[1])

    def create_claim(self, owner: str, rec: OwnerRecord) -> Optional[int]:
        return self._store.create(self._keys.owner(owner), rec.dump())

    @property
    def atomic(self) -> bool:
        """True when the store creates several keys in one transaction (``create_all``)."""
        return callable(getattr(self._store, "create_all", None))

    def create_claim_and_address(self, owner: str, rec: OwnerRecord, alloc: Allocation) -> Optional[int]:
        """The claim and its address in one transaction, both or neither; their shared version or None."""
        return self._store.create_all([(self._keys.owner(owner), rec.dump()),
                                       (self._keys.address(alloc.ip), dump_allocation(alloc))])

    def swap_claim(self, owner: str, rec: OwnerRecord, version: int) -> Optional[int]:
        return self._store.compare_and_swap(self._keys.owner(owner), rec.dump(), version)

    def delete_claim(self, owner: str, version: int) -> bool:
        return self._store.compare_and_delete(self._keys.owner(owner), version)

    def drop_claim(self, owner: str, ip: str) -> None:
        """Delete the owner's claim if it still names ``ip``."""
        found = self.claim(owner)
        if found is not None and found[0].ip == ip:
            self.delete_claim(owner, found[1])

    def claims(self) -> Dict[str, OwnerRecord]:
        """Every readable claim, by owner (an unreadable one is reported and left out)."""
        prefix = self._keys.owner("")
        out = {}
        for key, (value, _) in self._store.list(prefix).items():
            owner = key[len(prefix):].replace("~", "/")
            try:
                out[owner] = OwnerRecord.load(key, value)
            except StoreError:
                self.bad.found(BadRecord(key, "owner", value, "its value is not an owner record", owner=owner))
        return out

    # ------------------------------------------------------------------ addresses

    def address_key(self, ip: str) -> str:
        return self._keys.address(ip)

    def address(self, ip: str) -> Optional[Tuple[Allocation, int]]:
        key = self._keys.address(ip)
        got = self._store.get(key)
        if got is None:
            return None
        loaded = self._load(ip, key, got[0])
        return (loaded if loaded is not None else held_by_bad(ip, key)), got[1]

    def _load(self, ip: str, key: str, text: str) -> Optional[Allocation]:
        """The allocation recorded at ``key``, or None (reported) when it is not one."""
        if address_of_key(ip) is not None:
            try:
                return load_allocation(ip, key, text)
            except StoreError:
                pass
        self.bad.found(bad_address(key, ip, text))
        return None

    def create_address(self, alloc: Allocation) -> Optional[int]:
        return self._store.create(self._keys.address(alloc.ip), dump_allocation(alloc))

    def swap_address(self, alloc: Allocation, version: int) -> Optional[int]:
        return self._store.compare_and_swap(self._keys.address(alloc.ip), dump_allocation(alloc), version)

    def delete_address(self, ip: str, version: int) -> bool:
        # The free-space hints keep a released address marked as used until the pool has gone round
        # and they are rebuilt from the records: handing it to a container on another host at once
        # would keep the bridges of the LAN forwarding its MAC address (Docker derives it from the
        # IPv4 address) to the old host until the new container happens to send a frame.
        return self._store.compare_and_delete(self._keys.address(ip), version)

    def drop_address(self, ip: str, alloc_id: Optional[str] = None, owner: Optional[str] = None) -> None:
        """Delete ``ip`` if it still carries ``alloc_id`` (or still names ``owner``)."""
        found = self.address(ip)
        if found is None:
            return
        current, version = found
        if (alloc_id is not None and current.alloc_id == alloc_id) or (owner is not None and current.owner == owner):
            self.delete_address(ip, version)

    def allocations(self) -> List[Allocation]:
        """Every readable address record, sorted by address (an unreadable one is reported and left out)."""
        return self.read_addresses()[0]

    def used(self) -> List[str]:
        """Every address taken: those of the readable records and those unreadable records' keys name."""
        found, bad = self.read_addresses()
        return [a.ip for a in found] + [b.ip for b in bad if b.ip]

    def read_addresses(self) -> Tuple[List[Allocation], List[BadRecord]]:
        """The readable address records sorted by address, and the unreadable ones (reported)."""
        prefix = self._keys.addresses
        out, bad = [], []
        for key, (value, _) in self._store.list(prefix).items():
            loaded = self._load(key[len(prefix):], key, value)
            if loaded is not None:
                out.append(loaded)
            else:
                bad.append(bad_address(key, key[len(prefix):], value))
        return sorted(out, key=lambda a: parse_address(a.ip)), bad

    # ------------------------------------------------------------------ the pool record

    def pool_record(self) -> Optional[Tuple[dict, int]]:
        got = self._store.get(self._keys.pool)
        if got is None:
            return None
        try:
            data = json.loads(got[0])
        except ValueError:
            data = {}
        return (data if isinstance(data, dict) else {}), got[1]

    def write_pool_record(self, definition: dict, version: Optional[int]) -> Optional[int]:
        text = json.dumps(definition, sort_keys=True)
        if version is None:
            return self._store.create(self._keys.pool, text)
        return self._store.compare_and_swap(self._keys.pool, text, version)
