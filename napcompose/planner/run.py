"""The plan of ``run``: one one-off container of a service, and the removal of one-off containers.

A one-off container is made like a replica of its service (placed where the service's first
replica goes, or on the host asked for; its image put there; the project files it mounts shipped;
an address from the pool; every peer's name given at create time), with docker compose's one-off
labels (``com.docker.compose.oneoff=True``, a slug) and its name ``<project>_<service>_run_<slug>``.
It serves nobody, so no peer's hosts or names file changes for it, and the service's ``ports``
are published only when asked. Attaching to it, starting it then (so its first byte is caught),
waiting for it and removing it are the command line's, through the plans made here.

``run --rm`` marks its container (RM_LABEL): once such a run ended (the container exited, or
never started) its container and address go with the next ``up`` or ``down``, whatever became of
the operator's process. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from napcompose.confighash import config_hash
from napcompose.errors import UsageError
from napcompose.imagecheck import image_name
from napcompose.model import (GENERATION_LABEL, Allocation, ContainerRequest, ObservedContainer, Placement,
                              PortSpec, Project, Replica, ServiceSpec, pairs)
from napcompose.names.records import search_domains
from napcompose.names.startnames import StartNames
from napcompose.observe.observation import Addresses, Observation
from napcompose.observe.pins import Pin
from napcompose.planner.actions import (CreateOneOff, Plan, Release, Remove, Reservation, Reserve, ShipFiles,
                                        Start, Unreserved, image_key, ship_key)
from napcompose.planner.containers import COMPOSE_VERSION
from napcompose.planner.images import plan_images
from napcompose.planner.isolation_actions import isolation_applies
from napcompose.planner.options import Options
from napcompose.planner.up import placement_of
from napcompose.shipping.manifest import Shipped

ONEOFF_LABEL = "com.docker.compose.oneoff"
SLUG_LABEL = "com.docker.compose.slug"
RM_LABEL = "io.nap-compose.run-rm"  # "True": removed with its address once its run ended
ENDED_STATES = ("exited", "dead", "created")  # a one-off in these runs no more (created: never started)


@dataclass(frozen=True)
class OneOff(Replica):
    """A one-off container of a service: its compose number (1, as docker compose gives one-off
    containers) and the slug that tells runs apart. Its name, label and address owner are its own,
    so it never stands for the service's replica of the same number."""

    slug: str = ""

    @property
    def short(self) -> str:
        return self.slug[:12]

    @property
    def name(self) -> str:
        return f"{self.project}_{self.service}_run_{self.short}"

    @property
    def label(self) -> str:
        return f"{self.service}_run_{self.short}"

    @property
    def owner(self) -> str:
        return f"{self.project}/{self.service}/run-{self.short}"


@dataclass(frozen=True)
class RunOptions:
    """What ``run`` was asked: the service, the command and what it changes of the service."""

    service: str
    slug: str
    command: Optional[Tuple[str, ...]] = None  # None: the service's
    entrypoint: Optional[Tuple[str, ...]] = None
    env: Tuple[Tuple[str, str], ...] = ()
    volumes: Tuple[str, ...] = ()
    workdir: Optional[str] = None
    user: Optional[str] = None
    name: Optional[str] = None  # --name: instead of <project>_<service>_run_<slug>
    service_ports: bool = False
    publish: Tuple[PortSpec, ...] = ()
    tty: bool = False
    stdin: bool = False
    rm: bool = False
    detach: bool = False  # started by the plan; attached runs start after the attach
    host: Optional[str] = None


def one_off_spec(spec: ServiceSpec, run: RunOptions, name: str) -> ServiceSpec:
    """The service's spec as the one-off container runs it."""
    environment = dict(spec.environment)
    environment.update(run.env)
    command = run.command if run.command else spec.command
    if run.entrypoint is not None and not run.command:
        command = None  # a new entrypoint takes no command but the one given (docker compose run)
    return replace(spec, command=command, entrypoint=run.entrypoint if run.entrypoint is not None else spec.entrypoint,
                   environment=pairs(environment), volumes=spec.volumes + run.volumes,
                   working_dir=run.workdir or spec.working_dir, user=run.user or spec.user,
                   container_name=name, ports=(spec.ports if run.service_ports else ()) + run.publish,
                   restart=None, tty=run.tty, stdin_open=run.stdin, scale=1)


