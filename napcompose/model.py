"""Domain values of nap-compose: frozen dataclasses holding plain values, never clients.

Mappings are kept as sorted tuples of pairs so that every value is hashable and compares by content;
``as_dict`` helpers give them back as dicts where an adapter needs one. Nothing here does I/O.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Dict, Iterable, Mapping, Optional, Tuple

Pairs = Tuple[Tuple[str, str], ...]

# For the value types a run makes one of per replica (replicas, containers, addresses, actions, their
# outcomes): instances without a __dict__ (Python 3.10 and later). A 10,000-replica run keeps hundreds
# of thousands of them across a heap of hundreds of megabytes; an attribute read then touches the
# object alone, not the object and its dict, which took a fifth off a large `up` that changes nothing.
# Not for a type with a cached_property (it keeps its value in the instance's dict).
SLOTS = {"slots": True} if sys.version_info >= (3, 10) else {}

# The container states in which a container runs (or will again by itself): it is stopped before it
# is removed, renamed away or restarted.
RUNNING_STATES = ("running", "restarting", "paused")


class Names(tuple):
    """A tuple of names whose ``in`` is a set lookup: callers test membership inside loops."""

    def __new__(cls, names: Iterable[str] = ()):
        made = super().__new__(cls, names)
        made._set = frozenset(made)
        return made

    def __contains__(self, name) -> bool:
        try:
            return name in self._set
        except TypeError:  # an unhashable probe is in no tuple of strings
            return False


def first_by(items, key) -> Dict:
    """``{key(item): item}`` keeping the first item of each key, as a scan from the front would."""
    index: Dict = {}
    for item in items:
        index.setdefault(key(item), item)
    return index


def pairs(mapping) -> Pairs:
    """Return ``mapping`` (a dict or iterable of pairs) as a sorted tuple of (str, str) pairs."""
    items = mapping.items() if hasattr(mapping, "items") else mapping
    return tuple(sorted((str(k), "" if v is None else str(v)) for k, v in items))


# --------------------------------------------------------------------------- compose project


@dataclass(frozen=True)
class Link:
    """``links: [service:alias]``; ``alias`` equals ``service`` when none is given."""

    service: str
    alias: str


@dataclass(frozen=True)
class Dependency:
    """``depends_on``; condition is service_started, service_healthy or service_completed_successfully."""

    service: str
    condition: str = "service_started"
    restart: bool = False  # restart this service when the dependency is recreated (recorded, see docs)


@dataclass(frozen=True)
class PortSpec:
    """One published or exposed port; ranges are expanded into one PortSpec per port."""

    container_port: int
    protocol: str = "tcp"
    host_port: Optional[int] = None  # None: published on an ephemeral port
    host_ip: Optional[str] = None


@dataclass(frozen=True)
class NetworkAttachment:
    """A service's membership of a compose network (``networks:`` of a service)."""

    name: str
    ipv4_address: Optional[str] = None
    aliases: Tuple[str, ...] = ()
    link_local_ips: Tuple[str, ...] = ()  # extra link-local addresses of the container's endpoint
    # The cluster-wide name of the network when its definition is ``external`` or gives ``name:``:
    # it joins the services of every project that attach to that name (None: the project's own).
    shared: Optional[str] = None


@dataclass(frozen=True)
class Healthcheck:
    test: Tuple[str, ...] = ()
    interval_s: Optional[float] = None
    timeout_s: Optional[float] = None
    retries: Optional[int] = None
    start_period_s: Optional[float] = None
    disable: bool = False
    start_interval_s: Optional[float] = None  # the probe interval during start_period


@dataclass(frozen=True)
class BuildSpec:
    context: str  # absolute path after loading
    dockerfile: Optional[str] = None
    args: Pairs = ()
    target: Optional[str] = None
    labels: Pairs = ()  # labels of the built image
    cache_from: Tuple[str, ...] = ()  # images whose layers the build may reuse
    network: Optional[str] = None  # the network mode of the build's RUN steps
    shm_size: Optional[int] = None  # bytes of /dev/shm for the build's RUN steps
    extra_hosts: Pairs = ()  # (name, address) for the build's /etc/hosts
    no_cache: bool = False  # build every step afresh, as ``build --no-cache`` does
    pull: bool = False  # pull newer base images before building


