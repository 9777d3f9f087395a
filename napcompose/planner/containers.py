"""Per replica, what up does with its container: create, recreate, start or keep; and what goes.

``converge`` compares the desired replicas (host, config hash, image, address) with the containers
found and decides, per replica, in dependency waves; plus the removals (scale-down, duplicates,
orphans on request). ``build_request`` turns a replica into the ContainerRequest an engine creates.
All pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from napcompose.confighash import scoped_hash
from napcompose.errors import UsageError
from napcompose.graph import direct_dependencies, start_waves, stop_waves, with_dependencies
from napcompose.names.hostsfile import peer_entries, render_block
from napcompose.names.records import search_domains
from napcompose.names.startnames import StartNames
from napcompose.imagecheck import image_name
from napcompose.isolation.groups import GROUPS_LABEL, groups_label
from napcompose.model import (GENERATION_LABEL, SLOTS, Allocation, ContainerRequest, ObservedContainer, Placement,
                              Project, Replica, pairs)
from napcompose.planner.actions import (Address, Create, Keep, Recreate, Remove, Start, image_key)
from napcompose.planner.options import Options

COMPOSE_VERSION = "1.29.2"  # the label docker-compose v1 writes; tools that read labels expect it


@dataclass(frozen=True, **SLOTS)
class Desired:
    """What a wanted replica should be: where, made from which config and image, at which address."""

    replica: Replica
    host: str
    config_hash: str
    image: str
    ip: Address


@dataclass(frozen=True)
class ContainerPlan:
    waves: Tuple[Tuple[object, ...], ...] = ()  # Create | Recreate | Start | Keep, in start order
    removals: Tuple[Remove, ...] = ()
    orphans: Tuple[ObservedContainer, ...] = ()
    current: Tuple[ObservedContainer, ...] = ()  # the one container kept per replica


def selected_services(project: Project, options: Options) -> Set[str]:
    """The services a run acts on: the named ones (all when none) plus, unless no_deps, what they need."""
    for name in options.services:
        if name not in project.service_names:
            raise UsageError(f"no such service: {name}")
    chosen = set(options.services or project.service_names)
    return chosen if options.no_deps else with_dependencies(project, chosen)


def healthy_needed(project: Project, selected: Set[str]) -> Set[str]:
    """Services some selected service waits on with ``condition: service_healthy``."""
    return {dep.service for spec in project.services if spec.name in selected
            for dep in spec.depends_on if dep.condition == "service_healthy"}


def completed_needed(project: Project, selected: Set[str]) -> Set[str]:
    """Services some selected service waits on with ``condition: service_completed_successfully``:
    one-shot jobs (a migration) whose container must exit 0 before their dependents start."""
    return {dep.service for spec in project.services if spec.name in selected
            for dep in spec.depends_on if dep.condition == "service_completed_successfully"}


def desired(project: Project, placement: Placement, addresses: Mapping[Replica, Address],
            scoped: bool = False) -> Dict[Replica, Desired]:
    """What each replica should be; ``scoped``: names are scoped by isolation group (see scoped_hash)."""
    hashes = {spec.name: scoped_hash(spec, scoped) for spec in project.services}
    images = {spec.name: image_name(project.name, spec) for spec in reversed(project.services)}
    return {r: Desired(r, host, hashes[r.service], images[r.service], addresses[r])
            for r, host in placement.assignments}


def build_request(project: Project, replica: Replica, host: str, allocations: Mapping[Replica, Allocation],
                  peers: Sequence[Replica], network: str, generation: int = 1,
                  names: Optional[StartNames] = None, dns: Optional[Sequence] = None) -> ContainerRequest:
    """The ContainerRequest of ``replica`` on ``host``; the names its ``peers`` answer to go into
    extra_hosts (``names``: those names built once for many requests over the same allocations).
    ``dns`` (a names.records.Lookup): the host's names resolver, the project's domain, and whether
    names are scoped by group.
    ``generation`` numbers its copy (a replica moved off a lost host gets a higher one)."""
    spec = project.service(replica.service)
    allocation = allocations[replica]
    digest = scoped_hash(spec, bool(dns) and len(dns) >= 4 and bool(dns[3]))
    labels = dict(spec.labels)
    labels.update({
        "com.docker.compose.project": project.name,
        "com.docker.compose.service": spec.name,
        "com.docker.compose.container-number": str(replica.index),
        "com.docker.compose.config-hash": digest,
        "com.docker.compose.version": COMPOSE_VERSION,
        "com.docker.compose.oneoff": "False",
        "io.nap-compose.host": host,
        "io.nap-compose.address": allocation.ip,
        "io.nap-compose.alloc-id": allocation.alloc_id,
        GENERATION_LABEL: str(generation),
        GROUPS_LABEL: groups_label(spec),  # its isolation groups, read by every other project's runs
    })
    if names is None:
        names = StartNames(project, {r: allocations[r].ip for r in peers if r in allocations}, services=dns is None)
    # Every name a peer answers to that is known now, so the process finds them at its first instant
    # and after any restart Docker makes; the managed block moves the link aliases later.
    extra = names.for_service(spec.name, spec.extra_hosts)
    return ContainerRequest(
        replica=replica, host=host, spec=spec, image=image_name(project.name, spec),
        network=network, ip=allocation.ip, alloc_id=allocation.alloc_id,
        config_hash=digest, labels=pairs(labels), extra_hosts=extra,
        dns=(dns[0],) if dns else (), dns_search=search_domains(project, spec.name, dns) if dns else ())


def build_requests(project: Project, placement: Placement, allocations: Mapping[Replica, Allocation],
                   network: str) -> Dict[Replica, ContainerRequest]:
    """One ContainerRequest per placed replica that has an allocation."""
    peers = [r for r in placement.replicas if r in allocations]
    names = StartNames(project, {r: allocations[r].ip for r in peers})
    return {r: build_request(project, r, host, allocations, peers, network, names=names)
            for r, host in placement.assignments if r in allocations}


def hosts_block(project: Project, service: str, addresses: Mapping[Replica, str],
                unavailable: Sequence[Replica] = ()) -> str:
    """The managed block of a replica of ``service`` when its peers have ``addresses``; link aliases
    avoid the ``unavailable`` replicas when another one is there."""
    return render_block(project.name, peer_entries(project, service, addresses, unavailable))


def _decide(want, container: Optional[ObservedContainer], options: Options,
            image_id: Optional[str] = None, restart: Optional[str] = None) -> Tuple[type, str]:
    if container is None:
        return Create, "not created yet"
    running = container.state == "running"
    if options.no_recreate:
        if running:
            return Keep, "running (--no-recreate)"
        return (Start, f"{container.state}, --no-recreate") if options.start else (Keep, container.state)
    if options.force_recreate:
        return Recreate, "--force-recreate"
    if container.config_hash != want.config_hash:
        return Recreate, "configuration changed"
    # A build or pull moved the tag to another image; compared only when both ids are known.
    if container.image_id and image_id and container.image_id != image_id:
        return Recreate, "image changed"
    if container.ip is not None and container.ip != want.ip:
        return Recreate, f"address {container.ip} differs from its reservation {want.ip}"
    if not running:
        return (Start, container.state) if options.start else (Keep, container.state)
    if options.replace_unhealthy and container.health == "unhealthy" and restart != "no":
        return Recreate, "unhealthy: its healthcheck failed past its retries"
    return Keep, "up to date"


def converge(project: Project, wanted: Mapping[Replica, object], observed: Sequence[ObservedContainer],
             options: Options, image_ids: Mapping[Tuple[str, str], Optional[str]] = {}) -> ContainerPlan:
    """The container actions that bring ``observed`` to ``wanted`` for the selected services.

    ``wanted`` maps each placed replica to its Desired (or ContainerRequest: anything with host,
    config_hash, image and ip). ``image_ids`` holds the current id of an image on a host, keyed by
    (host, image reference); a container made from another id is recreated. A missing key or None
    means unknown: nothing is decided on it.
    """
    selected = selected_services(project, options)
    healthy = healthy_needed(project, selected)
    jobs = completed_needed(project, selected)
    mine = sorted((c for c in observed
                   if c.replica is not None and c.replica.project == project.name and not c.one_off),
                  key=lambda c: (c.replica, c.host, c.id))
    current: Dict[Replica, ObservedContainer] = {}
    extra: List[ObservedContainer] = []
    found_on = {(c.replica, c.host) for c in mine}
    for container in mine:
        want = wanted.get(container.replica)
        if container.replica in current or (want is not None and container.host != want.host
                                            and (container.replica, want.host) in found_on):
            extra.append(container)  # a second container for one replica: keep the placed one
        else:
            current[container.replica] = container

    by_service: Dict[str, List[Replica]] = {}
    for replica in wanted:
        by_service.setdefault(replica.service, []).append(replica)
    waves = []
    keys: Dict[str, List[str]] = {}
    for wave in start_waves(project):
        actions = []
        for service in wave:
            if service not in selected:
                continue
            deps = sorted(direct_dependencies(project.service(service)))
            for replica in sorted(by_service.get(service, ())):
                want = wanted[replica]
                container = current.get(replica)
                kind, reason = _decide(want, container, options, image_ids.get((want.host, want.image)),
                                       project.service(service).restart)
                after = tuple(k for dep in deps for k in keys.get(dep, ()))
                needs_image = after + (image_key(want.image, want.host),)
                waits = dict(healthy=service in healthy, completed=service in jobs)
                if kind is Create:
                    action = Create(replica, want.host, reason, needs_image, address=want.ip, **waits)
                elif kind is Recreate:
                    action = Recreate(replica, want.host, reason, needs_image, address=want.ip,
                                      container=container, **waits)
                else:
                    action = kind(replica, want.host, reason, after, container=container, **waits)
                actions.append(action)
        for action in actions:
            keys.setdefault(action.replica.service, []).append(action.key)
        if actions:
            waves.append(tuple(actions))

    removals, orphans = _removals(project, wanted, current, extra, selected, options)
    return ContainerPlan(tuple(waves), removals, orphans,
                         tuple(c for c in mine if c not in extra))


def _removals(project, wanted, current, extra, selected, options):
    order = {name: i for i, wave in enumerate(stop_waves(project)) for name in wave}
    removals: List[Remove] = []
    orphans: List[ObservedContainer] = []
    scales: Dict[str, int] = {}
    for r in wanted:
        scales[r.service] = scales.get(r.service, 0) + 1
    for container in list(current.values()) + extra:
        replica = container.replica
        if replica.service in project.disabled_services:
            continue  # its profile is not active: left as it runs, and no orphan (as docker compose)
        if replica.service not in project.service_names:
            if options.remove_orphans:
                removals.append(Remove(replica, container.host,
                                       f"orphan: service {replica.service} is not in the project",
                                       container=container))
            else:
                orphans.append(container)
        elif replica.service not in selected:
            continue
        elif container in extra:
            removals.append(Remove(replica, container.host, f"duplicate of {replica.label}",
                                   container=container))
        elif replica not in wanted:
            removals.append(Remove(replica, container.host, f"scale {scales.get(replica.service, 0)}",
                                   container=container))
    # dependents first (stop order), then the highest numbers first within a service
    removals.sort(key=lambda a: (order.get(a.replica.service, -1), a.replica.service, -a.replica.index,
                                 a.host))
    return tuple(removals), tuple(orphans)