def pick_host(project: Project, observation: Observation, addresses: Addresses, run: RunOptions) -> str:
    """The host asked for (known, answering), else where ``up`` places the service's first replica."""
    hosts = [h.name for h in observation.cluster.hosts]
    if run.host is not None:
        if run.host not in hosts:
            raise UsageError(f"run --host {run.host}: no such host in the cluster (hosts: {', '.join(hosts)})")
        if run.host in observation.down:
            raise UsageError(f"run --host {run.host}: the host did not answer ({observation.down[run.host]})")
        return run.host
    spec = project.service(run.service)
    scale = max(1, spec.scale)
    placement = placement_of(project, observation, addresses,
                             Options(services=(run.service,), no_deps=True, scales=((run.service, scale),)))
    return placement.host_of(Replica(project.name, run.service, 1))


def plan_run(project: Project, observation: Observation, addresses: Addresses, run: RunOptions,
             shipped: Sequence[Shipped] = (), pins: Tuple[Pin, ...] = ()) -> Plan:
    """Reserve an address, put the image and the service's shipped files on the host, create the
    one-off container (and start it when detached). ``shipped``: what the service mounts from the
    project (its binds in ``project`` already point at the host copies); ``pins``: the digest its
    registry image runs as (already written into ``project``), pulled where missing."""
    if run.service not in project.service_names:
        raise UsageError(f"no such service: {run.service} (services in {project.name}: "
                         f"{', '.join(project.service_names)})")
    host = pick_host(project, observation, addresses, run)
    one_off = OneOff(project.name, run.service, 1, run.slug)
    spec = one_off_spec(project.service(run.service), run, run.name or one_off.name)
    taken = [c for c in observation.containers if c.host == host and c.name == spec.container_name]
    if taken:
        raise UsageError(f"run --name {spec.container_name}: a container of that name exists on {host}")
    image = image_name(project.name, project.service(run.service))
    builds, copies, pulls = plan_images(project, Placement(((Replica(project.name, run.service, 1), host),)),
                                        {run.service}, observation.images, set(observation.down),
                                        pins={p.reference: p for p in pins})
    ships = (ShipFiles(host, project.name, tuple(shipped)),) if shipped else ()
    reserve = Reserve((Reservation(one_off, host, None, "one-off container"),), reason="an address for the run")
    create = CreateOneOff(one_off, host, "run", (image_key(image, host),) + tuple(ship_key(host) for _ in ships[:1]),
                          address=Unreserved(one_off.owner), spec=spec, start=run.detach, rm=run.rm)
    # with isolation, the one-off's address joins its service's groups before its process starts
    early = tuple(copies) + tuple(pulls) + ships + isolation_applies(observation, "before")
    waves = [(reserve,)] + [w for w in (builds, early) if w] + [(create,)]
    return Plan(project.name, tuple(waves), peers_of(project, addresses), hosts=observation.hosts, pins=pins)


def peers_of(project: Project, addresses: Addresses) -> Placement:
    """Every replica of the project holding an address, on its host: the peers a one-off names."""
    return Placement(tuple(sorted((r, a.host) for r, a in addresses.allocations
                                  if a.host and r.service in project.service_names)))


def plan_start(plan: Plan, container: ObservedContainer) -> Plan:
    """Start the one-off container ``plan`` created (``container`` as found after the create)."""
    create = next(a for a in plan.actions if isinstance(a, CreateOneOff))
    return Plan(plan.project, ((Start(create.replica, container.host, "run", container=container),),),
                plan.placement, hosts=plan.hosts, pins=plan.pins)


