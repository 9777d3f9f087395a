"""Which host runs each replica: a pure, deterministic function of the project, the hosts and what runs.

Existing replicas stay where they run; a new replica of a service with named volumes goes back to a
host that holds them and runs no replica of that service yet (a volume lives on one host: its data
never moves); the others go through filters (constraints, fixed hosts, max per host, affinity,
anti-affinity, published host ports) and then a strategy (spread, binpack, random) picks one of
the hosts left. Randomness is a hash of the project's seed and the replica's name, never global state.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import re
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from napcompose.errors import ConfigError, PlacementError, UsageError
from napcompose.model import ObservedContainer, Placement, Project, Replica, ServiceSpec
from napcompose.clustermodel import Host
from napcompose.placement.constraints import fixed_host_ports, preference_labels, service_constraints

STRATEGIES = ("spread", "binpack", "random")

_RENDERED_PORT = re.compile(r"(?:^|:)(\d+)->\d+/(\w+)$")


def _taken_ports(container: ObservedContainer) -> Set[Tuple[int, str]]:
    taken = set()
    for rendered in container.ports:
        match = _RENDERED_PORT.search(rendered)
        if match:
            taken.add((int(match.group(1)), match.group(2)))
    return taken


class _State:
    """What each host runs while placement proceeds: counts, services and published ports.

    The strategies' orderings of the hosts are kept in heaps (built on first use, then updated on
    every ``add``) so that a service without filters gets its next host in O(log hosts). Entries are
    never removed from a heap: an entry whose key no longer matches the host's counts is stale and
    skipped when it comes to the top.
    """

    def __init__(self, project: str):
        self.project = project
        self.total: Dict[str, int] = {}
        self.in_project: Dict[str, int] = {}
        self.services: Dict[str, Dict[str, int]] = {}
        self.ports: Dict[str, Set[Tuple[int, str]]] = {}
        self._heaps: Dict[str, list] = {}  # strategy -> heap of (key, host) over the offered hosts
        self._offered: Dict[str, Host] = {}

    def add(self, host: str, service: Optional[str], ports, in_project: bool) -> None:
        self.total[host] = self.total.get(host, 0) + 1
        if in_project:
            self.in_project[host] = self.in_project.get(host, 0) + 1
            per_service = self.services.setdefault(host, {})
            per_service[service] = per_service.get(service, 0) + 1
        self.ports.setdefault(host, set()).update(ports)
        if host in self._offered:
            for strategy, heap in self._heaps.items():
                heapq.heappush(heap, (self.key(strategy, host), host))

    def count(self, host: str, service: str) -> int:
        return self.services.get(host, {}).get(service, 0)

    def key(self, strategy: str, host: str):
        """The ordering of ``strategy``: the smallest key wins, the host's name breaks ties."""
        if strategy == "binpack":
            return (-self.total.get(host, 0), -self.in_project.get(host, 0), host)
        return (self.in_project.get(host, 0), self.total.get(host, 0), host)

    def offer(self, hosts: Sequence[Host]) -> None:
        self._offered = {h.name: h for h in hosts}

    def best(self, strategy: str) -> Host:
        """The first host of ``strategy`` among every offered host (spread or binpack)."""
        heap = self._heaps.get(strategy)
        if heap is None:
            heap = [(self.key(strategy, name), name) for name in self._offered]
            heapq.heapify(heap)
            self._heaps[strategy] = heap
        while heap[0][0] != self.key(strategy, heap[0][1]):
            heapq.heappop(heap)  # stale: the host's counts changed since this entry was pushed
        return self._offered[heap[0][1]]


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


def _holders(spec: ServiceSpec, volumes: Sequence[Tuple[str, str]]) -> List[str]:
    """The hosts holding any of the service's named volumes, sorted."""
    wanted = set(spec.named_volumes)
    return sorted({host for host, name in volumes if name in wanted}) if wanted else []


def _avoided_by(project: Project) -> Dict[str, Set[str]]:
    """For each service, the services whose anti-affinity names it (the rule holds both ways)."""
    avoided: Dict[str, Set[str]] = {}
    for spec in project.services:
        for other in spec.placement.anti_affinity:
            avoided.setdefault(other, set()).add(spec.name)
    return avoided


