"""A straightforward placement kept as the reference for napcompose.placement.place.

Every filter is checked against every host for every replica, and the strategy takes a ``min`` over
all the candidates. It is slow on large clusters and obviously right; the fast placement must give
exactly its answers (tests/unit/test_placement_reference.py compares them over random clusters).
Parsing of constraints, preferences and ports is shared with the product: it is not what is compared.
"""

from __future__ import annotations

import hashlib
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from napcompose.errors import ConfigError, PlacementError, UsageError
from napcompose.model import ObservedContainer, Placement, Project, Replica, ServiceSpec
from napcompose.clustermodel import Host
from napcompose.placement.place import (STRATEGIES, _taken_ports, fixed_host_ports, preference_labels,
                                  service_constraints)


class _State:
    """What each host runs while placement proceeds: counts, services and published ports."""

    def __init__(self, project: str):
        self.project = project
        self.total: Dict[str, int] = {}
        self.in_project: Dict[str, int] = {}
        self.services: Dict[str, Dict[str, int]] = {}
        self.ports: Dict[str, Set[Tuple[int, str]]] = {}

    def add(self, host: str, service: Optional[str], ports, in_project: bool) -> None:
        self.total[host] = self.total.get(host, 0) + 1
        if in_project:
            self.in_project[host] = self.in_project.get(host, 0) + 1
            per_service = self.services.setdefault(host, {})
            per_service[service] = per_service.get(service, 0) + 1
        self.ports.setdefault(host, set()).update(ports)

    def count(self, host: str, service: str) -> int:
        return self.services.get(host, {}).get(service, 0)


def _service_order(project: Project) -> List[ServiceSpec]:
    """Services pinned by x-nap hosts first, then in name order, each after those it has affinity with.

    Pinned services go first so that the services that must avoid them (anti-affinity) see them.
    """
    done: List[ServiceSpec] = []
    seen: Set[str] = set()

    def visit(spec: ServiceSpec, path: Tuple[str, ...]) -> None:
        if spec.name in seen or spec.name in path:
            return
        for other in sorted(spec.placement.affinity):
            if other in project.service_names:
                visit(project.service(other), path + (spec.name,))
        seen.add(spec.name)
        done.append(spec)

    for spec in sorted(project.services, key=lambda s: (not s.placement.hosts, s.name)):
        visit(spec, ())
    return done


def _wanted_scales(project: Project, scales: Optional[Mapping[str, int]]) -> Dict[str, int]:
    scales = dict(scales or {})
    for name, value in scales.items():
        if name not in project.service_names:
            raise UsageError(f"no such service: {name}")
        if not isinstance(value, int) or value < 0:
            raise UsageError(f"invalid scale for {name}: {value!r} (a number >= 0)")
    return {spec.name: scales.get(spec.name, spec.scale) for spec in project.services}


def place(project: Project, hosts: Sequence[Host], observed: Sequence[ObservedContainer],
          scales: Optional[Mapping[str, int]] = None) -> Placement:
    """Assign every replica ``1..N`` of every service to a host.

    ``hosts`` are the hosts new replicas may go to (the reachable ones); ``observed`` is everything
    running on any host, this project's containers and others'. Replicas found in ``observed`` keep
    their host. Raises PlacementError naming the replica and what excluded each host, ConfigError
    for an unknown strategy, constraint or fixed host, UsageError for a bad ``scales`` entry.
    """
    wanted = _wanted_scales(project, scales)
    host_by_name = {h.name: h for h in hosts}
    existing: Dict[Replica, str] = {}
    state = _State(project.name)
    for container in sorted(observed, key=lambda c: (c.host, c.name, c.id)):
        replica = container.replica
        mine = replica is not None and replica.project == project.name and not container.one_off
        if mine and replica.service in wanted and replica.index <= wanted[replica.service]:
            if replica in existing:
                continue  # a duplicate: the planner removes it; the first one found keeps the slot
            existing[replica] = container.host
            # counted with the ports it will publish once converged, before anything new is placed
            spec = project.service(replica.service)
            state.add(container.host, spec.name, fixed_host_ports(spec), True)
            continue
        if mine and replica.service in wanted:
            continue  # beyond the scale: removed before anything is created, so it frees its host
        state.add(container.host, replica.service if mine else None, _taken_ports(container), mine)

    assignments: Dict[Replica, str] = {}
    for spec in _service_order(project):
        _check_service(project, spec, host_by_name)
        for index in range(1, wanted[spec.name] + 1):
            replica = Replica(project.name, spec.name, index)
            if replica in existing:
                assignments[replica] = existing[replica]
                continue
            host = _choose(project, spec, replica, hosts, state)
            assignments[replica] = host
            state.add(host, spec.name, fixed_host_ports(spec), True)
    return Placement(tuple(sorted(assignments.items())))


