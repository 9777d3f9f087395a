"""Keeping every host's bridge filter true to the records: the ApplyIsolation handler, and the
check and repair ``network check`` / ``network create`` run.

The members come from the address records (who holds which address on which host) and the groups
from the containers' labels, or from the project being deployed; each host's table also needs the
ports of its running containers, which only the host can tell. So one pass reads the records once,
lists every answering host's containers once, then, per host in parallel, finds the ports, renders
the table and loads it (one ``nft -f`` per host), and announces the addresses of the containers the
run started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from napcompose.clustermodel import Cluster
from napcompose.errors import ConfigError, HostError
from napcompose.execute.state import RunState
from napcompose.isolation.diff import bound_ports, differences, parse_loaded
from napcompose.isolation.groups import Member, members
from napcompose.isolation.ruleset import REMOVE, GroupIndex, HostRules, group_index, host_rules, render
from napcompose.model import ObservedContainer, Outcome, Project
from napcompose.parallel import fan_out
from napcompose.planner import ApplyIsolation
from napcompose.ports import AddressBook, BridgeFilter, ContainerEngine

SUBJECT = "bridge filter"


@dataclass(frozen=True)
class ClusterView:
    """What every host's table is made of that is not the host's own: the members, and what each
    answering host runs (None for a host that did not answer)."""

    members: Tuple[Member, ...]
    containers: Mapping[str, Optional[Tuple[ObservedContainer, ...]]]
    errors: Mapping[str, str]


def cluster_view(engines: Mapping[str, ContainerEngine], book: AddressBook, hosts: Sequence[str],
                 project: Optional[Project] = None, max_workers: int = 16) -> ClusterView:
    """The records read once and every host's containers listed once, in parallel."""
    allocations = book.allocations()
    listed = fan_out(list(hosts), lambda h: tuple(engines[h].list_containers(None)), max_workers=max_workers)
    containers = {r.key: r.value if r.ok else None for r in listed}
    errors = {r.key: r.error for r in listed if not r.ok}
    everything = [c for found in containers.values() if found for c in found]
    return ClusterView(members(allocations, everything, project), containers, errors)


def rules_of(cluster: Cluster, bridge: BridgeFilter, view: ClusterView, host: str,
             keep_bound: bool = False, index: Optional[GroupIndex] = None) -> HostRules:
    """The table ``host`` should hold now: the members, and the ports of its running containers.

    ``keep_bound``: the ports the loaded table binds, for addresses still on the host, stand for the
    ports of the running containers (no container has started since the last load, so none is
    missing; one that restarted meanwhile uses a port not listed, allowed its host's addresses)."""
    index = index if index is not None else group_index(cluster.network.pools, view.members)
    local = set(index.local.get(host, ()))
    if keep_bound:
        try:
            text = bridge.loaded(host)
            loaded = parse_loaded(text) if text is not None else None
        except ValueError:
            loaded = None
        if loaded is not None:
            ports = [p for p in bound_ports(loaded) if p.ip in local]
            return host_rules(host, cluster.network.pools, view.members, ports, index)
    running = [c.id for c in view.containers.get(host) or () if c.state == "running" and c.ip in local]
    return host_rules(host, cluster.network.pools, view.members, bridge.ports(host, running), index)


NOT_WIRED = "isolation is on but this command was given no way to load the hosts' bridge filters"


def apply_isolation(state: RunState, action: ApplyIsolation) -> Optional[List[Outcome]]:
    """Load the bridge filter of every host of ``action``; announce the addresses it names."""
    if state.core.bridge_filter is None:  # planned (isolation is on) but nothing was wired to reach the hosts
        raise ConfigError(NOT_WIRED)
    with state.filters:
        return _load(state, [h for h in action.hosts if h not in state.down], action.phase == "before",
                     action.verb, set(action.announce))


