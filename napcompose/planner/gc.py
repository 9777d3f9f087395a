"""The plan of ``ipam gc``: give back the addresses whose container is gone. Pure.

Input: the Observation of every host (every project's containers) and the address book as read
once (``AddressRecords``). An address is collected when its host answered and no container of its
owner runs on any host that answered, or when it is a stray its owner's claim does not name, older
than the grace period (ipam/queries.py ``collectable``). A host that did not answer keeps its
addresses. A host block is collected only for a host gone from the cluster file (its network must be
gone too: ``network rm --host`` does both while the host is still listed): a ReleaseBlock in the
last wave, run only once every address was released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple

from napcompose.clustermodel import HostBlock
from napcompose.ipam.queries import collectable
from napcompose.ipam.records import OwnerRecord
from napcompose.model import Allocation, Replica
from napcompose.observe.observation import Observation, parse_owner, parse_stranded, stranded_owner
from napcompose.planner.run import run_owners
from napcompose.planner.actions import Plan, Release
from napcompose.planner.network_actions import ReleaseBlock


@dataclass(frozen=True)
class AddressRecords:
    """The address book as ``gc`` reads it: every owner's claim, then every allocation, at ``read_at``;
    ``grace_s``: how old an address its owner's claim does not name must be to count as a stray."""

    claims: Tuple[Tuple[str, OwnerRecord], ...]
    allocations: Tuple[Allocation, ...]
    read_at: float
    grace_s: float
    blocks: Tuple[HostBlock, ...] = ()  # every host block the store holds
    # Projects whose lock was held when the book was read (before the hosts were observed, or after
    # the book): a command changing one may have reserved an address whose container it has not yet
    # created, so nothing of theirs is collected now.
    locked: Tuple[str, ...] = ()


def project_of(owner: str) -> str:
    """The project an owner string belongs to (``shop/web/2``, ``shop/web/2@g3``, ``shop/web/run-…``)."""
    return owner.split("/", 1)[0]


def live_owners(observation: Observation) -> Dict[str, Set[str]]:
    """{host that answered: owners whose container runs there}. A copy left behind by a replica that
    moved holds its address under the stranded owner, so it counts under both names."""
    live: Dict[str, Set[str]] = {h.host: set() for h in observation.hosts if h.reachable}
    for c in observation.containers:
        if c.replica is not None and c.host in live:
            live[c.host].update((c.replica.owner, stranded_owner(c.replica, c.generation)))
            live[c.host].update(run_owners((c,)))  # a one-off holds its address under its own owner
    return live


def _replica_of(owner: str) -> Optional[Replica]:
    stranded = parse_stranded(owner)
    return stranded[0] if stranded is not None else parse_owner(owner)


def plan_gc(observation: Observation, records: AddressRecords) -> Plan:
    """One wave of exact Releases, one per collected address, in the address book's order; then one
    ReleaseBlock per block of a host gone from the cluster file, after every Release."""
    leaked = [a for a in collectable(records.allocations, dict(records.claims), live_owners(observation),
                                     set(observation.down), records.read_at, records.grace_s)
              if project_of(a.owner) not in records.locked]
    releases = tuple(Release(_replica_of(a.owner), a.host, a.ip, "no container holds it", owner=a.owner,
                             exact=True) for a in leaked)
    orphans = orphan_blocks(records.blocks, (h.name for h in observation.cluster.hosts)) if records.blocks else []
    blocks = tuple(ReleaseBlock(b.host, b.cidr, "its host left the cluster file", tuple(r.key for r in releases))
                   for b in orphans)
    return Plan("", waves=tuple(w for w in (releases, blocks) if w))


def orphan_blocks(blocks: Iterable[HostBlock], hosts: Iterable[str]) -> List[HostBlock]:
    """The blocks of hosts no longer in the cluster file; a listed host's block is never collected."""
    known = set(hosts)
    return [b for b in blocks if b.host not in known]


def kept_locked(observation: Observation, records: AddressRecords) -> Dict[str, int]:
    """{locked project: how many of its addresses would be collected but are kept for now}."""
    unlocked = AddressRecords(records.claims, records.allocations, records.read_at, records.grace_s)
    would = collectable(unlocked.allocations, dict(unlocked.claims), live_owners(observation),
                        set(observation.down), unlocked.read_at, unlocked.grace_s)
    counts: Dict[str, int] = {}
    for a in would:
        if project_of(a.owner) in records.locked:
            counts[project_of(a.owner)] = counts.get(project_of(a.owner), 0) + 1
    return counts


def kept_on(records: AddressRecords, down: Mapping[str, str]) -> Dict[str, int]:
    """{host that did not answer: how many allocations it keeps}."""
    return {host: sum(1 for a in records.allocations if a.host == host) for host in down}
