"""Fencing: an owner's address is bound to one host at a time, whatever the callers do.

An address record names its host. Asking for the same owner on another host is refused unless the
caller brings proof that the owner's container left the old host: a scan of the hosts in which the
old host answered and held no container of that owner and, when the record is ``bound``, a scan
begun after the bind (with a margin for clocks that disagree). The move itself is a compare-and-swap
on the record's version, and a container is started only after its bind (a compare-and-swap that
checks the host) succeeded, so a writer whose reservation was moved away meanwhile removes its
container instead of starting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Iterable, Optional, Tuple

from napcompose.model import Allocation, HostStatus, ObservedContainer


@dataclass(frozen=True)
class Vacated:
    """What a caller saw when it asked every host for its containers, as proof an owner left a host.

    ``scanned_at`` is when the scan began, ``answered`` the hosts that answered, ``holding`` the
    (owner, host) pair of every container seen, stopped or not.
    """

    scanned_at: float
    answered: FrozenSet[str]
    holding: FrozenSet[Tuple[str, str]]
    # hosts the operator declared gone for good (``host evict``): their word is the proof
    evicted: FrozenSet[str] = frozenset()

    @staticmethod
    def from_scan(scanned_at: float, statuses: Iterable[HostStatus],
                  containers: Iterable[ObservedContainer]) -> "Vacated":
        return Vacated(scanned_at, frozenset(s.host for s in statuses if s.reachable),
                       frozenset((c.replica.owner, c.host) for c in containers if c.replica is not None))


def refusal(current: Allocation, host: str, vacated: Optional[Vacated], margin_s: float) -> Optional[str]:
    """Why ``current`` may not move to ``host``, or None when the proof holds."""
    old, owner = current.host, current.owner
    if vacated is not None and old in vacated.evicted:
        return None
    if vacated is None:
        why = (f"nothing shows that its container on {old} is gone (remove it there, or release the address, "
               "first)")
    elif old not in vacated.answered:
        why = f"{old} did not answer, so its container there may still run"
    elif (owner, old) in vacated.holding:
        why = f"{old} still has a container of {owner}"
    elif current.state == "bound" and current.since > vacated.scanned_at - margin_s:
        # Its container was made after (or just before) the scan, and its writer may start it: the
        # scan proves nothing. A record still "reserved" may move: its writer binds before it starts
        # the container, and that bind fails once the record names another host.
        why = (f"its container was bound there after (or just before) this run looked at {old}: another "
               "run is working on it")
    else:
        return None
    return f"address {current.ip} of {owner} is {current.state} on {old}; refusing it on {host}: {why}"
