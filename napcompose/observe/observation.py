"""What the hosts and the address book said, frozen: the one input every plan is made from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from napcompose.ipam.stranding import STRANDED
from napcompose.model import Allocation, HostStatus, ObservedContainer, Replica
from napcompose.clustermodel import Cluster




def parse_owner(owner: str) -> Optional[Replica]:
    """The Replica an address-book owner string ``project/service/index`` stands for, or None."""
    parts = owner.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return Replica(parts[0], parts[1], int(parts[2]))


def stranded_owner(replica: Replica, generation: int) -> str:
    """The owner an address is kept under once the copy ``generation`` of ``replica`` is left behind
    on a lost host: ``project/service/index@genN``. The replica's own owner is then free for its new
    copy's new address."""
    return f"{replica.owner}@gen{generation}"


def parse_stranded(owner: str) -> Optional[Tuple[Replica, int]]:
    """(replica, generation) of a stranded owner string, or None for any other owner."""
    head, sep, gen = owner.rpartition("@gen")
    replica = parse_owner(head) if sep else None
    if replica is None or not gen.isdigit() or int(gen) < 1:
        return None
    return replica, int(gen)


@dataclass(frozen=True)
class Addresses:
    """The addresses one project's replicas hold, as read from the address book at one moment."""

    allocations: Tuple[Tuple[Replica, Allocation], ...] = ()
    # addresses kept for copies left on lost hosts: (replica, generation of that copy, allocation)
    stranded: Tuple[Tuple[Replica, int, Allocation], ...] = ()

    @classmethod
    def of_project(cls, allocations: Iterable[Allocation], project: str) -> "Addresses":
        found = {}
        stranded = []
        for allocation in allocations:
            replica = parse_owner(allocation.owner)
            if replica is not None and replica.project == project:
                found[replica] = allocation
                continue
            left = parse_stranded(allocation.owner)
            if left is not None and left[0].project == project:
                stranded.append((left[0], left[1], allocation))
        return cls(tuple(sorted(found.items())), tuple(sorted(stranded, key=lambda s: (s[0], s[1]))))

    def stranded_generations(self) -> Dict[Replica, int]:
        """The highest generation left behind per replica: its current copy is newer than that."""
        highest: Dict[Replica, int] = {}
        for replica, generation, _ in self.stranded:
            highest[replica] = max(highest.get(replica, 0), generation)
        return highest

    @property
    def by_replica(self) -> Dict[Replica, Allocation]:
        return dict(self.allocations)

    def of(self, replica: Replica) -> Optional[Allocation]:
        return self.by_replica.get(replica)


def stand_ins(addresses: Addresses, down: Dict[str, str]) -> Tuple[ObservedContainer, ...]:
    """Stand-ins for the containers an unreachable host may hold, known from their addresses.

    A replica's own address gives an ``unknown`` stand-in, newer than every copy left behind; a
    stranded address gives a ``stranded`` one of its copy's generation. ``up`` moves the first kind
    off the host (planner/hostloss.py) and leaves the second for when the host answers again.
    """
    left = addresses.stranded_generations()
    current = tuple(ObservedContainer(host=a.host, id="", name=r.name, replica=r, config_hash=None,
                                      state="unknown", ip=a.ip, alloc_id=a.alloc_id,
                                      generation=max(a.generation, left.get(r, 0) + 1))
                    for r, a in addresses.allocations if a.host in down)
    behind = tuple(ObservedContainer(host=a.host, id="", name=r.name, replica=r, config_hash=None,
                                     state=STRANDED, ip=a.ip, alloc_id=a.alloc_id, generation=g)
                   for r, g, a in addresses.stranded if a.host in down)
    return current + behind


@dataclass(frozen=True)
class Observation:
    """Every host's answer, asked once and in parallel, plus stand-ins for the hosts that did not answer.

    ``containers``: the containers found (every nap-compose container when ``everything``, else the
    project's), then the stand-ins. ``image_ids``: ((host, image), id or None when absent) for the
    pairs asked; a pair left out is unknown (the host did not answer).
    """

    cluster: Cluster
    project: str
    containers: Tuple[ObservedContainer, ...] = ()
    hosts: Tuple[HostStatus, ...] = ()
    image_ids: Tuple[Tuple[Tuple[str, str], Optional[str]], ...] = ()
    everything: bool = False
    observed_at: float = 0.0  # when the hosts were asked: proof of a container's absence counts from here
    volumes: Tuple[Tuple[str, str], ...] = ()  # (host, name) of the project's named volumes found
    evicted: Tuple[str, ...] = ()  # hosts the operator declared gone for good (``host evict``)

    @property
    def unreachable(self) -> Tuple[HostStatus, ...]:
        return tuple(h for h in self.hosts if not h.reachable)

    @property
    def down(self) -> Dict[str, str]:
        return {h.host: h.error or "unreachable" for h in self.hosts if not h.reachable}

    @property
    def mine(self) -> Tuple[ObservedContainer, ...]:
        """The project's containers, stand-ins included."""
        return tuple(c for c in self.containers if c.replica is not None and c.replica.project == self.project)

    @property
    def images(self) -> Dict[Tuple[str, str], Optional[str]]:
        return dict(self.image_ids)
