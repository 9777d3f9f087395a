"""The plan of ``up`` and ``scale``: placement, addresses, images, containers, releases, hosts files.

``plan_up`` reads as its steps: select (services, names, host loss) -> place -> reserve addresses
-> converge containers -> images -> releases -> hosts writes -> files and container waves
(rolling, prunes) -> assemble the waves, with each replica's hosts lines and named volumes beside.

Pure: everything it knows comes from the Observation and the Addresses read before it, so the
plan ``nap-compose plan`` prints is the plan ``up`` executes for the same state.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple

from napcompose.errors import ConfigError
from napcompose.names.hostsfile import PeerMap, check_names
from napcompose.model import Placement, Project, Replica
from napcompose.clustermodel import ClusterNetwork
from napcompose.placement.place import place
from napcompose.planner.actions import (Address, Create, Keep, Plan, Recreate, Release, Reservation, Reserve, Restart, Start,
                                        ShipFiles, Strand, Unreserved, WriteHosts, names_writes,
                                        ship_key)
from napcompose.planner.containers import ContainerPlan, converge, desired, selected_services
from napcompose.planner.hostloss import HostLoss, Move, sort_out, vacated as vacated_by, with_generations
from napcompose.planner.images import plan_images
from napcompose.planner.isolation_actions import isolation_applies
from napcompose.observe.observation import Addresses, Observation, stranded_owner
from napcompose.observe.pins import Pin
from napcompose.planner.options import Options
from napcompose.planner.rolling import prunes, roll, split_previous
from napcompose.observe.copies import is_previous
from napcompose.planner.rolling_actions import RollingUpdate
from napcompose.planner.waits import ready_waits
from napcompose.shipping.manifest import Shipped

ShippedByService = Mapping[str, Tuple[Shipped, ...]]


def fixed_address(project: Project, network: ClusterNetwork, replica: Replica) -> Optional[str]:
    """``ipv4_address`` + (index - 1) when the service asks for one; it must be in the cluster subnet."""
    spec = project.service(replica.service)
    base = next((n.ipv4_address for n in spec.networks if n.ipv4_address), None)
    if base is None:
        return None
    subnet = ipaddress.ip_network(network.subnet, strict=False)
    try:
        first = ipaddress.ip_address(base)
    except ValueError:
        raise ConfigError(f"service {spec.name}: ipv4_address {base!r} is not an IPv4 address") from None
    if first not in subnet:
        raise ConfigError(f"service {spec.name}: ipv4_address {base} is outside the cluster network "
                          f"{network.name} ({network.subnet})")
    address = first + (replica.index - 1)
    if address not in subnet:
        raise ConfigError(f"service {spec.name}: replica {replica.index} would get {address} "
                          f"(ipv4_address {base} + {replica.index - 1}), outside the cluster network "
                          f"{network.name} ({network.subnet})")
    return str(address)


@dataclass(frozen=True)
class _Ground:
    """What every step of ``up`` reads: the inputs, the services acted on and what host loss sorted out."""

    project: Project
    observation: Observation
    addresses: Addresses
    options: Options
    selected: Set[str]
    loss: HostLoss
    down: Mapping[str, str]  # the hosts that did not answer, and why
    evicted: Set[str]
    network: ClusterNetwork


def plan_up(project: Project, observation: Observation, addresses: Addresses, options: Options,
            shipped: Optional[ShippedByService] = None, pins: Iterable[Pin] = ()) -> Plan:
    """Everything ``up`` (or ``scale``) will do, in order.

    ``project``'s shipped binds already point at their host copies (so the copies' digests are in the
    config hashes); ``shipped`` says, per service, what those copies are made of. Its registry
    images already name the digest this run resolved (``pins``, observe/pins.py), so a tag that
    moved changes the config hash and the hosts lacking that digest pull it.

    Raises, before anything is planned, ConfigError (names, fixed addresses, missing images),
    UsageError (unknown services) and PlacementError.
    """
    ground = _select(project, observation, addresses, options)
    mine, kept = split_previous(_own_containers(ground))
    placement = _place(ground, mine)
    address_of, entries = _reserve(ground, placement)
    network = observation.cluster.network
    scoped = network.isolation and network.resolver is not None
    containers = converge(project, desired(project, placement, address_of, scoped), mine, options, observation.images)
    pins = tuple(pins)
    builds, copies, pulls = plan_images(project, placement, ground.selected, observation.images, set(ground.down),
                                        options.build, {p.reference: p for p in pins}, options.pull)
    releases = _releases(ground, placement, containers, mine)
    writes = _hosts_writes(ground, placement, containers)
    # the resolvers' files: ahead of the containers (new replicas' names in place before anything
    # starts, removed ones gone before they stop) and again with the hosts files
    # (with --no-start nothing it creates will serve: the replicas it stops, removes or recreates
    # leave the names first, and nothing joins them until `start`). A run that changes no replica
    # writes them once, with the hosts files: an early write would bring nothing the late one does not.
    if not ground.options.start:
        early = names_writes(ground.observation, "unstarted")
    else:
        early = names_writes(ground.observation, "before") if _changes_replicas(ground, containers, releases, entries) \
            else ()
        writes += list(names_writes(ground.observation, "after"))
    # the bridge filters: the new replicas in their groups before anything starts; last, the
    # started containers' ports bound to their addresses and the removed ones out of their groups
    # (a run that makes no container and reserves nothing has no new member to load first, and one
    # that starts, removes and releases nothing leaves every table as it was: a second `up` is free)
    # A replica whose address is recorded on another host may move only on this observation's proof
    # that its container is gone from there (the address book checks it).
    reserve = Reserve(tuple(entries), vacated_by(observation)) if entries else None
    ships, container_waves = _container_waves(ground, containers, kept, shipped or {})
    if entries or any(isinstance(a, (Create, Recreate, RollingUpdate)) for wave in container_waves for a in wave):
        early += isolation_applies(ground.observation, "before")
    started = _started(container_waves, options.start)
    if started or containers.removals or releases:
        writes += list(isolation_applies(ground.observation, "after", started))
    waves = _assemble(ground.loss, reserve, (builds, tuple(copies) + tuple(pulls) + ships + early, containers.removals,
                                             tuple(releases)), container_waves, writes)
    if options.wait and options.start:
        waits = ready_waits(project, (a for wave in container_waves for a in wave), ground.selected)
        waves += [waits] if waits else []
    return Plan(project.name, tuple(waves), placement, containers.current, observation.hosts,
                containers.orphans, lambda: _hosts_lines(project, placement, address_of),
                volumes=_volumes(project, placement, observation),
                notes=pin_notes(pins) + ground.loss.notes, pins=pins)


def _changes_replicas(ground: _Ground, containers: ContainerPlan, releases, entries) -> bool:
    """Whether the run creates, starts, stops, moves or removes a replica, or an address changes
    hands: anything but keeping every container as it is."""
    if containers.removals or releases or entries or ground.loss.cleanup or ground.loss.releases:
        return True
    return any(not isinstance(action, Keep) for wave in containers.waves for action in wave)


def _started(container_waves, start: bool) -> Tuple[Replica, ...]:
    """The replicas whose containers the waves (re)start: their addresses are announced."""
    if not start:
        return ()
    found = []
    for action in (a for wave in container_waves for a in wave):
        if isinstance(action, (Create, Recreate, Start, Restart)):
            found.append(action.replica)
        elif isinstance(action, RollingUpdate):
            found.extend(step.replica for step in action.steps)
    return tuple(found)


def pin_notes(pins: Iterable[Pin]) -> Tuple[str, ...]:
    """For display: the digest each registry image runs as in this run, and where it came from."""
    return tuple(f"image {p.image}: runs {p.digest} on every host ({p.source})" for p in pins if p.digest)


def placement_of(project: Project, observation: Observation, addresses: Addresses, options: Options) -> Placement:
    """Where ``up`` with ``options`` would run every replica (the hosts that answer only)."""
    ground = _select(project, observation, addresses, options)
    mine, _ = split_previous(_own_containers(ground))
    return _place(ground, mine)


def _select(project: Project, observation: Observation, addresses: Addresses, options: Options) -> _Ground:
    """The services acted on, the names checked, and lost and evicted hosts sorted out first: what
    moves off them and which old copies go (planner/hostloss.py)."""
    selected = selected_services(project, options)
    check_names(project)
    network = observation.cluster.network
    loss = sort_out(project.name, observation, addresses, selected,
                    {r: fixed_address(project, network, r) for r, _ in addresses.allocations
                     if r.service in project.service_names})
    return _Ground(project, observation, addresses, options, selected, loss, observation.down,
                   set(observation.evicted), network)


def _own_containers(ground: _Ground) -> tuple:
    """This project's containers (no one-off runs), those kept by updates for a rollback included:
    they are not replicas, so only ``roll`` and prunes see them."""
    name = ground.project.name
    return tuple(c for c in ground.loss.containers
                 if c.replica is not None and c.replica.project == name and not c.one_off)


def _place(ground: _Ground, mine) -> Placement:
    """The host of every replica of the selected services, and of the others' running ones (left as they are)."""
    project, observation, loss = ground.project, ground.observation, ground.loss
    reachable = [h for h in observation.cluster.hosts if h.name not in ground.down and h.name not in ground.evicted]
    # A kept container is a copy to stick to only for a replica that has no other: after a move it may
    # sit on a host the replica left, while a replica removed by ``rm`` still has its address there.
    previous = [is_previous(c) for c in loss.containers]  # each container's name read once, not twice
    current = {c.replica for c, kept in zip(loss.containers, previous) if c.replica is not None and not kept}
    copies = [c for c, kept in zip(loss.containers, previous) if not kept or c.replica not in current]
    placement = place(project, reachable, copies, _scales(project, ground.selected, mine, ground.options),
                      observation.volumes)
    existing = {c.replica for c in mine}
    return Placement(tuple((r, h) for r, h in placement.assignments
                           if r.service in ground.selected or r in existing))


