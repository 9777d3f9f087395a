"""Gathering what the dashboard shows: the one module that asks the cluster anything.

Every question goes through the command's one orchestrator (``napcompose.observe`` for the containers
of every project and the stand-ins of hosts that did not answer, hosts-file blocks), the Ipam
(allocations) and the engines' event streams, and the answers become one frozen Snapshot. A
host or a store that fails to answer becomes part of the Snapshot, never an exception.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.dashboard.snapshot import (AllocationView, ContainerView, DriftView, HostView, PoolView,
                                           Snapshot)
from napcompose.errors import NapComposeError
from napcompose.parallel import fan_out
from napcompose.graphview import service_graph
from napcompose.model import Allocation, ContainerEvent, ObservedContainer, Project
from napcompose.orchestrator import Orchestrator
from napcompose.observe import Addresses, Observation, parse_owner, with_stand_ins

EVENT_WINDOW_S = 3600.0  # how far back the first look at each host's events goes
MAX_EVENTS = 200


class ClusterState:
    """Takes Snapshots of one cluster, and of one project's graph and hosts files when one is loaded.

    Call ``snapshot`` from one thread at a time: it remembers how far each host's events were read.
    """

    def __init__(self, orchestrator: Orchestrator, project: Optional[Project] = None, blocks=None, healing=None):
        """``orchestrator`` reports to a ListReporter: the warnings of a drift check go into the Snapshot."""
        self._orchestrator = orchestrator
        self.cluster = orchestrator.cluster
        self.blocks = blocks  # HostBlocks of the store, or None where the cluster keeps none
        self.healing = healing  # reconcile.records.ReconcileLog of the store, or None
        self.engines = orchestrator.engines
        self.ipam = orchestrator.ipam
        self.clock = orchestrator.clock
        self.project = project
        self._reporter = orchestrator.reporter
        self._events: Dict[Tuple, ContainerEvent] = {}
        self._read_until: Dict[str, float] = {}

    def snapshot(self) -> Snapshot:
        now = self.clock.now()
        self._reporter.warnings.clear()
        notes: List[str] = []
        # read_only: a store that fails while a host is down is a warning, never the snapshot's end
        seen = self._orchestrator.observe(None, everything=True, read_only=True)
        down = seen.down
        block_of = self._blocks(notes)
        pool, allocations = self._pool(block_of)
        everything = list(_with_stand_ins(seen, allocations).containers)

        counts: Dict[str, int] = {}
        for c in everything:
            counts[c.host] = counts.get(c.host, 0) + 1
        hosts = tuple(HostView(h.name, h.address, h.labels, block_of.get(h.name), h.name not in down,
                               down.get(h.name), counts.get(h.name, 0)) for h in self.cluster.hosts)
        graph, graph_error, drift = None, None, DriftView(None)
        if self.project is not None:
            try:
                graph = service_graph(self.project, everything, hosts=[h.name for h in self.cluster.hosts])
            except NapComposeError as exc:
                graph_error = str(exc)
            drift = self._drift(seen)
        notes.extend(self._read_events(now, down))
        healing = self._healing(notes)
        events = tuple(sorted(self._events.values(), key=lambda e: (e.time, e.host, e.container_id)))
        return Snapshot(taken_at=now, hosts=hosts, containers=tuple(_view(c, down) for c in everything),
                        pool=pool, drift=drift, events=events,
                        project=self.project.name if self.project else None, graph=graph,
                        graph_error=graph_error, notes=tuple(notes), healing=healing)

    # ------------------------------------------------------------------ parts

    def _healing(self, notes: List[str]) -> Tuple:
        """What the reconciler did, from its log in the store (the last ``MAX_EVENTS``)."""
        if self.healing is None:
            return ()
        try:
            return tuple(self.healing.read_all()[-MAX_EVENTS:])
        except NapComposeError as exc:
            notes.append(f"reconciler log: {exc}")
            return ()

    def _blocks(self, notes: List[str]) -> Dict[str, str]:
        """Each host's block (its network's ip-range) as the store records it."""
        if self.blocks is None:
            return {}
        try:
            return {host: block.cidr for host, block in self.blocks.by_host().items()}
        except NapComposeError as exc:
            notes.append(f"host blocks: {exc}")
            return {}

    def _pool(self, block_of: Dict[str, str]) -> Tuple[PoolView, List[Allocation]]:
        blocks = tuple((h.name, block_of[h.name]) for h in self.cluster.hosts if h.name in block_of)
        pool = self.ipam.pool
        try:
            allocations = list(self.ipam.allocations())
        except NapComposeError as exc:
            return PoolView(pool.describe(), pool.size, (), blocks, str(exc)), []
        views = tuple(AllocationView(a.ip, a.owner, a.host or "", a.state, a.since) for a in allocations)
        return PoolView(pool.describe(), pool.size, views, blocks), allocations

    def _drift(self, seen: Observation) -> DriftView:
        """``hosts check`` of the loaded project, from the snapshot's one observation."""
        try:
            drifts = self._orchestrator.hosts_check(self.project, seen)
        except NapComposeError as exc:
            return DriftView(self.project.name, error=str(exc))
        rows = tuple((d.replica.name, d.host, "managed block missing" if d.actual is None else
                      "managed block differs") for d in drifts)
        return DriftView(self.project.name, tuple(sorted(rows)), tuple(self._reporter.warnings))

    def _read_events(self, now: float, down) -> List[str]:
        """New events of every reachable host since its last read, asked in parallel."""
        names = [h.name for h in self.cluster.hosts if h.name not in down]
        if not names:
            return []

        def ask(name):
            since = self._read_until.get(name, now - EVENT_WINDOW_S)
            return self.engines[name].events(since, now)

        notes = []
        for result in fan_out(names, ask, key=lambda name: name, max_workers=len(names)):
            if not result.ok:
                notes.append(f"events of {result.key}: {result.error}")
                continue
            self._read_until[result.key] = now
            for event in result.value:
                # a span's end is the next span's start: an event stamped there comes twice
                self._events[(event.host, event.container_id, event.action, event.time)] = event
        if len(self._events) > MAX_EVENTS:
            for key in sorted(self._events, key=lambda k: k[3])[:len(self._events) - MAX_EVENTS]:
                del self._events[key]
        return notes


def _with_stand_ins(seen: Observation, allocations: Sequence[Allocation]) -> Observation:
    """``seen`` plus what each unreachable host should hold of every project, known from the addresses
    reserved for it."""
    projects = sorted({r.project for r in map(parse_owner, (a.owner for a in allocations)) if r is not None})
    for name in projects:
        seen = with_stand_ins(seen, Addresses.of_project(allocations, name))
    return seen


def _view(c: ObservedContainer, down) -> ContainerView:
    replica = c.replica
    status = c.status or (down.get(c.host, "") if c.state == "unknown" else "")
    return ContainerView(name=c.name, project=replica.project if replica else "",
                         service=replica.service if replica else "", index=replica.index if replica else 0,
                         host=c.host, ip=c.ip or "", state=c.state, health=c.health or "", ports=c.ports,
                         status=status)
