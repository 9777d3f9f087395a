"""Host blocks in the store: ``<prefix>/host-blocks/<first address>`` = ``{"host", "block", "since"}``.

A block is reserved with create-if-absent on its own key, so two hosts can never hold one block.
The choice is deterministic (hosts in cluster-file order, each taking the first free candidate), so
running ``network create`` again changes nothing and concurrent runs over one cluster file pick the
same blocks. Should two runs that saw different stores still give one host two blocks, the block
written first (lowest store version) stays and the later one is deleted by the run that wrote it.
A record that cannot be read is reported (``BadRecords``) and skipped, and the block its key starts
(one block of the cluster's size) is never given to a host while it stays.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.errors import ConfigError, IpamError, StoreError
from napcompose.ipam import blocks as arith
from napcompose.ipam.pool import parse_address
from napcompose.ipam.records import BadRecord, BadRecords, address_of_key
from napcompose.clustermodel import HostBlock


def _key_prefix(prefix: str) -> str:
    return f"{prefix.rstrip('/')}/host-blocks/"


def _load(key: str, text: str, version: int) -> HostBlock:
    try:
        data = json.loads(text)
        return HostBlock(host=str(data["host"]), cidr=str(data["block"]), since=float(data["since"]),
                         version=version)
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"the store holds a malformed host block record at {key}: {text[:80]!r}") from None


def by_host(blocks: Sequence[HostBlock]) -> Dict[str, HostBlock]:
    """Each host's block among ``blocks``; of two (a settled race), the one written first."""
    out: Dict[str, HostBlock] = {}
    for block in sorted(blocks, key=lambda b: b.version):
        out.setdefault(block.host, block)
    return out


def check_blocks(cluster, blocks: Sequence[HostBlock]) -> None:
    """ConfigError when the cluster file puts a host, the router, a pool or a reserved address inside
    one of the reserved ``blocks`` (the addresses of that block's containers would be handed out twice)."""
    for block in blocks:
        hit = arith.conflict_of(block.cidr, cluster.network, cluster.hosts)
        if hit is None:
            continue
        listed = any(h.name == block.host for h in cluster.hosts)
        how = (f"`nap-compose network rm --host {block.host}`" if listed
               else "`nap-compose ipam gc --yes`, since the host left the cluster file")
        raise ConfigError(f"{cluster.source or 'the cluster file'}: {hit} is inside the block "
                          f"{block.cidr} that host {block.host} holds in the store; change the cluster "
                          f"file, or remove network {cluster.network.name} on {block.host} and release "
                          f"its block first ({how})")


def free_blocks(cluster, blocks: Sequence[HostBlock], missing: Sequence[str],
                unreadable: Sequence[str] = ()) -> List[str]:
    """The free candidate blocks, in the order hosts take them; IpamError when there are fewer than
    the ``missing`` hosts need. The first ``len(missing)`` are what those hosts get, in their order.
    ``unreadable``: blocks whose records cannot be read, kept from everyone."""
    taken = [b.cidr for b in blocks] + list(unreadable)
    free = [c for c in arith.candidates(cluster.network, cluster.hosts) if arith.overlaps(c, taken) is None]
    if len(free) < len(missing):
        where = ", ".join(s[2] for s in arith.areas(cluster.network))
        raise IpamError(
            f"no room for the blocks of host(s) {', '.join(missing)}: {where} has {len(free)} free "
            f"/{cluster.network.host_block} block(s) beside the router, hosts, pools, reserved addresses "
            f"and {len(taken)} block(s) already held; set a smaller network.host_block or give "
            "network.host_blocks more room")
    return free