def _scales(project: Project, selected: Set[str], mine, options: Options) -> Dict[str, int]:
    """The file's scale for selected services, the running count for the others (left untouched)."""
    highest: Dict[str, int] = {}
    for c in mine:
        highest[c.replica.service] = max(highest.get(c.replica.service, 0), c.replica.index)
    wanted = {}
    for spec in project.services:
        wanted[spec.name] = spec.scale if spec.name in selected else highest.get(spec.name, 0)
    wanted.update(options.scale_of)
    return wanted


def _reserve(ground: _Ground, placement: Placement) -> Tuple[Dict[Replica, Address], List[Reservation]]:
    """Each replica's address: the one held when it fits; otherwise the Reserve action gets or moves it."""
    project, network, held = ground.project, ground.network, ground.addresses.by_replica
    address_of: Dict[Replica, Address] = {}
    entries: List[Reservation] = []
    for replica, host in placement.assignments:
        fixed = fixed_address(project, network, replica)
        allocation = held.get(replica)
        move = ground.loss.moves.get(replica)
        if move is not None and host != move.source:
            address_of[replica], entry = _moved(move, host, fixed)
            entries.append(entry)
        elif allocation is None:
            address_of[replica] = Unreserved(replica.owner, fixed)
            entries.append(Reservation(replica, host, fixed, "no address yet"))
        elif fixed is not None and allocation.ip != fixed:
            address_of[replica] = Unreserved(replica.owner, fixed)
            entries.append(Reservation(replica, host, fixed, f"moves from {allocation.ip} to its fixed address"))
        else:
            address_of[replica] = allocation.ip
            if allocation.host != host:
                entries.append(Reservation(replica, host, fixed,
                                           f"recorded on {allocation.host or 'no host'}, placed on {host}"))
    return address_of, entries