def join_groups(state: RunState, address: str) -> None:
    """Reload every answering host's filter now that ``address`` was reserved in the middle of the
    run (a start-first update's new copy): it is in its groups, and local to its host, before its
    container starts. HostError when a host's filter could not be loaded (the new copy would be cut
    off there): the caller keeps the old copy."""
    core = state.core
    if not core.cluster.network.isolation:
        return
    if core.bridge_filter is None:
        raise ConfigError(NOT_WIRED)
    with state.filters:
        outcomes = _load(state, sorted(h for h in core.engines if h not in state.down), True, "Loading", set())
    failed = [o for o in outcomes if o.error]
    if failed:
        raise HostError(failed[0].host or "?", f"{address} could not join its groups: {failed[0].error}")


def _load(state: RunState, hosts: List[str], before: bool, verb: str, announce: set) -> List[Outcome]:
    core = state.core
    bridge = core.bridge_filter
    view = cluster_view(core.engines, core.book, hosts, state.project, core.max_workers)
    index = group_index(core.cluster.network.pools, view.members)  # once for every host

    def one(host: str) -> None:
        if host in view.errors:
            raise HostError(host, view.errors[host])
        # before the containers, the ports bound last time still hold: one listing instead of a
        # discovery that asks the engine about every running container
        rules = rules_of(core.cluster, bridge, view, host, keep_bound=before, index=index)
        core.step(SUBJECT, verb, host, None, lambda: bridge.load(host, render(rules)))
        started = [(c.id, c.ip) for c in view.containers.get(host) or ()
                   if c.replica in announce and c.state == "running" and c.ip]
        if started:
            core.step(SUBJECT, "Announcing", host, None, lambda: bridge.announce(host, started))

    results = fan_out(hosts, one, max_workers=core.max_workers)
    return [Outcome(SUBJECT, verb, r.key, r.error) for r in results]


# ---------------------------------------------------------------------- network check / create


@dataclass(frozen=True)
class FilterDrift:
    """A host whose bridge filter is not the one the records call for (``lines`` say how)."""

    host: str
    lines: Tuple[str, ...]


def check_filters(cluster: Cluster, engines: Mapping[str, ContainerEngine], book: AddressBook,
                  bridge: BridgeFilter, hosts: Sequence[str], max_workers: int = 16) -> List[FilterDrift]:
    """Every host whose loaded table differs from the records (or that has one while isolation is off)."""
    if not cluster.network.isolation:
        found = fan_out(list(hosts), bridge.loaded, max_workers=max_workers)
        return [FilterDrift(r.key, ("isolation is off but a nap-compose table is loaded",)) for r in found
                if r.ok and r.value is not None] + [FilterDrift(r.key, (r.error,)) for r in found if not r.ok]
    view = cluster_view(engines, book, hosts, max_workers=max_workers)
    index = group_index(cluster.network.pools, view.members)

    def one(host: str) -> Tuple[str, ...]:
        if host in view.errors:
            return (view.errors[host],)
        rules = rules_of(cluster, bridge, view, host, index=index)
        text = bridge.loaded(host)
        try:
            loaded = parse_loaded(text) if text is not None else None
        except ValueError as exc:
            return (str(exc),)
        return tuple(differences(rules, loaded))

    return [FilterDrift(r.key, r.value if r.ok else (r.error,))
            for r in fan_out(list(hosts), one, max_workers=max_workers) if not r.ok or r.value]


def repair_filters(cluster: Cluster, engines: Mapping[str, ContainerEngine], book: AddressBook,
                   bridge: BridgeFilter, hosts: Sequence[str], max_workers: int = 16) -> Dict[str, Optional[str]]:
    """Load every host's table from the records (remove it where isolation is off): host -> error or None."""
    if not cluster.network.isolation:
        def remove(host: str) -> None:
            if bridge.loaded(host) is not None:  # a host without nftables has none to remove
                bridge.load(host, REMOVE)

        return {r.key: r.error for r in fan_out(list(hosts), remove, max_workers=max_workers)}
    view = cluster_view(engines, book, hosts, max_workers=max_workers)
    index = group_index(cluster.network.pools, view.members)

    def one(host: str) -> None:
        if host in view.errors:
            raise HostError(host, view.errors[host])
        bridge.load(host, render(rules_of(cluster, bridge, view, host, index=index)))

    return {r.key: r.error for r in fan_out(list(hosts), one, max_workers=max_workers)}

