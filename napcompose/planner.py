"""From desired containers and observed ones to a plan of actions, without touching anything.

``build_requests`` turns a placement and its addresses into one ContainerRequest per replica;
``plan`` compares them with what runs and decides, per replica, create / recreate / start / noop,
plus the removals (scale-down, duplicates, orphans on request) and each replica's hosts block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from napcompose.confighash import config_hash
from napcompose.errors import UsageError
from napcompose.graph import start_waves, stop_waves
from napcompose.hostsfile import peer_entries, render_block
from napcompose.model import (Allocation, ContainerRequest, ObservedContainer, Placement, Project,
                              Replica, ServiceSpec, pairs)

COMPOSE_VERSION = "1.29.2"  # the label docker-compose v1 writes; tools that read labels expect it


@dataclass(frozen=True)
class PlanOptions:
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    services: Tuple[str, ...] = ()  # empty: every service
    no_deps: bool = False
    start: bool = True


@dataclass(frozen=True)
class Action:
    """One step for one replica: create | recreate | start | remove | noop, with the reason why."""

    kind: str
    replica: Replica
    host: str
    reason: str
    request: Optional[ContainerRequest] = None
    container: Optional[ObservedContainer] = None

    @property
    def subject(self) -> str:
        return f"{self.replica.service}_{self.replica.index}"


@dataclass(frozen=True)
class HostsUpdate:
    """The managed block ``replica``'s hosts file (on ``host``) must hold."""

    replica: Replica
    host: str
    block: str


@dataclass(frozen=True)
class Plan:
    waves: Tuple[Tuple[Action, ...], ...] = ()
    removals: Tuple[Action, ...] = ()
    hosts: Tuple[HostsUpdate, ...] = ()
    orphans: Tuple[ObservedContainer, ...] = ()  # left alone without remove_orphans; worth a warning

    @property
    def actions(self) -> Tuple[Action, ...]:
        return self.removals + tuple(a for wave in self.waves for a in wave)


def direct_dependencies(spec: ServiceSpec) -> Set[str]:
    """Services ``spec`` needs started first: links, depends_on, volumes_from, ``service:X`` modes."""
    needed = {link.service for link in spec.links} | {d.service for d in spec.depends_on}
    needed |= {v for v in spec.volumes_from if not v.startswith("container:")}
    for mode in (spec.network_mode, spec.ipc, spec.pid):
        if mode and mode.startswith("service:"):
            needed.add(mode[len("service:"):])
    return needed


def selected_services(project: Project, options: PlanOptions) -> Set[str]:
    """The services a run acts on: the named ones (all when none) plus, unless no_deps, what they need."""
    for name in options.services:
        if name not in project.service_names:
            raise UsageError(f"no such service: {name}")
    chosen = set(options.services or project.service_names)
    if options.no_deps:
        return chosen
    todo = list(chosen)
    while todo:
        spec = project.service(todo.pop())
        for name in direct_dependencies(spec):
            if name in project.service_names and name not in chosen:
                chosen.add(name)
                todo.append(name)
    return chosen


def build_requests(project: Project, placement: Placement, allocations: Mapping[Replica, Allocation],
                   network: str) -> Dict[Replica, ContainerRequest]:
    """One ContainerRequest per placed replica that has an allocation."""
    addresses = {r: allocations[r].ip for r in placement.replicas if r in allocations}
    hashes = {spec.name: config_hash(spec) for spec in project.services}
    requests: Dict[Replica, ContainerRequest] = {}
    peers_of: Dict[str, Tuple[Tuple[str, str], ...]] = {}
    for replica, host in placement.assignments:
        if replica not in allocations:
            continue
        spec = project.service(replica.service)
        allocation = allocations[replica]
        labels = dict(spec.labels)
        labels.update({
            "com.docker.compose.project": project.name,
            "com.docker.compose.service": spec.name,
            "com.docker.compose.container-number": str(replica.index),
            "com.docker.compose.config-hash": hashes[spec.name],
            "com.docker.compose.version": COMPOSE_VERSION,
            "com.docker.compose.oneoff": "False",
            "io.nap-compose.host": host,
            "io.nap-compose.address": allocation.ip,
            "io.nap-compose.alloc-id": allocation.alloc_id,
        })
        if spec.name not in peers_of:  # the same for every replica of a service
            peers_of[spec.name] = tuple((name, address) for address, names
                                        in peer_entries(project, spec.name, addresses) for name in names)
        peers = peers_of[spec.name]
        requests[replica] = ContainerRequest(
            replica=replica, host=host, spec=spec,
            image=spec.image or f"{project.name}_{spec.name}",  # compose's name for a built image
            network=network, ip=allocation.ip, alloc_id=allocation.alloc_id,
            config_hash=hashes[spec.name], labels=pairs(labels),
            extra_hosts=tuple(spec.extra_hosts) + peers)
    return requests