def _moved(move: Move, host: str, fixed: Optional[str]) -> Tuple[Address, Reservation]:
    """The address and reservation of a replica leaving a lost host (a new address; the old one is
    kept for the copy left there) or an evicted one (its address goes along)."""
    label, source, ip = move.replica.label, move.source, move.allocation.ip
    if move.evicted:
        why = f"host {source} is evicted: moving {label} to {host} with its address {fixed or ip}"
        address = Unreserved(move.replica.owner, fixed) if fixed and fixed != ip else ip
        return address, Reservation(move.replica, host, fixed, why, moved_from=source)
    why = f"host {source} unreachable: moving {label} to {host} with a new address ({ip} stays reserved there)"
    strand = Strand(stranded_owner(move.replica, move.generation - 1), source, ip)
    return Unreserved(move.replica.owner), Reservation(move.replica, host, None, why, strand, source)


def _releases(ground: _Ground, placement: Placement, containers: ContainerPlan, mine) -> List[Release]:
    """The addresses given back: a removed replica's, and one reserved for a replica that is no longer wanted."""
    held = ground.addresses.by_replica
    releases: List[Release] = []
    for removal in containers.removals:
        allocation = held.get(removal.replica)
        if allocation is not None and not removal.reason.startswith("duplicate"):
            releases.append(Release(removal.replica, removal.host, allocation.ip, removal.reason,
                                    after=(removal.key,)))
    # An address reserved for a replica that never got a container (its create failed) and is no
    # longer wanted: nothing else would ever release it.
    project, down, evicted = ground.project, ground.down, ground.evicted
    wanted = set(placement.replicas)
    found = {c.replica for c in mine}
    for replica, allocation in ground.addresses.allocations:
        gone = replica.service not in project.service_names
        if replica in wanted or replica in found or (allocation.host in down and allocation.host not in evicted):
            continue
        if replica.service in ground.selected or (gone and ground.options.remove_orphans):
            # an evicted host that answered loses its copy first: the address goes only after that
            first = ground.loss.removal_keys.get((replica, allocation.host))
            releases.append(Release(replica, allocation.host, allocation.ip, "no container, no longer wanted",
                                    after=(first,) if first else (), evicted=allocation.host in evicted))
    return releases


