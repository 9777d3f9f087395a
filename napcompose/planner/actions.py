"""The closed set of things a run can do, as frozen values; a Plan is these actions in waves.

Every action names the host it happens on, why it is planned (``reason``), a unique ``key`` and the
keys it needs to have succeeded first (``after``). The executor picks each action's handler by its
type; ``verb`` is only the word progress lines use. A new capability is a new type here, a branch in
the planner that emits it, and a handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, ClassVar, Optional, Tuple, Union

from napcompose.ipam.fencing import Vacated
from napcompose.model import SLOTS, HostStatus, ObservedContainer, Placement, Replica, ServiceSpec
from napcompose.observe.pins import Pin
from napcompose.planner.daytwo_actions import Pause, RemoveVolume, Unpause
from napcompose.planner.network_actions import (NETWORK_TYPES, CreateNetwork, LoadResolverImage, RecreateNetwork,
                                                ReleaseBlock, RemoveNetwork, ReserveBlocks, RunResolver, StartResolver)
from napcompose.planner.isolation_actions import ApplyIsolation
from napcompose.planner.rolling_actions import RemovePrevious, RollBack, RollingUpdate
from napcompose.shipping.manifest import Shipped


@dataclass(frozen=True, **SLOTS, order=True)
class Unreserved:
    """The address of ``owner`` before the run's Reserve action gives it one.

    ``fixed`` is the address the compose file asks for (``ipv4_address``), when it names one.
    """

    owner: str
    fixed: Optional[str] = None

    def __str__(self) -> str:
        return self.fixed or "(new)"


Address = Union[str, Unreserved]  # a reserved address, or the promise of one


# ---------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Strand:
    """Before the replica reserves a new address: keep ``ip`` on the unreachable ``host`` for the copy
    left there, under the owner ``left_owner`` (ipam/stranding.py)."""

    left_owner: str
    host: str
    ip: str


@dataclass(frozen=True, **SLOTS)
class Reservation:
    replica: Replica
    host: str
    fixed: Optional[str]
    why: str
    strand: Optional[Strand] = None  # set when the replica leaves a lost host for a new address
    moved_from: Optional[str] = None  # the lost or evicted host the replica leaves


@dataclass(frozen=True)
class Reserve:
    """Reserve (or move to their new host / fixed address) the addresses of ``entries``, all or none.

    A failure here ends the run before anything else happens.
    """

    entries: Tuple[Reservation, ...]
    vacated: Optional[Vacated] = None  # what the observation proves about containers gone (ipam/fencing.py)
    reason: str = "addresses for new replicas"
    after: Tuple[str, ...] = ()
    host: Optional[str] = None  # the address book is the cluster's, not a host's
    verb: ClassVar[str] = "Reserving"
    kind: ClassVar[str] = "reserve"

    @property
    def key(self) -> str:
        return "addresses"

    @property
    def subject(self) -> str:
        return "addresses"


@dataclass(frozen=True)
class Release:
    """Give back the address ``ip`` that ``replica`` holds (recorded on ``host``).

    ``replica`` is None only for an ``owner`` that names no replica (``ipam reserve --owner`` takes
    any name). ``exact``: release ``ip`` itself, and only while ``owner`` holds it, not whatever
    address the owner holds now: ``ipam gc`` collects addresses, some of them strays that their
    owner's claim no longer names.
    """

    replica: Optional[Replica]
    host: Optional[str]
    ip: str
    reason: str
    after: Tuple[str, ...] = ()
    owner: Optional[str] = None  # another owner than the replica's: a stranded address of an old copy
    evicted: bool = False  # ``host`` is evicted: released although it does not answer
    exact: bool = False
    # The allocation this run saw (its id): the release leaves alone an address its owner holds
    # under another allocation now (reserved again by a later writer), whatever else happened.
    alloc_id: Optional[str] = None
    verb: ClassVar[str] = "Releasing"
    kind: ClassVar[str] = "release"

    @property
    def key(self) -> str:
        if self.exact:
            return f"release {self.ip}"
        return f"release {self.owner}" if self.owner else f"release {self.replica.label}"

    @property
    def subject(self) -> str:
        return self.replica.label if self.replica is not None else self.owner


# ---------------------------------------------------------------------------- images


@dataclass(frozen=True)
class BuildImage:
    """Build ``image`` from ``service``'s ``build:`` on ``host``; ``no_cache``: without the daemon's build cache."""

    service: str
    image: str
    host: str
    reason: str
    after: Tuple[str, ...] = ()
    no_cache: bool = False
    verb: ClassVar[str] = "Building"
    kind: ClassVar[str] = "build"

    @property
    def key(self) -> str:
        return image_key(self.image, self.host)

    @property
    def subject(self) -> str:
        return self.service


@dataclass(frozen=True)
class CopyImage:
    """Copy ``image`` from ``source`` to ``host`` (skipped when ``host`` already has the very image)."""

    service: str
    image: str
    source: str
    host: str
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Copying"
    kind: ClassVar[str] = "copy"

    @property
    def key(self) -> str:
        return image_key(self.image, self.host)

    @property
    def subject(self) -> str:
        return self.service


@dataclass(frozen=True)
class Pull:
    """Pull ``image`` onto ``host`` from its registry, with the operator's credentials for it.

    ``image`` is what the host runs: ``repository@sha256:…`` when pinned (observe/pins.py), so
    every host gets the same content; ``tag`` is the image as the compose file names it.
    """

    service: str
    image: str
    host: str
    reason: str
    tag: str = ""
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Pulling"
    kind: ClassVar[str] = "pull"

    @property
    def key(self) -> str:
        return image_key(self.image, self.host)  # what a Create on that host waits for

    @property
    def subject(self) -> str:
        return self.service


@dataclass(frozen=True)
class PushImage:
    """Push ``image`` (a tag) from ``host``'s daemon to the registry its name says, with the operator's
    credentials for it; hosts can then pull it instead of receiving copies."""

    service: str
    image: str
    host: str
    reason: str
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Pushing"
    kind: ClassVar[str] = "push"

    @property
    def key(self) -> str:
        return f"push {self.image}"

    @property
    def subject(self) -> str:
        return self.service


def image_key(image: str, host: str) -> str:
    """The key of the action that puts ``image`` on ``host``: what creating a container there needs."""
    return f"{image}@{host}"


# ---------------------------------------------------------------------------- containers


@dataclass(frozen=True, **SLOTS)
class _OnReplica:
    replica: Replica
    host: str
    reason: str
    after: Tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.replica.label

    @property
    def subject(self) -> str:
        return self.replica.label


@dataclass(frozen=True, **SLOTS)
class Create(_OnReplica):
    """Create the replica's container at ``address`` (and start it unless the run only creates)."""

    address: Address = ""
    healthy: bool = False  # wait until its healthcheck passes: a dependent needs service_healthy
    generation: int = 1  # the new container's copy number (ObservedContainer.generation)
    # wait until it exits, and fail unless with 0: a dependent needs service_completed_successfully
    completed: bool = False
    verb: ClassVar[str] = "Creating"
    kind: ClassVar[str] = "create"