@dataclass(frozen=True)
class LoggingSpec:
    driver: Optional[str] = None
    options: Pairs = ()


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class Device:
    """``devices``: a host device given to the container, at ``target``, with cgroup ``permissions``."""

    source: str
    target: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class BlkioConfig:
    """``blkio_config``: block IO weights and limits. Rates are (device path, bytes or operations per second)."""

    weight: Optional[int] = None
    weight_device: Tuple[Tuple[str, int], ...] = ()
    device_read_bps: Tuple[Tuple[str, int], ...] = ()
    device_read_iops: Tuple[Tuple[str, int], ...] = ()
    device_write_bps: Tuple[Tuple[str, int], ...] = ()
    device_write_iops: Tuple[Tuple[str, int], ...] = ()


@dataclass(frozen=True)
class PlacementSpec:
    """Where replicas may go: ``deploy.placement`` plus the ``x-nap`` extension."""

    constraints: Tuple[str, ...] = ()  # e.g. "node.hostname==node1", "node.labels.zone!=b"
    preferences: Tuple[str, ...] = ()  # e.g. "spread=node.labels.zone"
    max_per_host: Optional[int] = None
    strategy: Optional[str] = None  # spread | binpack | random; None: the project's default
    affinity: Tuple[str, ...] = ()  # services whose hosts this one prefers/needs
    anti_affinity: Tuple[str, ...] = ()  # services this one must not share a host with
    hosts: Tuple[str, ...] = ()  # fixed host names, in replica order


@dataclass(frozen=True)
class FileMount:
    """A service's use of a top-level ``configs:`` or ``secrets:`` entry: one file the container reads.

    ``file`` is the operator's file; ``data`` the value of ``content:`` or ``environment:`` (kept out of
    repr so that no trace or message ever shows a secret). ``origin`` is ``file:line`` of the definition.
    """

    kind: str  # config | secret
    name: str
    target: str  # absolute path inside the container
    mode: int
    uid: Optional[int] = None
    gid: Optional[int] = None
    file: Optional[str] = None
    env: Optional[str] = None  # the environment variable ``data`` came from
    data: Optional[bytes] = field(default=None, repr=False)
    origin: str = ""


class UpdateOrder(Enum):
    """Which copy of a replica serves while it is replaced: the old one stops first, or the new one
    starts first beside it. The values are the compose file's words."""

    STOP_FIRST = "stop-first"
    START_FIRST = "start-first"

    def __str__(self) -> str:
        return self.value


class FailureAction(Enum):
    """What a rolling update (or rollback) does once too many replicas failed their gate. The values
    are the compose file's words."""

    CONTINUE = "continue"
    PAUSE = "pause"
    ROLLBACK = "rollback"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class UpdateConfig:
    """How ``up`` replaces a changed service's containers (``deploy.update_config``), or how a
    rollback returns them (``deploy.rollback_config``).

    ``parallelism`` replicas per batch (0: all at once, as docker-compose does); ``delay_s`` between
    batches; ``order`` stop-first | start-first; ``monitor_s`` how long a new container without a
    healthcheck must keep running to pass; ``failure_action`` continue | pause | rollback;
    ``max_failure_ratio`` the share of failed replicas tolerated before the failure action applies.
    ``given``: the compose file asked for it (the service's ``deploy.update_config``, or defaults in
    the top-level ``x-nap``); an update nobody asked for, of a service without a healthcheck, is
    not rolled: its replicas are recreated at once, as docker-compose does (nothing to wait for).
    """

    parallelism: int = 1
    delay_s: float = 0.0
    order: UpdateOrder = UpdateOrder.STOP_FIRST
    monitor_s: float = 5.0
    failure_action: FailureAction = FailureAction.PAUSE
    max_failure_ratio: float = 0.0
    given: bool = field(default=True, compare=False)

    def __post_init__(self):
        # The compose file's words are taken as well as the members: both name one member.
        object.__setattr__(self, "order", UpdateOrder(self.order))
        object.__setattr__(self, "failure_action", FailureAction(self.failure_action))


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one registry, sent with a pull or push; the password never shows in a repr."""

    registry: str
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def auth_config(self) -> Dict[str, str]:
        """Docker's AuthConfig for the X-Registry-Auth header of one request."""
        if self.identity_token:
            return {"identitytoken": self.identity_token, "serveraddress": self.registry}
        return {"username": self.username, "password": self.password, "serveraddress": self.registry}


