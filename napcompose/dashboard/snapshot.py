"""The frozen values a dashboard page is rendered from. They hold no secret: no environment, no
credentials, no label other than a host's own and a container's project and service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from napcompose.graphview import ServiceGraph
from napcompose.model import ContainerEvent, Pairs


@dataclass(frozen=True)
class HostView:
    name: str
    address: str
    labels: Pairs
    block: Optional[str]  # the host's own range for Docker's IPAM, when the cluster file gives one
    reachable: bool
    error: Optional[str]
    containers: int  # nap-compose containers found on it (stand-ins for an unreachable host)


@dataclass(frozen=True)
class ContainerView:
    name: str
    project: str
    service: str
    index: int
    host: str
    ip: str
    state: str
    health: str
    ports: Tuple[str, ...]
    status: str  # Docker's own words: "Up 5 minutes", "Exited (137) 2 seconds ago"

    @property
    def uptime(self) -> str:
        if self.state == "running" and self.status.startswith("Up "):
            return self.status[3:].split(" (", 1)[0]
        return ""


@dataclass(frozen=True)
class AllocationView:
    ip: str
    owner: str
    host: str
    state: str
    since: float


@dataclass(frozen=True)
class PoolView:
    ranges: str  # "198.18.0.100-198.18.0.249"
    size: int
    allocations: Tuple[AllocationView, ...]
    blocks: Tuple[Tuple[str, str], ...] = ()  # (host, block)
    error: Optional[str] = None  # the store did not answer

    @property
    def used(self) -> int:
        return len(self.allocations)

    @property
    def free(self) -> int:
        return max(0, self.size - self.used)

    def count_by(self, key) -> Tuple[Tuple[str, int], ...]:
        counts = {}
        for allocation in self.allocations:
            name = key(allocation)
            counts[name] = counts.get(name, 0) + 1
        return tuple(sorted(counts.items()))

    @property
    def by_host(self) -> Tuple[Tuple[str, int], ...]:
        return self.count_by(lambda a: a.host or "-")

    @property
    def by_project(self) -> Tuple[Tuple[str, int], ...]:
        return self.count_by(lambda a: a.owner.split("/", 1)[0] if a.owner.count("/") == 2 else a.owner)


@dataclass(frozen=True)
class DriftView:
    """What ``hosts check`` reports for the loaded project; ``project`` None when none is loaded."""

    project: Optional[str]
    drifts: Tuple[Tuple[str, str, str], ...] = ()  # (container, host, what differs)
    warnings: Tuple[str, ...] = ()
    error: Optional[str] = None


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    hosts: Tuple[HostView, ...]
    containers: Tuple[ContainerView, ...]
    pool: PoolView
    drift: DriftView
    events: Tuple[ContainerEvent, ...]  # newest last
    project: Optional[str] = None  # the project whose compose file was loaded
    graph: Optional[ServiceGraph] = None
    graph_error: Optional[str] = None
    notes: Tuple[str, ...] = ()  # problems seen while gathering (an engine's events failed, …)
    # what the reconciler (``watch``) did and why: (project, reconcile.records.LogEntry), newest last
    healing: Tuple = ()