@dataclass(frozen=True, **SLOTS)
class CreateOneOff(_OnReplica):
    """Create the one-off container ``replica`` (a ``run``'s, planner/run.py) from ``spec`` (the
    service as the run changes it) at ``address``; ``start``: start it too (a detached run)."""

    address: Address = ""
    spec: Optional[ServiceSpec] = None
    start: bool = False
    rm: bool = False  # run --rm: removed with its address once its run ended
    verb: ClassVar[str] = "Creating"
    kind: ClassVar[str] = "create one-off"


@dataclass(frozen=True, **SLOTS)
class Recreate(_OnReplica):
    """Remove ``container`` and create the replica again at ``address`` (same name, same address)."""

    address: Address = ""
    container: Optional[ObservedContainer] = None
    healthy: bool = False
    generation: int = 1
    completed: bool = False
    verb: ClassVar[str] = "Recreating"
    kind: ClassVar[str] = "recreate"


@dataclass(frozen=True, **SLOTS)
class Start(_OnReplica):
    container: Optional[ObservedContainer] = None
    healthy: bool = False
    completed: bool = False
    verb: ClassVar[str] = "Starting"
    kind: ClassVar[str] = "start"


@dataclass(frozen=True, **SLOTS)
class Keep(_OnReplica):
    """Nothing to change; a running container is still waited for when a dependent needs it healthy."""

    container: Optional[ObservedContainer] = None
    healthy: bool = False
    completed: bool = False  # a running job is still waited for until it exits 0
    verb: ClassVar[str] = "Keeping"
    kind: ClassVar[str] = "noop"


