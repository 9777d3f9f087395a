"""Values the orchestrator hands back: what the hosts hold, what a run would do, hosts-file drift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from napcompose.model import HostStatus, ObservedContainer, Placement, Replica


@dataclass(frozen=True)
class Observation:
    """The project's containers on every host that answered, and how every host answered."""

    containers: Tuple[ObservedContainer, ...]
    hosts: Tuple[HostStatus, ...]

    @property
    def unreachable(self) -> Tuple[HostStatus, ...]:
        return tuple(h for h in self.hosts if not h.reachable)


@dataclass(frozen=True)
class PreviewEntry:
    """One container in a preview: where, at which address, what would happen and why."""

    replica: Replica
    host: str
    address: str  # "(new)" when no address is reserved yet
    action: str  # create | recreate | start | remove | noop
    reason: str
    hosts_lines: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Preview:
    """What ``up`` would do, computed without reserving or touching anything."""

    placement: Placement
    addresses: Tuple[Tuple[Replica, str], ...]
    plan: object  # planner.Plan
    entries: Tuple[PreviewEntry, ...]
    hosts: Tuple[HostStatus, ...] = ()

    def render(self) -> List[str]:
        """Lines for a terminal: one per container, then the hosts lines it will get, indented."""
        words = {"create": "create", "recreate": "recreate", "start": "start", "remove": "remove",
                 "noop": "nothing"}
        lines = []
        for entry in self.entries:
            label = f"{entry.replica.service}_{entry.replica.index}"
            lines.append(f"{label} on {entry.host} ({entry.address}): "
                         f"{words.get(entry.action, entry.action)} ({entry.reason})")
            lines.extend("    " + line for line in entry.hosts_lines)
        for status in self.hosts:
            if not status.reachable:
                lines.append(f"host {status.host} did not answer: {status.error}")
        return lines


@dataclass(frozen=True)
class HostsDrift:
    """A container whose hosts file does not hold the block it should; ``actual`` None: no block."""

    replica: Replica
    host: str
    expected: str
    actual: Optional[str]
