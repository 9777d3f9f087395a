"""What the hosts and the address book said, frozen: the one input every plan is made from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from napcompose.model import Allocation, HostStatus, ObservedContainer, Replica
from napcompose.clustermodel import Cluster


def parse_owner(owner: str) -> Optional[Replica]:
    """The Replica an address-book owner string ``project/service/index`` stands for, or None."""
    parts = owner.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return Replica(parts[0], parts[1], int(parts[2]))


@dataclass(frozen=True)
class Addresses:
    """The addresses one project's replicas hold, as read from the address book at one moment."""

    allocations: Tuple[Tuple[Replica, Allocation], ...] = ()

    @classmethod
    def of_project(cls, allocations: Iterable[Allocation], project: str) -> "Addresses":
        found = {}
        for allocation in allocations:
            replica = parse_owner(allocation.owner)
            if replica is not None and replica.project == project:
                found[replica] = allocation
        return cls(tuple(sorted(found.items())))

    @property
    def by_replica(self) -> Dict[Replica, Allocation]:
        return dict(self.allocations)

    def of(self, replica: Replica) -> Optional[Allocation]:
        return self.by_replica.get(replica)


def stand_ins(addresses: Addresses, down: Dict[str, str]) -> Tuple[ObservedContainer, ...]:
    """Stand-ins for the containers an unreachable host may hold, known from their addresses.

    They keep those replicas on their host (nothing is created twice), show in ``ps`` as
    ``unknown``, and make every action on them fail with the host's reason.
    """
    return tuple(ObservedContainer(host=a.host, id="", name=r.name, replica=r, config_hash=None,
                                   state="unknown", ip=a.ip, alloc_id=a.alloc_id)
                 for r, a in addresses.allocations if a.host in down)


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