@dataclass(frozen=True, **SLOTS)
class Stop(_OnReplica):
    container: Optional[ObservedContainer] = None
    verb: ClassVar[str] = "Stopping"
    kind: ClassVar[str] = "stop"

    @property
    def key(self) -> str:
        return f"stop {self.replica.label}@{self.host}"


@dataclass(frozen=True, **SLOTS)
class Restart(_OnReplica):
    container: Optional[ObservedContainer] = None
    verb: ClassVar[str] = "Restarting"
    kind: ClassVar[str] = "restart"

    @property
    def key(self) -> str:
        return f"{self.replica.label}@{self.host}"


@dataclass(frozen=True, **SLOTS)
class Remove(_OnReplica):
    """Remove ``container``; ``stop``: stop it first when it runs; ``force``: remove it even running."""

    container: Optional[ObservedContainer] = None
    stop: bool = True
    force: bool = False
    volumes: bool = False  # its anonymous volumes go with it (rm -v)
    verb: ClassVar[str] = "Removing"
    kind: ClassVar[str] = "remove"

    @property
    def key(self) -> str:
        return f"{self.replica.label}@{self.host}"


@dataclass(frozen=True, **SLOTS)
class Kill(_OnReplica):
    container: Optional[ObservedContainer] = None
    signal: str = "SIGKILL"
    verb: ClassVar[str] = "Killing"
    kind: ClassVar[str] = "kill"


@dataclass(frozen=True, **SLOTS)
class AwaitReady(_OnReplica):
    """``--wait``: wait until the replica's container runs, and is healthy where ``healthcheck`` says
    its service has one; a ``completed`` job is ready once it exited 0. Runs after the hosts files
    are written, since a healthcheck may reach its peers by name."""

    healthcheck: bool = False
    completed: bool = False
    verb: ClassVar[str] = "Waiting for"
    kind: ClassVar[str] = "wait"

    @property
    def key(self) -> str:
        return f"ready {self.replica.label}"

    @property
    def goal(self) -> str:
        """What ready means for it, in the words of plans and errors."""
        if self.completed:
            return "exited with code 0"
        return "running and healthy" if self.healthcheck else "running"


# ---------------------------------------------------------------------------- hosts files


@dataclass(frozen=True, **SLOTS)
class WriteHosts:
    """Bring the managed block of every running container of the project on ``host`` up to date.

    The blocks are computed when this runs, from the containers that exist then, so a container
    that failed to be created is never listed as a peer. ``replicas`` is what the plan expects there.
    """

    host: str
    replicas: Tuple[Replica, ...]
    reason: str = "peers' addresses"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Updating hosts of"
    kind: ClassVar[str] = "hosts"

    @property
    def key(self) -> str:
        return f"hosts@{self.host}"

    @property
    def subject(self) -> str:
        return self.host


@dataclass(frozen=True, **SLOTS)
class WriteNames:
    """Bring the project's names file for the resolver on ``host`` up to date (one file per host).

    ``phase`` "before" runs ahead of the containers: the file then also lists the replicas the plan
    is about to create at their reserved addresses (so their peers find them at their first
    instant), and none the plan removes (they leave the names before they stop). "unstarted" runs
    ahead of the containers of a run that starts none (``up --no-start``): the serving replicas but
    those the plan stops, removes or recreates; none it creates. "after" runs with the hosts files and
    lists the replicas that serve when it runs.
    """

    host: str
    project: str
    phase: str = "after"
    reason: str = "names of the serving replicas"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Updating names on"
    kind: ClassVar[str] = "names"

    @property
    def key(self) -> str:
        return f"names-{self.phase}@{self.host}"

    @property
    def subject(self) -> str:
        return self.host


def names_writes(observation, phase: str = "after") -> Tuple[WriteNames, ...]:
    """A WriteNames per host that answered, when the cluster runs a resolver: every host's resolver
    serves every project's names, so a names change costs one file per host."""
    if observation.cluster.network.resolver is None:
        return ()
    return tuple(WriteNames(h.host, observation.project, phase) for h in sorted(observation.hosts, key=_host_of)
                 if h.reachable)


def _host_of(status) -> str:
    return status.host


# ---------------------------------------------------------------------------- project files