@dataclass(frozen=True)
class ServiceSpec:
    """One service of a project, normalised: interpolated, validated, defaults applied."""

    name: str
    image: Optional[str] = None
    build: Optional[BuildSpec] = None
    command: Optional[Tuple[str, ...]] = None
    entrypoint: Optional[Tuple[str, ...]] = None
    environment: Pairs = ()
    labels: Pairs = ()
    links: Tuple[Link, ...] = ()
    external_links: Tuple[Link, ...] = ()
    depends_on: Tuple[Dependency, ...] = ()
    volumes_from: Tuple[str, ...] = ()  # service names (``container:x`` kept verbatim)
    ports: Tuple[PortSpec, ...] = ()
    expose: Tuple[PortSpec, ...] = ()
    volumes: Tuple[str, ...] = ()  # "source:target[:mode]" or "target"
    hostname: Optional[str] = None
    domainname: Optional[str] = None
    extra_hosts: Pairs = ()  # (name, address)
    dns: Tuple[str, ...] = ()
    dns_search: Tuple[str, ...] = ()
    restart: Optional[str] = None
    networks: Tuple[NetworkAttachment, ...] = ()
    network_mode: Optional[str] = None
    ipc: Optional[str] = None
    pid: Optional[str] = None
    healthcheck: Optional[Healthcheck] = None
    scale: int = 1
    placement: PlacementSpec = field(default_factory=PlacementSpec)
    cpus: Optional[float] = None
    mem_limit: Optional[int] = None  # bytes
    mem_reservation: Optional[int] = None  # bytes
    container_name: Optional[str] = None
    user: Optional[str] = None
    working_dir: Optional[str] = None
    stop_signal: Optional[str] = None
    stop_grace_period_s: Optional[float] = None
    privileged: bool = False
    init: Optional[bool] = None
    tty: bool = False
    stdin_open: bool = False
    read_only: bool = False
    cap_add: Tuple[str, ...] = ()
    cap_drop: Tuple[str, ...] = ()
    ulimits: Tuple[Ulimit, ...] = ()
    sysctls: Pairs = ()
    tmpfs: Tuple[str, ...] = ()
    logging: Optional[LoggingSpec] = None
    shm_size: Optional[int] = None
    file_mounts: Tuple[FileMount, ...] = ()  # configs and secrets, in the order the service names them
    profiles: Tuple[str, ...] = ()  # the service runs only when one of them is active (or it is named)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    rollback: UpdateConfig = field(default_factory=UpdateConfig)
    # Host options of the container: confinement, namespaces, devices and kernel tuning. Each is sent
    # to the engine only when set (confighash leaves the unset ones out).
    security_opt: Tuple[str, ...] = ()
    group_add: Tuple[str, ...] = ()
    pids_limit: Optional[int] = None
    runtime: Optional[str] = None
    userns_mode: Optional[str] = None  # "host"
    cgroup: Optional[str] = None  # the cgroup namespace: "host" or "private"
    uts: Optional[str] = None  # "host"
    devices: Tuple[Device, ...] = ()
    device_cgroup_rules: Tuple[str, ...] = ()
    cpu_shares: Optional[int] = None
    cpuset: Optional[str] = None  # CPU numbers, "0-2,4"
    cpu_period: Optional[int] = None  # microseconds
    cpu_quota: Optional[int] = None  # microseconds
    cpu_rt_period: Optional[int] = None  # microseconds
    cpu_rt_runtime: Optional[int] = None  # microseconds
    oom_kill_disable: bool = False
    oom_score_adj: Optional[int] = None
    mem_swappiness: Optional[int] = None
    memswap_limit: Optional[int] = None  # bytes; -1 for unlimited swap
    storage_opt: Pairs = ()
    dns_opt: Tuple[str, ...] = ()
    cgroup_parent: Optional[str] = None
    blkio: Optional[BlkioConfig] = None
    pull_policy: Optional[str] = None  # always | missing | never | build; None: missing

    @property
    def named_volumes(self) -> Tuple[str, ...]:
        """The named volumes the service mounts (``data:/var/lib/data``), in order, each once.

        A source that is a path (``/``, ``.``, ``~``) is a bind mount, not a volume.
        """
        names = (v.split(":", 1)[0] for v in self.volumes if ":" in v)
        return tuple(dict.fromkeys(n for n in names if n and not n.startswith(("/", ".", "~"))))


@dataclass(frozen=True)
class VolumeDef:
    """A top-level named volume: its ``key`` in the file and the ``name`` Docker knows it by.

    ``<project>_<key>`` as docker-compose names it, unless the file gives ``name:``; an ``external``
    volume keeps its given name and is never removed by nap-compose.
    """

    key: str
    name: str
    external: bool = False


@dataclass(frozen=True)
class NetworkDef:
    """A top-level network: its ``key`` in the file, and the cluster-wide ``name`` it joins when the
    definition is ``external`` (``external: true``: the key; ``external: {name: x}``) or names itself
    (``name:``); None for the project's own network."""

    key: str
    name: Optional[str] = None
    external: bool = False