def hosts_block(project: Project, service: str, addresses: Mapping[Replica, str]) -> str:
    """The managed block of a replica of ``service`` when its peers have ``addresses``."""
    return render_block(project.name, peer_entries(project, service, addresses))


def _decide(request: ContainerRequest, container: Optional[ObservedContainer],
            options: PlanOptions, image_id: Optional[str] = None) -> Tuple[str, str]:
    if container is None:
        return "create", "not created yet"
    running = container.state == "running"
    if options.no_recreate:
        if running:
            return "noop", "running (--no-recreate)"
        return ("start", f"{container.state}, --no-recreate") if options.start else ("noop", container.state)
    if options.force_recreate:
        return "recreate", "--force-recreate"
    if container.config_hash != request.config_hash:
        return "recreate", "configuration changed"
    # A build or pull moved the tag to another image; compared only when both ids are known.
    if container.image_id and image_id and container.image_id != image_id:
        return "recreate", "image changed"
    if container.ip is not None and container.ip != request.ip:
        return "recreate", f"address {container.ip} differs from its reservation {request.ip}"
    if not running:
        return ("start", container.state) if options.start else ("noop", container.state)
    return "noop", "up to date"


def plan(project: Project, requests: Mapping[Replica, ContainerRequest],
         observed: Sequence[ObservedContainer], options: PlanOptions,
         image_ids: Mapping[Tuple[str, str], str] = {}) -> Plan:
    """The actions that bring ``observed`` to ``requests`` for the selected services.

    ``image_ids`` holds the current id of an image on a host, keyed by (host, image reference); a
    container made from another id is recreated. A missing key means unknown: nothing is decided on it.
    """
    selected = selected_services(project, options)
    mine = sorted((c for c in observed
                   if c.replica is not None and c.replica.project == project.name and not c.one_off),
                  key=lambda c: (c.replica, c.host, c.id))
    current: Dict[Replica, ObservedContainer] = {}
    extra: List[ObservedContainer] = []
    for container in mine:
        wanted = requests.get(container.replica)
        if container.replica in current or (wanted is not None and container.host != wanted.host
                                            and _on_host(mine, container.replica, wanted.host)):
            extra.append(container)  # a second container for one replica: keep the placed one
        else:
            current[container.replica] = container

    waves = []
    for wave in start_waves(project):
        actions = []
        for service in wave:
            if service not in selected:
                continue
            for replica in sorted(r for r in requests if r.service == service):
                request = requests[replica]
                container = current.get(replica)
                kind, reason = _decide(request, container, options,
                                       image_ids.get((request.host, request.image)))
                actions.append(Action(kind, replica, request.host, reason, request, container))
        if actions:
            waves.append(tuple(actions))

    removals, orphans = _removals(project, requests, current, extra, selected, options)
    addresses = {r: req.ip for r, req in requests.items()}
    blocks = {name: hosts_block(project, name, addresses) for name in {r.service for r in requests}}
    hosts = tuple(HostsUpdate(r, req.host, blocks[r.service]) for r, req in sorted(requests.items()))
    return Plan(tuple(waves), removals, hosts, orphans)


def _on_host(containers, replica: Replica, host: str) -> bool:
    return any(c.replica == replica and c.host == host for c in containers)


def _removals(project, requests, current, extra, selected, options):
    order = {name: i for i, wave in enumerate(stop_waves(project)) for name in wave}
    removals: List[Action] = []
    orphans: List[ObservedContainer] = []
    for container in list(current.values()) + extra:
        replica = container.replica
        if replica.service not in project.service_names:
            if options.remove_orphans:
                removals.append(Action("remove", replica, container.host,
                                       f"orphan: service {replica.service} is not in the project",
                                       None, container))
            else:
                orphans.append(container)
        elif replica.service not in selected:
            continue
        elif container in extra:
            removals.append(Action("remove", replica, container.host,
                                   f"duplicate of {replica.service}_{replica.index}", None, container))
        elif replica not in requests:
            scale = sum(1 for r in requests if r.service == replica.service)
            removals.append(Action("remove", replica, container.host, f"scale {scale}", None, container))
    # dependents first (stop order), then the highest numbers first within a service
    removals.sort(key=lambda a: (order.get(a.replica.service, -1), a.replica.service, -a.replica.index,
                                 a.host))
    return tuple(removals), tuple(orphans)