@dataclass(frozen=True)
class ShipFiles:
    """Put on ``host`` the copies of the shipped bind sources its replicas mount (only missing digests
    are sent). The Create/Recreate actions of those replicas there wait for it, so a failed copy skips
    exactly that host's containers. ``files`` holds one entry per (service, source)."""

    host: str
    project: str
    files: Tuple[Shipped, ...]
    reason: str = "bind sources, configs and secrets from the project"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Shipping"
    kind: ClassVar[str] = "ship"

    @property
    def key(self) -> str:
        return ship_key(self.host)

    @property
    def subject(self) -> str:
        return "files"


@dataclass(frozen=True)
class RemoveFiles:
    """Remove every shipped copy of ``project`` from ``host``, once its containers there are gone."""

    host: str
    project: str
    reason: str = "no container of the project is left"
    after: Tuple[str, ...] = ()
    verb: ClassVar[str] = "Removing"
    kind: ClassVar[str] = "remove files"

    @property
    def key(self) -> str:
        return f"remove files@{self.host}"

    @property
    def subject(self) -> str:
        return "files"


def ship_key(host: str) -> str:
    """The key of the action that puts the project's shipped files on ``host``."""
    return f"files@{host}"


Action = Union[Reserve, Release, BuildImage, CopyImage, Pull, PushImage, Create, Recreate, Start, Keep, Stop,
               Restart, Remove, Kill, WriteHosts, WriteNames, ShipFiles, RemoveFiles, RollingUpdate, RollBack,
               RemovePrevious, AwaitReady, Pause, Unpause, RemoveVolume, CreateOneOff, ApplyIsolation]
ACTION_TYPES = (Reserve, Release, BuildImage, CopyImage, Pull, PushImage, Create, Recreate, Start, Keep, Stop,
                Restart, Remove, Kill, WriteHosts, WriteNames, ShipFiles, RemoveFiles, RollingUpdate, RollBack,
                RemovePrevious, AwaitReady, Pause, Unpause, RemoveVolume, CreateOneOff, ApplyIsolation)
# the flat network's own actions (network create|rm; ipam gc's blocks): planner/network_actions.py
Action = Union[Action, ReserveBlocks, ReleaseBlock, CreateNetwork, RecreateNetwork, RemoveNetwork,  # type: ignore
               LoadResolverImage, StartResolver, RunResolver]
ACTION_TYPES = ACTION_TYPES + NETWORK_TYPES
CONTAINER_TYPES = (Create, Recreate, Start, Keep)  # what up decides per wanted replica


@dataclass(frozen=True)
class Plan:
    """A run: ``waves`` one after the other, each wave's actions in parallel across hosts.

    ``placement`` is where every wanted replica lives (what the hosts blocks and the created
    containers' peers are made of); ``current`` the project's containers the run starts from;
    ``hosts`` how each host answered the observation; ``orphans`` are containers of services no
    longer in the file, left alone (worth a warning).
    """

    project: str
    waves: Tuple[Tuple[Action, ...], ...] = ()
    placement: Placement = Placement()
    current: Tuple[ObservedContainer, ...] = ()
    hosts: Tuple[HostStatus, ...] = ()
    orphans: Tuple[ObservedContainer, ...] = ()
    # For display: what makes each replica's peers, ``hosts_lines``. They are made only when shown
    # (``--dry-run``, a rolling update's lines): a map of every service's peers is a tenth of a second
    # of a 10,000-replica `up`, and an `up` shows none of it.
    lines_of: Optional[Callable[[], Tuple[Tuple[Replica, Tuple[str, ...]], ...]]] = field(
        default=None, repr=False, compare=False)
    # For display: (volume, host, replica label, already on the host) of every named volume mounted.
    volumes: Tuple[Tuple[str, str, str, bool], ...] = ()
    # for display: the digest each registry image runs as, what the run leaves alone and why (lost hosts)
    notes: Tuple[str, ...] = ()
    pins: Tuple[Pin, ...] = ()  # the digest each registry image runs as: the executor creates from them

    @cached_property
    def hosts_lines(self) -> Tuple[Tuple[Replica, Tuple[str, ...]], ...]:
        """For display: each placed replica's hosts lines (its peers), made at the first ask."""
        return self.lines_of() if self.lines_of is not None else ()

    @property
    def actions(self) -> Tuple[Action, ...]:
        return tuple(a for wave in self.waves for a in wave)

    @property
    def down(self) -> Tuple[Tuple[str, str], ...]:
        """(host, reason) of every host that did not answer."""
        return tuple((h.host, h.error or "unreachable") for h in self.hosts if not h.reachable)