@dataclass(frozen=True)
class Project:
    """A whole compose project: its name, its services in name order, where it came from."""

    name: str
    services: Tuple[ServiceSpec, ...]
    source_files: Tuple[str, ...] = ()
    working_dir: str = "."
    strategy: str = "spread"  # x-nap.strategy at the top level
    seed: int = 0  # x-nap.seed, for the random strategy
    profiles: Tuple[str, ...] = ()  # every profile the files name, the inactive ones too
    disabled_services: Tuple[str, ...] = ()  # services left out because none of their profiles is active
    volumes: Tuple[VolumeDef, ...] = ()  # the top-level named volumes, by key
    networks: Tuple[NetworkDef, ...] = ()  # the top-level networks, by key

    # The indexes below are built on first use and kept on the instance (a frozen dataclass keeps
    # them out of its fields, so equality and hashing still compare the fields only).

    @cached_property
    def services_by_name(self) -> Mapping[str, ServiceSpec]:
        """Every service by name (the first one when a name repeats)."""
        return first_by(self.services, lambda s: s.name)

    def service(self, name: str) -> ServiceSpec:
        try:
            return self.services_by_name[name]
        except (KeyError, TypeError):
            raise KeyError(name) from None

    @cached_property
    def service_names(self) -> Tuple[str, ...]:
        """The service names in order; ``name in project.service_names`` is a set lookup."""
        return Names(s.name for s in self.services)


# --------------------------------------------------------------------------- runtime state


@dataclass(frozen=True, **SLOTS, order=True)
class Replica:
    """One container of a service: ``project_service_index`` (index counts from 1)."""

    project: str
    service: str
    index: int
    # Replicas key most of a run's maps (addresses, blocks, live containers): the hash is made once,
    # not a tuple of the three fields built at every look-up
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.project, self.service, self.index)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def name(self) -> str:
        return f"{self.project}_{self.service}_{self.index}"

    @property
    def label(self) -> str:
        """How progress lines, plans, errors and hosts files name it within its project: ``web_2``."""
        return f"{self.service}_{self.index}"

    @property
    def owner(self) -> str:
        """The IPAM owner key of this replica."""
        return f"{self.project}/{self.service}/{self.index}"


@dataclass(frozen=True, **SLOTS)
class Allocation:
    """One reserved address: who owns it, on which host, since when, under which allocation id."""

    ip: str
    owner: str  # project/service/index, or another owner string for manual reservations
    host: Optional[str]
    state: str  # reserved | bound
    since: float  # seconds since the epoch
    alloc_id: str
    generation: int = 1  # the copy of its replica bound to it (ObservedContainer.generation)


GENERATION_LABEL = "io.nap-compose.generation"


def parse_generation(text: Optional[str]) -> int:
    """A container's generation from its label: 1 when it has none (made before generations existed)
    or an unreadable one (nothing newer can then be mistaken for older)."""
    if text and text.isdigit() and int(text) >= 1:
        return int(text)
    return 1


def exit_code_of(status: str) -> Optional[int]:
    """The exit code in Docker's status words ("Exited (3) 5 seconds ago"); None for any other state.

    Docker's list view carries the code only there, so a run need not inspect each container."""
    if not status.startswith("Exited ("):
        return None
    code = status[len("Exited ("):].split(")", 1)[0]
    return int(code) if code.lstrip("-").isdigit() else None


@dataclass(frozen=True, **SLOTS)
class ObservedContainer:
    """A container as found on a host, rebuilt from its labels and state."""

    host: str
    id: str
    name: str
    replica: Optional[Replica]
    config_hash: Optional[str]
    state: str  # running | exited | created | restarting | paused | dead | unknown
    ip: Optional[str] = None
    alloc_id: Optional[str] = None
    health: Optional[str] = None
    ports: Tuple[str, ...] = ()  # rendered "0.0.0.0:80->80/tcp"
    image: Optional[str] = None
    one_off: bool = False
    image_id: Optional[str] = None  # the id of the image it was created from ("sha256:...")
    status: str = ""  # Docker's own words for the state: "Up 5 minutes", "Exited (0) 3 seconds ago"
    # Which copy of its replica this is: a replica moved off a lost host gets a higher one, so the
    # current copy is known when the old one shows up again. A container without the label is 1.
    generation: int = 1
    # What ``ps --format json`` shows besides, as Docker's list view gives it. ``exit_code`` is the
    # code of an exited container (read from its status), None while it runs or was never started.
    exit_code: Optional[int] = None
    command: str = ""
    created: int = 0  # seconds since the epoch
    labels: Tuple[Tuple[str, str], ...] = ()
    mounts: Tuple[str, ...] = ()  # each mount's volume name, or its source path for a bind
    local_volumes: int = 0  # mounts of volumes of the local driver
    networks: Tuple[str, ...] = ()