def _check_service(project: Project, spec: ServiceSpec, host_by_name: Mapping[str, Host]) -> None:
    strategy = spec.placement.strategy or project.strategy
    if strategy not in STRATEGIES:
        raise ConfigError(f"service {spec.name}: unknown placement strategy {strategy!r} "
                          f"(one of {', '.join(STRATEGIES)})")
    service_constraints(spec)  # raises on a malformed rule even when nothing new is placed
    preference_labels(spec)
    for name in spec.placement.affinity + spec.placement.anti_affinity:
        if name not in project.service_names:
            raise ConfigError(f"service {spec.name}: x-nap affinity names unknown service {name!r}")


def _filters(project: Project, spec: ServiceSpec, replica: Replica, state: _State):
    """(message template, predicate) pairs; a host must pass every predicate.

    ``{hosts}`` in a template becomes the hosts the rule excluded.
    """
    rules = []
    pinned = spec.placement.hosts
    if pinned:
        if replica.index <= len(pinned):
            want = pinned[replica.index - 1]
            rules.append((f"x-nap hosts pins it to {want}, excluding {{hosts}}", lambda h, w=want: h.name == w))
        else:
            rules.append(("x-nap hosts allows only " + ", ".join(pinned) + ", excluding {hosts}",
                          lambda h: h.name in pinned))
    for constraint in service_constraints(spec):
        rules.append((f"constraint {constraint.source} excludes {{hosts}}", constraint.matches))
    if spec.placement.max_per_host is not None:
        limit = spec.placement.max_per_host
        rules.append((f"max_per_host {limit} is reached on {{hosts}}",
                      lambda h: state.count(h.name, spec.name) < limit))
    for other in spec.placement.affinity:
        rules.append((f"affinity with {other}: no {other} replica on {{hosts}}",
                      lambda h, o=other: state.count(h.name, o) > 0))
    avoid = set(spec.placement.anti_affinity) | {
        s.name for s in project.services if spec.name in s.placement.anti_affinity}
    for other in sorted(avoid):
        rules.append((f"anti-affinity with {other}: {other} runs on {{hosts}}",
                      lambda h, o=other: state.count(h.name, o) == 0))
    for port, proto in fixed_host_ports(spec):
        rules.append((f"port {port}/{proto} is taken on {{hosts}}",
                      lambda h, p=(port, proto): p not in state.ports.get(h.name, set())))
    return rules


def _choose(project: Project, spec: ServiceSpec, replica: Replica, hosts: Sequence[Host],
            state: _State) -> str:
    label = f"{spec.name}_{replica.index}"
    pinned = spec.placement.hosts
    known = {h.name for h in hosts}
    if pinned and replica.index <= len(pinned) and pinned[replica.index - 1] not in known:
        raise PlacementError(f"cannot place {label}: x-nap hosts names {pinned[replica.index - 1]}, "
                             "which is not a reachable host of the cluster")
    if not hosts:
        raise PlacementError(f"cannot place {label}: no reachable host")
    candidates = list(hosts)
    reasons = []
    for description, predicate in _filters(project, spec, replica, state):
        left_out = [h.name for h in candidates if not predicate(h)]
        candidates = [h for h in candidates if predicate(h)]
        if left_out:
            reasons.append(description.format(hosts=", ".join(sorted(left_out))))
    if not candidates:
        raise PlacementError(f"cannot place {label}: " + "; ".join(reasons))
    candidates = _preferred(spec, candidates, hosts, state)
    strategy = spec.placement.strategy or project.strategy
    return _pick(strategy, candidates, state, project.seed, replica).name


def _preferred(spec: ServiceSpec, candidates: List[Host], hosts: Sequence[Host], state: _State) -> List[Host]:
    """``preferences: [spread: node.labels.K]``: keep the hosts whose value of K has the fewest replicas.

    Hosts without the label form one group of their own, as in swarm mode. A soft rule: it only
    narrows the candidates, it never excludes them all.
    """
    for label in preference_labels(spec):
        value_of = {h.name: dict(h.labels).get(label) for h in list(hosts) + candidates}
        per_value: Dict[Optional[str], int] = {}
        for host, value in value_of.items():
            per_value[value] = per_value.get(value, 0) + state.count(host, spec.name)
        fewest = min(per_value[value_of[h.name]] for h in candidates)
        candidates = [h for h in candidates if per_value[value_of[h.name]] == fewest]
    return candidates


def _pick(strategy: str, candidates: List[Host], state: _State, seed: int, replica: Replica) -> Host:
    if strategy == "binpack":
        return min(candidates, key=lambda h: (-state.total.get(h.name, 0),
                                              -state.in_project.get(h.name, 0), h.name))
    if strategy == "random":
        ordered = sorted(candidates, key=lambda h: h.name)
        digest = hashlib.sha256(f"{seed}:{replica.name}".encode()).digest()
        return ordered[int.from_bytes(digest[:8], "big") % len(ordered)]
    return min(candidates, key=lambda h: (state.in_project.get(h.name, 0),
                                          state.total.get(h.name, 0), h.name))