def _hosts_writes(ground: _Ground, placement: Placement, containers: ContainerPlan) -> List[WriteHosts]:
    """One WriteHosts per host that answers, naming every replica it will run (none with ``--no-start``)."""
    if not ground.options.start:
        return []
    removed = {(r.replica, r.host) for r in containers.removals}
    on_host: Dict[str, Set[Replica]] = {}
    for replica, host in placement.assignments:
        on_host.setdefault(host, set()).add(replica)
    for c in containers.current:
        if (c.replica, c.host) not in removed and c.replica.service in ground.project.service_names:
            on_host.setdefault(c.host, set()).add(c.replica)
    return [WriteHosts(host, tuple(sorted(replicas))) for host, replicas in sorted(on_host.items())
            if host not in ground.down]


def _container_waves(ground: _Ground, containers: ContainerPlan, kept, shipped: ShippedByService
                     ) -> Tuple[Tuple[ShipFiles, ...], list]:
    """The files to ship, and the container waves: each create waiting for its files, changed services
    rolled, and (``--prune-previous``) the containers kept for a rollback removed."""
    project, options, down = ground.project, ground.options, ground.down
    ships, waves = _ship(project.name, with_generations(containers.waves, ground.loss), shipped, down)
    if not options.prune_previous:
        return ships, roll(project, waves, kept, options, down)
    # The kept containers go first: an update in the same run then keeps its own without meeting them.
    pruned = prunes(kept, ground.selected, down)
    gone = {p.container.id for p in pruned}
    waves = roll(project, waves, [c for c in kept if c.id not in gone], options, down)
    return ships, ([pruned] if pruned else []) + list(waves)


def _ship(project_name: str, waves, shipped: ShippedByService, down) -> Tuple[Tuple[ShipFiles, ...], list]:
    """One ShipFiles per host that will run (create, recreate or keep) a replica mounting shipped
    sources, and the container waves with each Create/Recreate there waiting for it."""
    per_host: Dict[str, Dict[Tuple[str, ...], Shipped]] = {}
    for action in (a for wave in waves for a in wave):
        if isinstance(action, (Create, Recreate, Keep)) and action.host not in down:
            for source in shipped.get(action.replica.service, ()):
                per_host.setdefault(action.host, {})[(source.service, source.mount, source.source,
                                                      source.target)] = source
    ships = tuple(ShipFiles(host, project_name, tuple(found[k] for k in sorted(found)))
                  for host, found in sorted(per_host.items()))
    waiting = [tuple(replace(a, after=a.after + (ship_key(a.host),))
                     if isinstance(a, (Create, Recreate)) and a.host in per_host
                     and shipped.get(a.replica.service) else a for a in wave) for wave in waves]
    return ships, waiting


def _assemble(loss: HostLoss, reserve: Optional[Reserve], before_containers, container_waves, writes) -> list:
    """The plan's waves in order: reserve, host-loss cleanup, images and files, removals and releases,
    the containers, the hosts files last.

    Stale copies on hosts that answer again go before anything else happens there; their kept
    addresses only once they are gone. Files travel beside the images, before anything is removed
    or created.
    """
    waves = [(reserve,)] if reserve is not None else []
    waves += [wave for wave in (loss.cleanup, loss.releases) + tuple(before_containers) if wave]
    waves += container_waves
    if writes:
        waves.append(tuple(writes))
    return waves


def _hosts_lines(project: Project, placement: Placement, address_of: Mapping[Replica, Address]) -> tuple:
    """Every replica's hosts lines. Every replica of a service gets the same lines: one map of peers,
    each service's lines made once."""
    peers = PeerMap(project, address_of)
    service_lines: Dict[str, tuple] = {}
    for service in {r.service for r in placement.replicas}:
        service_lines[service] = tuple(f"{address} {' '.join(names)}" for address, names in peers.entries(service))
    return tuple((r, service_lines[r.service]) for r in sorted(placement.replicas))


def _volumes(project: Project, placement: Placement, observation: Observation) -> tuple:
    """(volume, host, replica, already there) for every named volume a placed replica mounts."""
    held = set(observation.volumes)
    named = {spec.name: spec.named_volumes for spec in project.services}  # once per service, not per replica
    return tuple(sorted((name, host, r.label, (host, name) in held) for r, host in placement.assignments
                        for name in named[r.service]))