@dataclass(frozen=True, **SLOTS, order=True)
class BridgePort:
    """A container's port on its host's bridge (the host side of its veth) and the address and MAC
    the container was given: the only ones that port may send from."""

    ifname: str
    ip: str
    mac: str

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", self.ifname):
            raise ValueError(f"not an interface name: {self.ifname!r}")
        if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", self.mac):
            raise ValueError(f"not a MAC address: {self.mac!r}")
        if not re.fullmatch(r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}",
                            self.ip):
            raise ValueError(f"not an IPv4 address: {self.ip!r}")


@dataclass(frozen=True)
class ContainerEvent:
    """One container start, stop or die as a host's Docker engine reported it."""

    time: float  # seconds since the epoch, as the host's engine stamped it
    host: str
    container_id: str
    name: str
    action: str  # start | stop | die
    replica: Optional[Replica] = None  # from the container's compose labels, when it has them
    exit_code: Optional[int] = None  # for die
    # the actor attributes (image, name, labels) for `events`; not part of what makes two events equal
    attributes: Pairs = field(default=(), compare=False)


@dataclass(frozen=True)
class HostStatus:
    """Whether a host answered an observation; ``error`` holds the reason when it did not."""

    host: str
    reachable: bool
    error: Optional[str] = None


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Placement:
    """Which host runs each replica; ``assignments`` is sorted by replica."""

    assignments: Tuple[Tuple[Replica, str], ...] = ()

    @cached_property
    def host_by_replica(self) -> Mapping[Replica, str]:
        index: Dict[Replica, str] = {}
        for replica, host in self.assignments:
            index.setdefault(replica, host)
        return index

    def host_of(self, replica: Replica) -> str:
        try:
            return self.host_by_replica[replica]
        except (KeyError, TypeError):
            raise KeyError(getattr(replica, "name", replica)) from None

    @cached_property
    def replicas(self) -> Tuple[Replica, ...]:
        return tuple(r for r, _ in self.assignments)


@dataclass(frozen=True, **SLOTS)
class ContainerRequest:
    """Everything an engine needs to create one replica's container on its host.

    ``extra_hosts`` holds the peers' hosts entries given at create time so that a restarted
    container still resolves them; they are not part of ``config_hash``, so a scale of a
    linked service does not recreate its consumers.
    """

    replica: Replica
    host: str
    spec: ServiceSpec
    image: str
    network: str  # the cluster network's Docker name
    ip: str
    alloc_id: str
    config_hash: str
    labels: Pairs = ()  # every label to set: the service's own plus compose's and nap's
    extra_hosts: Pairs = ()  # (name, address), the service's own plus the peers'
    dns: Tuple[str, ...] = ()  # the host's names resolver, before the service's own servers
    dns_search: Tuple[str, ...] = ()  # the project's domain there, before the service's own

    @property
    def name(self) -> str:
        return self.spec.container_name or self.replica.name


@dataclass(frozen=True)
class ExecRequest:
    """A process ``exec`` runs in a running container: ``cmd`` is an argv, never a shell string.

    ``stdin``: the operator's stdin is attached (copied in, EOF at its end); ``tty``: a pseudo-terminal
    (one raw output stream, the operator's terminal sizes it); ``detach``: started and left running.
    """

    cmd: Tuple[str, ...]
    tty: bool = False
    stdin: bool = False
    env: Pairs = ()
    user: Optional[str] = None
    workdir: Optional[str] = None
    privileged: bool = False
    detach: bool = False


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, **SLOTS)
class Outcome:
    """What happened to one subject (a container, a host) in a run; ``skipped`` when never attempted."""

    subject: str
    action: str = ""
    host: Optional[str] = None
    error: Optional[str] = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RunReport:
    """Every outcome of a run, in the order they were decided."""

    outcomes: Tuple[Outcome, ...] = ()

    @property
    def failed(self) -> Tuple[Outcome, ...]:
        """Outcomes with an error, skipped ones included (they name the failed dependency)."""
        return tuple(o for o in self.outcomes if o.error is not None)

    @property
    def succeeded(self) -> Tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.error is None)