def place(project: Project, hosts: Sequence[Host], observed: Sequence[ObservedContainer],
          scales: Optional[Mapping[str, int]] = None, volumes: Sequence[Tuple[str, str]] = ()) -> Placement:
    """Assign every replica ``1..N`` of every service to a host.

    ``hosts`` are the hosts new replicas may go to (the reachable ones); ``observed`` is everything
    running on any host, this project's containers and others'; ``volumes`` the (host, name) of the
    project's named volumes on the hosts that answered. Replicas found in ``observed`` keep their host;
    new ones go back to their data (``_back_to_their_data``). Raises PlacementError naming the replica
    and what excluded each host, ConfigError for an unknown strategy, constraint or fixed host,
    UsageError for a bad ``scales`` entry.
    """
    wanted = _wanted_scales(project, scales)
    host_by_name = {h.name: h for h in hosts}
    existing: Dict[Replica, str] = {}
    state = _State(project.name)
    ports_of = {spec.name: fixed_host_ports(spec) for spec in project.services}
    for container in sorted(observed, key=lambda c: (c.host, c.name, c.id)):
        replica = container.replica
        mine = replica is not None and replica.project == project.name and not container.one_off
        if mine and replica.service in wanted and replica.index <= wanted[replica.service]:
            if replica in existing:
                continue  # a duplicate: the planner removes it; the first one found keeps the slot
            existing[replica] = container.host
            # counted with the ports it will publish once converged, before anything new is placed
            state.add(container.host, replica.service, ports_of[replica.service], True)
            continue
        if mine and replica.service in wanted:
            continue  # beyond the scale: removed before anything is created, so it frees its host
        state.add(container.host, replica.service if mine else None, _taken_ports(container), mine)

    state.offer(hosts)
    avoided = _avoided_by(project)
    assignments: Dict[Replica, str] = {}
    for spec in _service_order(project):
        _check_service(project, spec, host_by_name)
        new = []
        for index in range(1, wanted[spec.name] + 1):
            replica = Replica(project.name, spec.name, index)
            if replica in existing:
                assignments[replica] = existing[replica]
            else:
                new.append(replica)
        if new:
            rules = _Rules(project, spec, state, avoided.get(spec.name, set()))
            new = _back_to_their_data(rules, new, host_by_name, _holders(spec, volumes), assignments)
        if new:
            for replica, host in _place_service(rules, new, hosts, state, ports_of[spec.name]):
                assignments[replica] = host
    # sorted by the replicas fields as a plain tuple: the same order, compared in C
    return Placement(tuple(sorted(assignments.items(), key=_replica_key)))


def _back_to_their_data(rules: "_Rules", new: List[Replica], host_by_name: Mapping[str, Host],
                        holders: List[str], assignments: Dict[Replica, str]) -> List[Replica]:
    """Give each host holding the service's named volumes, and running none of its replicas, the
    next new replica (in index order); return the replicas left for the strategy.

    Docker keeps a named volume on the host that made it, so the data of a replica removed (``down``,
    ``rm``) is there and nowhere else: its successor goes back, or is not placed at all. A holder that
    did not answer, or that a filter now excludes, is an error naming the replica, host and volume.
    """
    spec, state, left = rules.spec, rules.state, list(new)
    names = ", ".join(spec.named_volumes)
    for host_name in [h for h in holders if state.count(h, spec.name) == 0][:len(left)]:
        replica = left.pop(0)
        label = f"{spec.name}_{replica.index}"
        host = host_by_name.get(host_name)
        if host is None:
            raise PlacementError(f"cannot place {label}: its named volume(s) {names} are on {host_name}, which "
                                 "is not reachable; a volume's data never moves to another host")
        for description, predicate in rules.filters(replica):
            if not predicate(host):
                raise PlacementError(f"cannot place {label}: its named volume(s) {names} are on {host_name}, but "
                                     + description.format(hosts=host_name))
        state.add(host_name, spec.name, rules.ports, True)
        assignments[replica] = host_name
    return left


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


