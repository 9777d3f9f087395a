"""Which copy of a replica is current, judged from observed containers alone: what ``ps`` marks.

A replica that moved off a lost host gets a new copy of a higher generation; an update that keeps
the old container for a rollback renames it ``<name>-previous``. ``ps`` shows the older copies as
``superseded`` and the kept ones as ``previous``; it needs only these few rules, not the planner
(whose ``hostloss`` and ``rolling_actions`` apply these very rules to what ``up`` does, adding
what the address records say of stranded copies).
"""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Set, Tuple

from napcompose.ipam.stranding import STRANDED
from napcompose.model import RUNNING_STATES, ObservedContainer, Replica

PREVIOUS_SUFFIX = "-previous"


def is_previous(container: ObservedContainer) -> bool:
    """Whether ``container`` is one kept by an update for a rollback (its name says so: Docker
    cannot change a container's labels)."""
    return container.replica is not None and container.name.endswith(PREVIOUS_SUFFIX)


def kept_for_rollback(container: ObservedContainer) -> bool:
    """A stopped copy that a start-first update kept on purpose: older than its replica's current
    copy, yet not stale. One still running is what a run that died mid-update left."""
    return is_previous(container) and container.state not in RUNNING_STATES


def current_generations(containers: Iterable[ObservedContainer],
                        floor: Mapping[Replica, int] = {}) -> Dict[Replica, int]:  # noqa: B006 (read only)
    """Per replica, the generation of its current copy: the highest seen (stranded stand-ins and
    one-off containers are no copies of it), and at least ``floor``'s."""
    gens: Dict[Replica, int] = dict(floor)
    for c in containers:
        if c.replica is not None and c.state != STRANDED and not c.one_off:
            gens[c.replica] = max(gens.get(c.replica, 0), c.generation)
    return gens


def superseded(containers: Iterable[ObservedContainer],
               floor: Mapping[Replica, int] = {}) -> Set[Tuple[str, str]]:  # noqa: B006 (read only)
    """(host, container id) of every real container older than its replica's current copy (copies
    kept for a rollback aside); ``floor`` as for ``current_generations``."""
    containers = tuple(containers)
    gens = current_generations(containers, floor)
    return {(c.host, c.id) for c in containers if c.replica is not None and c.id and not c.one_off
            and stale(c, gens)}


def stale(c: ObservedContainer, gens: Mapping[Replica, int]) -> bool:
    """Whether ``c`` is older than its replica's current copy in ``gens`` and not kept for a rollback."""
    return c.generation < gens.get(c.replica, 1) and not kept_for_rollback(c)
