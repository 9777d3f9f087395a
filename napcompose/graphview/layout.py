"""The graph to draw: services in column order, their edges, and each replica on its host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Tuple

import networkx as nx

from napcompose.errors import ConfigError
from napcompose.graph import build_graph, check_acyclic
from napcompose.model import ObservedContainer, Project, Replica


@dataclass(frozen=True)
class ReplicaNode:
    """One container of a drawn service: where it runs, at which address, in which state."""

    replica: Replica
    host: str
    ip: str
    state: str

    @property
    def label(self) -> str:
        return f"{self.replica.service}_{self.replica.index}"


@dataclass(frozen=True)
class Edge:
    consumer: str
    dependency: str
    kinds: Tuple[str, ...]  # link, depends_on, volumes_from, network_mode, ipc, pid


@dataclass(frozen=True)
class ServiceGraph:
    """What every renderer draws; ``services`` is in column order: consumers first, then what they need."""

    project: str
    services: Tuple[str, ...]
    waves: Tuple[Tuple[str, ...], ...]  # start order: each wave needs only earlier ones
    edges: Tuple[Edge, ...]
    replicas: Tuple[ReplicaNode, ...] = ()
    hosts: Tuple[str, ...] = ()  # one lane per host, in the cluster file's order

    def edges_from(self, service: str) -> Tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.consumer == service)

    def replicas_of(self, service: str) -> Tuple[ReplicaNode, ...]:
        return tuple(r for r in self.replicas if r.replica.service == service)


def _selected(graph: nx.DiGraph, services: Sequence[str], project: str) -> set:
    """The named services and everything they need, directly or not; every service when none is named."""
    if not services:
        return set(graph.nodes)
    unknown = sorted(set(services) - set(graph.nodes))
    if unknown:
        known = ", ".join(sorted(graph.nodes)) or "none"
        raise ConfigError(f"no such service: {', '.join(unknown)} (services in {project}: {known})")
    chosen = set(services)
    for name in services:
        chosen |= nx.descendants(graph, name)
    return chosen


def service_graph(project: Project, containers: Iterable[ObservedContainer] = (),
                  services: Sequence[str] = (), hosts: Sequence[str] = ()) -> ServiceGraph:
    """The drawable graph of ``project`` (or of ``services`` and what they need), with the replicas of
    ``containers`` that belong to it. Raises DependencyCycleError naming a loop, ConfigError for an
    unknown service."""
    full = build_graph(project)
    check_acyclic(full)
    chosen = _selected(full, services, project.name)
    graph = full.subgraph(chosen)
    waves = tuple(tuple(sorted(w)) for w in nx.topological_generations(graph.reverse(copy=False)))
    columns = tuple(name for wave in reversed(waves) for name in wave)
    edges = tuple(Edge(a, b, tuple(graph.edges[a, b]["kinds"]))
                  for a in columns for b in sorted(graph.successors(a), key=columns.index))
    replicas = []
    for c in containers:
        if c.replica is None or c.one_off or c.replica.project != project.name or c.replica.service not in chosen:
            continue
        replicas.append(ReplicaNode(c.replica, c.host, c.ip or "", c.state))
    replicas.sort(key=lambda r: (columns.index(r.replica.service), r.replica.index, r.host))
    lanes = list(hosts)
    lanes += sorted({r.host for r in replicas} - set(lanes))
    return ServiceGraph(project.name, columns, waves, edges, tuple(replicas), tuple(lanes))

