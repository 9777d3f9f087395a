"""Lost and evicted hosts in the plan of ``up``: which copy of a replica is current, what moves, what goes.

A host that did not answer may be crashed or only cut off, still running its containers. So a
replica of a lost host moves to a live host with a NEW address, and its old address stays taken,
kept for the copy left behind (``stranded``). Every container carries its copy's generation; the
new copy gets a higher one. When the lost host answers again, its copies older than their replica's
current generation (``superseded``) are removed before anything else happens there, and only then
are their stranded addresses released: no two containers ever hold one address.

An evicted host (``nap-compose host evict``) is the operator's word that the host is gone for good:
its replicas move WITH their addresses, its stranded addresses are released, and if it answers again
its containers of the project are removed first. Pure: everything comes from the Observation and
the Addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Mapping, Optional, Set, Tuple

from napcompose.ipam.fencing import Vacated
from napcompose.ipam.stranding import STRANDED
from napcompose.model import Allocation, ObservedContainer, Replica
from napcompose.planner.actions import Create, Recreate, Release, Remove
from napcompose.observe import copies
from napcompose.observe.copies import kept_for_rollback
from napcompose.observe.observation import Addresses, Observation, stranded_owner


@dataclass(frozen=True)
class Move:
    """A replica leaving ``source`` (lost or evicted) for wherever placement puts it."""

    replica: Replica
    source: str
    allocation: Allocation  # the address it holds on ``source``
    generation: int  # the new copy's
    evicted: bool  # the host is evicted: the address moves along
    after: Tuple[str, ...] = ()  # the removal of its copy on the evicted host, when that host answered


@dataclass(frozen=True)
class HostLoss:
    containers: Tuple[ObservedContainer, ...] = ()  # what placement and converge see: no moved, stale or evicted copies
    moves: Mapping[Replica, Move] = field(default_factory=dict)
    cleanup: Tuple[Remove, ...] = ()  # superseded copies and evicted hosts' containers: removed first
    releases: Tuple[Release, ...] = ()  # stranded addresses whose copy is gone (or goes first)
    generations: Mapping[Replica, int] = field(default_factory=dict)  # each replica's current generation
    notes: Tuple[str, ...] = ()
    removal_keys: Mapping[Tuple[Replica, str], str] = field(default_factory=dict)  # (replica, host) -> cleanup key


def current_generations(containers, addresses: Addresses = Addresses()) -> Dict[Replica, int]:
    """Per replica, the generation of its current copy: the highest seen, and newer than any copy
    whose address was stranded (that copy's replica moved on, even if its new copy is not seen)."""
    return copies.current_generations(containers, _past_stranded(addresses))


def superseded(containers, addresses: Addresses = Addresses()) -> Set[Tuple[str, str]]:
    """(host, container id) of every real container older than its replica's current copy (copies
    kept for a rollback aside)."""
    return copies.superseded(containers, _past_stranded(addresses))


def _past_stranded(addresses: Addresses) -> Dict[Replica, int]:
    return {r: g + 1 for r, g in addresses.stranded_generations().items()}


def vacated(observation: Observation) -> Vacated:
    """The fencing proof of this observation; an evicted host's word is the operator's (whatever it
    still holds is removed before the replica's new container is created)."""
    seen = Vacated.from_scan(observation.observed_at, observation.hosts, observation.containers)
    return replace(seen, evicted=frozenset(observation.evicted))


def sort_out(project_name: str, observation: Observation, addresses: Addresses, selected: Set[str],
             fixed: Mapping[Replica, Optional[str]]) -> HostLoss:
    """What ``up`` makes of lost and evicted hosts. ``selected``: the services the run acts on (only
    their replicas move); ``fixed``: the replicas whose compose file names their address (they cannot
    take a new one, so they wait for their host or its eviction)."""
    down, evicted = observation.down, set(observation.evicted)
    gens = current_generations(observation.containers, addresses)
    kept: List[ObservedContainer] = []
    cleanup: List[Remove] = []
    removal_of: Dict[Tuple[Replica, str], str] = {}
    for c in observation.containers:
        r = c.replica
        if r is None or r.project != project_name or c.one_off:  # a run's container is no copy of a replica
            kept.append(c)
        elif c.state == STRANDED:
            continue  # shown by ps; its address is seen to below
        elif c.host in evicted:
            if c.id and c.host not in down:
                removal = Remove(r, c.host, f"host {c.host} is evicted", container=c, stop=False, force=True)
                cleanup.append(removal)
                removal_of[(r, c.host)] = removal.key
        elif c.id and copies.stale(c, gens) and c.host not in down:
            removal = Remove(r, c.host, f"superseded: copy {c.generation}, the current copy is {gens[r]}",
                             container=c, stop=False, force=True)
            cleanup.append(removal)
            removal_of[(r, c.host)] = removal.key
        else:
            kept.append(c)

    moves: Dict[Replica, Move] = {}
    notes: List[str] = []
    for r, a in addresses.allocations:
        if r.service not in selected or a.host is None or (a.host not in down and a.host not in evicted):
            continue
        if a.host in evicted:
            after = (removal_of[(r, a.host)],) if (r, a.host) in removal_of else ()
            moves[r] = Move(r, a.host, a, gens.get(r, 1) + 1, True, after)
        elif fixed.get(r):
            notes.append(f"host {a.host} unreachable: {r.label} keeps its fixed address {a.ip} there and is "
                         f"not moved (`nap-compose host evict {a.host}` lets it move with its address)")
        else:
            moves[r] = Move(r, a.host, a, gens.get(r, 1) + 1, False)
    kept = [c for c in kept if not (c.replica in moves and c.host == moves[c.replica].source)]

    releases: List[Release] = []
    # A copy kept by a start-first update holds its address for a rollback: it is not a left copy.
    held = {(c.replica, c.host, c.ip) for c in observation.containers if c.replica is not None and kept_for_rollback(c)}
    for r, g, a in addresses.stranded:
        left = stranded_owner(r, g)
        if (r, a.host, a.ip) in held and a.host not in evicted:
            continue
        if a.host in evicted:
            after = (removal_of[(r, a.host)],) if (r, a.host) in removal_of else ()
            releases.append(Release(r, a.host, a.ip, f"host {a.host} is evicted", after=after, owner=left,
                                    evicted=True))
        elif a.host is not None and a.host not in down:
            after = (removal_of[(r, a.host)],) if (r, a.host) in removal_of else ()
            why = "its copy there is removed first" if after else "its copy there is gone"
            releases.append(Release(r, a.host, a.ip, f"{a.host} answers again: {why}", after=after, owner=left))
    for host in sorted(evicted):
        notes.append(f"host {host} is evicted: its replicas move with their addresses, and its containers of "
                     "the project are removed if it answers")
    return HostLoss(tuple(kept), moves, tuple(cleanup), tuple(releases), gens, tuple(notes), removal_of)


def with_generations(waves, loss: HostLoss):
    """The container waves with each new container's generation, and each moved replica's creation
    waiting for the removal of its copy on an evicted host."""
    out = []
    for wave in waves:
        actions = []
        for a in wave:
            if isinstance(a, Create):
                move = loss.moves.get(a.replica)
                generation = move.generation if move else max(loss.generations.get(a.replica, 1), 1)
                a = replace(a, generation=generation, after=a.after + (move.after if move else ()))
            elif isinstance(a, Recreate) and a.container is not None:
                a = replace(a, generation=a.container.generation)
            actions.append(a)
        out.append(tuple(actions))
    return out