class _Rules:
    """One service's filters, parsed once: what every replica of it checks against each host."""

    def __init__(self, project: Project, spec: ServiceSpec, state: _State, avoided_by: Set[str]):
        self.project = project
        self.spec = spec
        self.state = state
        self.strategy = spec.placement.strategy or project.strategy
        self.constraints = service_constraints(spec)
        self.avoid = tuple(sorted(set(spec.placement.anti_affinity) | avoided_by))
        self.ports = fixed_host_ports(spec)
        # Rules that depend on the replica's index (pinned hosts), that a placement of this very
        # service can satisfy (affinity with itself) or that weigh every host for every replica
        # (label preferences) go through the general path, one replica at a time.
        self.general = bool(spec.placement.hosts or spec.placement.preferences
                            or spec.name in spec.placement.affinity)

    def filters(self, replica: Replica):
        """(message template, predicate) pairs; a host must pass every predicate.

        ``{hosts}`` in a template becomes the hosts the rule excluded.
        """
        spec, state = self.spec, self.state
        rules = []
        pinned = spec.placement.hosts
        if pinned:
            if replica.index <= len(pinned):
                want = pinned[replica.index - 1]
                rules.append((f"x-nap hosts pins it to {want}, excluding {{hosts}}",
                              lambda h, w=want: h.name == w))
            else:
                rules.append(("x-nap hosts allows only " + ", ".join(pinned) + ", excluding {hosts}",
                              lambda h: h.name in pinned))
        for constraint in self.constraints:
            rules.append((f"constraint {constraint.source} excludes {{hosts}}", constraint.matches))
        if spec.placement.max_per_host is not None:
            limit = spec.placement.max_per_host
            rules.append((f"max_per_host {limit} is reached on {{hosts}}",
                          lambda h: state.count(h.name, spec.name) < limit))
        for other in spec.placement.affinity:
            rules.append((f"affinity with {other}: no {other} replica on {{hosts}}",
                          lambda h, o=other: state.count(h.name, o) > 0))
        for other in self.avoid:
            rules.append((f"anti-affinity with {other}: {other} runs on {{hosts}}",
                          lambda h, o=other: state.count(h.name, o) == 0))
        for port, proto in self.ports:
            rules.append((f"port {port}/{proto} is taken on {{hosts}}",
                          lambda h, p=(port, proto): p not in state.ports.get(h.name, ())))
        return rules

    def allows(self, host: Host, predicates) -> bool:
        return all(predicate(host) for predicate in predicates)


def _place_service(rules: _Rules, new: Sequence[Replica], hosts: Sequence[Host], state: _State,
                   ports) -> List[Tuple[Replica, str]]:
    """Hosts for the new replicas of one service, in index order; each placement counts at once.

    While one service is placed only its own replicas change the counts, so a host's verdict under
    the filters can only change for the host that just received a replica: the candidates are
    filtered once, and after each pick only the chosen host is checked again.
    """
    spec, strategy = rules.spec, rules.strategy
    placed: List[Tuple[Replica, str]] = []

    def commit(replica: Replica, host: Host) -> None:
        state.add(host.name, spec.name, ports, True)
        placed.append((replica, host.name))

    if rules.general:
        for replica in new:
            commit(replica, _choose(rules, replica, hosts, state))
        return placed
    predicates = [predicate for _, predicate in rules.filters(new[0])]
    if not predicates and strategy != "random" and hosts:
        for replica in new:  # every host qualifies: the strategy's heap gives the next one
            commit(replica, state.best(strategy))
        return placed

    candidates = [h for h in hosts if rules.allows(h, predicates)]
    if strategy == "random":
        ordered = sorted(candidates, key=lambda h: h.name)
        names = [h.name for h in ordered]
        for replica in new:
            if not ordered:  # _choose raises, naming what excluded each host
                commit(replica, _choose(rules, replica, hosts, state))
                continue
            host = ordered[_random_index(rules.project.seed, replica, len(ordered))]
            commit(replica, host)
            if not rules.allows(host, predicates):
                at = bisect.bisect_left(names, host.name)
                del names[at], ordered[at]
        return placed

    heap = [(state.key(strategy, h.name), h.name) for h in candidates]
    heapq.heapify(heap)
    by_name = {h.name: h for h in candidates}
    for replica in new:
        if not heap:  # _choose raises, naming what excluded each host
            commit(replica, _choose(rules, replica, hosts, state))
            continue
        host = by_name[heapq.heappop(heap)[1]]
        commit(replica, host)
        if rules.allows(host, predicates):
            heapq.heappush(heap, (state.key(strategy, host.name), host.name))
    return placed


def _random_index(seed: int, replica: Replica, count: int) -> int:
    digest = hashlib.sha256(f"{seed}:{replica.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def _choose(rules: _Rules, replica: Replica, hosts: Sequence[Host], state: _State) -> Host:
    """One replica's host, every filter checked against every host: the general path, and the
    one that explains a failure."""
    spec = rules.spec
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
    for description, predicate in rules.filters(replica):
        left_out = [h.name for h in candidates if not predicate(h)]
        candidates = [h for h in candidates if predicate(h)]
        if left_out:
            reasons.append(description.format(hosts=", ".join(sorted(left_out))))
    if not candidates:
        raise PlacementError(f"cannot place {label}: " + "; ".join(reasons))
    candidates = _preferred(spec, candidates, hosts, state)
    return _pick(rules.strategy, candidates, state, rules.project.seed, replica)


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
    if strategy == "random":
        ordered = sorted(candidates, key=lambda h: h.name)
        return ordered[_random_index(seed, replica, len(ordered))]
    return min(candidates, key=lambda h: state.key(strategy, h.name))


def _replica_key(pair):
    replica = pair[0]
    return (replica.project, replica.service, replica.index)