def one_off_request(project: Project, action: CreateOneOff, allocation: Allocation, names: StartNames,
                    network: str, dns: Optional[Sequence] = None) -> ContainerRequest:
    """The ContainerRequest of the one-off container ``action`` creates at ``allocation``."""
    one_off, spec = action.replica, action.spec
    digest = config_hash(spec)
    labels = dict(spec.labels)
    labels.update({
        "com.docker.compose.project": project.name,
        "com.docker.compose.service": spec.name,
        "com.docker.compose.container-number": str(one_off.index),
        "com.docker.compose.config-hash": digest,
        "com.docker.compose.version": COMPOSE_VERSION,
        ONEOFF_LABEL: "True",
        SLUG_LABEL: one_off.slug,
        "io.nap-compose.host": action.host,
        "io.nap-compose.address": allocation.ip,
        "io.nap-compose.alloc-id": allocation.alloc_id,
        GENERATION_LABEL: "1",
    })
    if action.rm:
        labels[RM_LABEL] = "True"
    return ContainerRequest(replica=one_off, host=action.host, spec=spec, image=image_name(project.name, spec),
                            network=network, ip=allocation.ip, alloc_id=allocation.alloc_id, config_hash=digest,
                            labels=pairs(labels), extra_hosts=names.for_service(spec.name, spec.extra_hosts),
                            dns=(dns[0],) if dns else (),
                            dns_search=search_domains(project, spec.name, dns) if dns else ())


# ---------------------------------------------------------------------------- removal


def one_off_of(container: ObservedContainer) -> Optional[OneOff]:
    """The OneOff a container found on a host is, from its labels; None for any other container."""
    labels = dict(container.labels)
    if not container.one_off or container.replica is None or not labels.get(SLUG_LABEL):
        return None
    r = container.replica
    return OneOff(r.project, r.service, r.index, labels[SLUG_LABEL])


def ended_runs(observation: Observation, everything: bool = False) -> List[ObservedContainer]:
    """The project's one-off containers to remove: those of ``run --rm`` whose run ended, or
    (``everything``: ``down --remove-orphans``) all of them; on hosts that answered."""
    down = observation.down
    found = []
    for c in observation.mine:
        if c.host in down or not c.one_off or one_off_of(c) is None:
            continue
        if everything or (dict(c.labels).get(RM_LABEL) == "True" and c.state in ENDED_STATES):
            found.append(c)
    return sorted(found, key=lambda c: (c.name, c.host))


def removals(containers: Iterable[ObservedContainer], reason: str) -> Tuple[Tuple[Remove, ...], Tuple[Release, ...]]:
    """A Remove of each one-off container (stopped first when it runs) and the Release of its address
    once it is gone."""
    removes: List[Remove] = []
    releases: List[Release] = []
    for c in containers:
        one_off = one_off_of(c)
        if one_off is None:
            continue
        remove = Remove(one_off, c.host, reason, container=replace(c, replica=one_off), stop=True, force=True)
        removes.append(remove)
        if c.ip:
            releases.append(Release(one_off, c.host, c.ip, reason, after=(remove.key,)))
    return tuple(removes), tuple(releases)


def plan_remove_runs(observation: Observation, containers: Sequence[ObservedContainer], reason: str) -> Plan:
    """Remove ``containers`` (one-offs) and release their addresses."""
    removes, releases = removals(containers, reason)
    return Plan(observation.project, tuple(w for w in (removes, releases) if w), hosts=observation.hosts)


def plan_release_run(project: str, one_off: OneOff, host: Optional[str], ip: str, reason: str) -> Plan:
    """Release the address of a one-off whose container was never made (its create failed)."""
    return Plan(project, ((Release(one_off, host, ip, reason),),))


def with_ended_runs(plan: Plan, observation: Observation) -> Plan:
    """``plan`` followed by the removal of the ended ``run --rm`` containers and their addresses."""
    removes, releases = removals(ended_runs(observation), "its run --rm ended")
    if not removes:
        return plan
    return replace(plan, waves=plan.waves + tuple(w for w in (removes, releases) if w))


def run_owners(containers: Iterable[ObservedContainer]) -> Dict[str, str]:
    """{address owner: host} of the one-off containers among ``containers``."""
    return {one_off.owner: c.host for c in containers for one_off in (one_off_of(c),) if one_off is not None}