class HostBlocks:
    def __init__(self, store, prefix: str, clock, bad: Optional[BadRecords] = None):
        self._store = store
        self._prefix = _key_prefix(prefix)
        self._clock = clock
        self.bad = bad if bad is not None else BadRecords()

    def _key(self, cidr: str) -> str:
        return self._prefix + cidr.split("/", 1)[0]

    def list(self) -> List[HostBlock]:
        """Every readable reserved block, in address order (an unreadable record is reported and left out)."""
        return self._read()[0]

    def _read(self) -> Tuple[List[HostBlock], List[BadRecord]]:
        found, bad = [], []
        for key, (value, version) in self._store.list(self._prefix).items():
            record = self._readable(key, value, version)
            if isinstance(record, HostBlock):
                found.append(record)
            else:
                bad.append(record)
        return sorted(found, key=lambda b: parse_address(b.cidr.split("/")[0])), bad

    def _readable(self, key: str, value: str, version: int):
        """The block recorded at ``key``, or its BadRecord (reported)."""
        first = address_of_key(key[len(self._prefix):])
        why = "its key names no address" if first is None else "its value is not a host block record"
        if first is not None:
            try:
                block = _load(key, value, version)
                if str(ipaddress.IPv4Network(block.cidr).network_address) == first:
                    return block
            except (StoreError, ValueError):
                pass
        record = BadRecord(key, "host block", value, why, ip=first)
        self.bad.found(record)
        return record

    def by_host(self) -> Dict[str, HostBlock]:
        """Each host's block; of two (a settled race), the one written first."""
        return by_host(self.list())

    def check(self, cluster) -> None:
        """Refuse a cluster file that now puts a host, the router, a pool or a reserved address inside a
        block already reserved (the addresses of that block's containers would be handed out twice)."""
        check_blocks(cluster, self.list())

    def ensure(self, cluster, hosts: Optional[Sequence[str]] = None) -> Dict[str, HostBlock]:
        """The block of every host of ``cluster`` (or of the ``hosts`` named), reserving missing ones.

        Nothing is written when the cluster file conflicts with a stored block or when there is no
        room for every missing block.
        """
        self.check(cluster)
        names = [h.name for h in cluster.hosts if hosts is None or h.name in hosts]
        held = self.by_host()
        missing = [n for n in names if n not in held]
        if missing:
            self._reserve(cluster, missing)
            held = self.by_host()
        return {n: held[n] for n in names}

    def _reserve(self, cluster, missing: Sequence[str]) -> None:
        held, bad = self._read()
        # an unreadable record keeps the block its key starts: it may still be some host's
        unreadable = [str(ipaddress.IPv4Network(f"{r.ip}/{cluster.network.host_block}", strict=False))
                      for r in bad if r.ip]
        free = free_blocks(cluster, held, missing, unreadable)
        written: List[Tuple[str, int]] = []
        for name in missing:
            while free:
                cidr = free.pop(0)
                value = json.dumps({"host": name, "block": cidr, "since": self._clock.now()}, sort_keys=True)
                version = self._store.create(self._key(cidr), value)
                if version is not None:
                    written.append((cidr, version))
                    break
                found = self._store.get(self._key(cidr))
                if found is not None:
                    record = self._readable(self._key(cidr), *found)
                    if isinstance(record, HostBlock) and record.host == name:
                        break  # a concurrent run gave this host the same block
            else:
                raise IpamError(f"no room left for the block of host {name}: the free blocks were taken "
                                "meanwhile; run it again")
        self._settle(written)

    def _settle(self, written: Sequence[Tuple[str, int]]) -> None:
        """Delete what we wrote for a host that, through a concurrent run, got an earlier block."""
        keep = self.by_host()
        for block in self.list():
            if (block.cidr, block.version) in written and keep[block.host].cidr != block.cidr:
                self._store.compare_and_delete(self._key(block.cidr), block.version)

    def release(self, host: str) -> Optional[HostBlock]:
        """Release every block of ``host``; returns the one it held (None when it held none)."""
        mine = [b for b in self.list() if b.host == host]
        for block in mine:
            self._store.compare_and_delete(self._key(block.cidr), block.version)
        return min(mine, key=lambda b: b.version) if mine else None
