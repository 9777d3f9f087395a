"""The plan of ``up`` and ``scale``: placement, addresses, images, containers, releases, hosts files.

Pure: everything it knows comes from the Observation and the Addresses read before it, so the
plan ``nap-compose plan`` prints is the plan ``up`` executes for the same state.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Dict, List, Mapping, Optional, Set, Tuple

from napcompose.errors import ConfigError
from napcompose.names.hostsfile import PeerMap, check_names
from napcompose.model import Placement, Project, Replica
from napcompose.clustermodel import ClusterNetwork
from napcompose.placement.place import named_volumes, place
from napcompose.planner.actions import (Address, Create, Keep, Plan, Recreate, Release, Reservation, Reserve,
                                        ShipFiles, Strand, Unreserved, WriteHosts, ship_key)
from napcompose.planner.containers import converge, desired, selected_services
from napcompose.planner.hostloss import Move, sort_out, vacated as vacated_by, with_generations
from napcompose.planner.images import plan_images
from napcompose.observe.observation import Addresses, Observation, stranded_owner
from napcompose.planner.options import Options
from napcompose.planner.rolling import prunes, roll, split_previous
from napcompose.planner.rolling_actions import is_previous
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


def plan_up(project: Project, observation: Observation, addresses: Addresses, options: Options,
            shipped: Optional[ShippedByService] = None) -> Plan:
    """Everything ``up`` (or ``scale``) will do, in order.

    ``project``'s shipped binds already point at their host copies (so the copies' digests are in the
    config hashes); ``shipped`` says, per service, what those copies are made of.

    Raises, before anything is planned, ConfigError (names, fixed addresses, missing images),
    UsageError (unknown services) and PlacementError.
    """
    selected = selected_services(project, options)
    check_names(project)
    down, evicted = observation.down, set(observation.evicted)
    network = observation.cluster.network
    # Lost and evicted hosts first: what moves off them, and which old copies go (planner/hostloss.py).
    loss = sort_out(project.name, observation, addresses, selected,
                    {r: fixed_address(project, network, r) for r, _ in addresses.allocations
                     if r.service in project.service_names})
    # Containers kept by an update for a rollback are not replicas: only ``roll`` and prunes see them.
    mine, kept = split_previous(tuple(c for c in loss.containers
                                      if c.replica is not None and c.replica.project == project.name
                                      and not c.one_off))
    reachable = [h for h in observation.cluster.hosts if h.name not in down and h.name not in evicted]
    # A kept container is a copy to stick to only for a replica that has no other: after a move it may
    # sit on a host the replica left, while a replica removed by ``rm`` still has its address there.
    current = {c.replica for c in loss.containers if c.replica is not None and not is_previous(c)}
    copies = [c for c in loss.containers if not is_previous(c) or c.replica not in current]
    placement = place(project, reachable, copies, _scales(project, selected, mine, options), observation.volumes)
    existing = {c.replica for c in mine}
    placement = Placement(tuple((r, h) for r, h in placement.assignments
                                if r.service in selected or r in existing))

    # Addresses: the one held when it fits; otherwise the Reserve action gets or moves it.
    held = addresses.by_replica
    address_of: Dict[Replica, Address] = {}
    entries: List[Reservation] = []
    for replica, host in placement.assignments:
        fixed = fixed_address(project, network, replica)
        allocation = held.get(replica)
        move = loss.moves.get(replica)
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

    containers = converge(project, desired(project, placement, address_of), mine, options,
                          observation.images)
    builds, copies = plan_images(project, placement, selected, observation.images, set(down), options.build)

    releases: List[Release] = []
    for removal in containers.removals:
        allocation = held.get(removal.replica)
        if allocation is not None and not removal.reason.startswith("duplicate"):
            releases.append(Release(removal.replica, removal.host, allocation.ip, removal.reason,
                                    after=(removal.key,)))
    # An address reserved for a replica that never got a container (its create failed) and is no
    # longer wanted: nothing else would ever release it.
    wanted = set(placement.replicas)
    found = {c.replica for c in mine}
    for replica, allocation in addresses.allocations:
        gone = replica.service not in project.service_names
        if replica in wanted or replica in found or (allocation.host in down and allocation.host not in evicted):
            continue
        if replica.service in selected or (gone and options.remove_orphans):
            # an evicted host that answered loses its copy first: the address goes only after that
            first = loss.removal_keys.get((replica, allocation.host))
            releases.append(Release(replica, allocation.host, allocation.ip, "no container, no longer wanted",
                                    after=(first,) if first else (), evicted=allocation.host in evicted))

    writes = []
    if options.start:
        removed = {(r.replica, r.host) for r in containers.removals}
        on_host: Dict[str, Set[Replica]] = {}
        for replica, host in placement.assignments:
            on_host.setdefault(host, set()).add(replica)
        for c in containers.current:
            if (c.replica, c.host) not in removed and c.replica.service in project.service_names:
                on_host.setdefault(c.host, set()).add(c.replica)
        writes = [WriteHosts(host, tuple(sorted(replicas))) for host, replicas in sorted(on_host.items())
                  if host not in down]

    # A replica whose address is recorded on another host may move only on this observation's proof
    # that its container is gone from there (the address book checks it).
    vacated = vacated_by(observation)
    ships, container_waves = _ship(project.name, with_generations(containers.waves, loss), shipped or {}, down)
    if options.prune_previous:
        # The kept containers go first: an update in the same run then keeps its own without meeting them.
        pruned = prunes(kept, selected, down)
        gone = {p.container.id for p in pruned}
        container_waves = roll(project, container_waves, [c for c in kept if c.id not in gone], options, down)
        container_waves = ([pruned] if pruned else []) + list(container_waves)
    else:
        container_waves = roll(project, container_waves, kept, options, down)
    waves = [(Reserve(tuple(entries), vacated),)] if entries else []
    # Stale copies on hosts that answer again go before anything else happens there; their kept
    # addresses only once they are gone. Files travel beside the images, before anything is removed
    # or created.
    waves += [wave for wave in (loss.cleanup, loss.releases, builds, tuple(copies) + ships, containers.removals,
                                tuple(releases)) if wave]
    waves += container_waves
    if writes:
        waves.append(tuple(writes))
    # Every replica of a service gets the same lines: one map of peers, each service's lines made once.
    peers = PeerMap(project, address_of)
    service_lines: Dict[str, tuple] = {}
    for service in {r.service for r in placement.replicas}:
        service_lines[service] = tuple(f"{address} {' '.join(names)}" for address, names in peers.entries(service))
    lines = tuple((r, service_lines[r.service]) for r in sorted(placement.replicas))
    held = set(observation.volumes)
    volumes = tuple(sorted((name, host, r.label, (host, name) in held) for r, host in placement.assignments
                           for name in named_volumes(project.service(r.service))))
    return Plan(project.name, tuple(waves), placement, containers.current, observation.hosts,
                containers.orphans, lines, volumes=volumes, notes=loss.notes)


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
