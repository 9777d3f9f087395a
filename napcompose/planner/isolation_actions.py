"""The bridge filters' action: every answering host's table loaded from the records, once per phase.

A run loads the filters at most twice, whatever its size: ``before`` the containers (after the
addresses are reserved and the releases done: new replicas are in their groups before their
process starts), and ``after`` them, last (the ports of the containers the run started are bound
to their addresses, removed containers' addresses are out of every group, and the started
containers' addresses are announced by unsolicited ARP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterable, Optional, Tuple

from napcompose.model import Replica


@dataclass(frozen=True)
class ApplyIsolation:
    """Load the bridge filter of each of ``hosts`` from the address records and the containers'
    groups; ``announce``: the replicas whose addresses are announced once their ports are bound."""

    hosts: Tuple[str, ...]
    phase: str = "after"  # before | after
    announce: Tuple[Replica, ...] = ()
    reason: str = "isolation groups and each container's port"
    after: Tuple[str, ...] = ()
    host: Optional[str] = None  # the filters of every host at once: each needs every host's members
    verb: ClassVar[str] = "Loading"
    kind: ClassVar[str] = "isolation"

    @property
    def key(self) -> str:
        return f"isolation-{self.phase}"

    @property
    def subject(self) -> str:
        return "bridge filters"


def isolation_applies(observation, phase: str, announce: Iterable[Replica] = ()) -> Tuple[ApplyIsolation, ...]:
    """One ApplyIsolation over the hosts that answered, when the cluster isolates its groups."""
    if not observation.cluster.network.isolation:
        return ()
    hosts = tuple(sorted(h.host for h in observation.hosts if h.reachable))
    if not hosts:
        return ()
    return (ApplyIsolation(hosts, phase, tuple(sorted(set(announce)))),)
