"""What a run holds: the ports (``Core``) and the one ``RunState`` every handler of a run shares.

Every piece of state the handlers share is declared on ``RunState``, nowhere else: the project the
containers are created from, the run's options and plan, the addresses by replica (completed by
Reserve), ``live`` (the project's containers as the run changes them), the hosts that did not answer,
and the two locks that guard them. Handlers are plain functions of ``(state, action)``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

from napcompose.errors import HostError, NapComposeError, without_host
from napcompose.clustermodel import Cluster
from napcompose.model import Allocation, ObservedContainer, Project, RegistryAuth, Replica
from napcompose.names.startnames import StartNames
from napcompose.planner import Addresses, Options, Plan, is_previous
from napcompose.ports import AddressBook, BridgeFilter, Clock, ContainerEngine, ImageTransfer, RemoteFiles, Reporter

T = TypeVar("T")


class LockedAddressBook:
    """An AddressBook callable from worker threads: one call at a time, since the Ipam keeps caches."""

    def __init__(self, book: AddressBook):
        self.book = book
        self._lock = threading.Lock()

    def allocations(self) -> List[Allocation]:
        with self._lock:
            return self.book.allocations()

    def lookup(self, owner: str) -> Optional[Allocation]:
        with self._lock:
            return self.book.lookup(owner)

    def ensure_many(self, requests: Sequence[Tuple[str, Optional[str], Optional[str]]],
                    vacated=None) -> List[Allocation]:
        with self._lock:
            return self.book.ensure_many(requests, vacated)

    def mark_bound(self, owner: str, host: str, generation: int = 1) -> Allocation:
        with self._lock:
            return self.book.mark_bound(owner, host, generation)

    def mark_unbound(self, owner: str, host: str, generation: Optional[int] = None) -> Optional[Allocation]:
        with self._lock:
            return self.book.mark_unbound(owner, host, generation)

    def release(self, ip: str, owner: str) -> None:
        with self._lock:
            return self.book.release(ip, owner)

    def release_owner(self, owner: str) -> Optional[Allocation]:
        with self._lock:
            return self.book.release_owner(owner)

    def strand(self, owner: str, left_owner: str, host: str, ip: str) -> Allocation:
        with self._lock:
            return self.book.strand(owner, left_owner, host, ip)

    def unstrand(self, left_owner: str, owner: str, host: str, ip: str) -> Allocation:
        with self._lock:
            return self.book.unstrand(left_owner, owner, host, ip)


def detail(host: Optional[str], ip: Optional[str]) -> str:
    """The ``on HOST (IP)`` of a progress line."""
    where = f"on {host}" if host else ""
    return f"{where} ({ip})".strip() if ip else where


class Core:
    """The ports a run works through, and the reporting helpers all its handlers use."""

    def __init__(self, cluster: Cluster, engines: Mapping[str, ContainerEngine],
                 files: Callable[[str], RemoteFiles], ipam: AddressBook, reporter: Reporter, clock: Clock,
                 max_workers: int = 16, health_timeout: float = 120.0, health_interval: float = 0.5,
                 images: Optional[ImageTransfer] = None, evictions=None,
                 credentials: Optional[Callable[[str], Optional[RegistryAuth]]] = None,
                 networks=None, blocks=None, fence: Callable[[], None] = lambda: None,
                 bridge_filter: Optional[BridgeFilter] = None):
        self.cluster = cluster
        self.networks = networks  # ports.HostNetworks: the flat network and resolver (network create|rm)
        self.blocks = blocks  # ipam.hostblocks.HostBlocks: each host's block in the store
        # every host's bridge filter (isolation groups, anti-spoofing); None: no host is filtered
        self.bridge_filter = bridge_filter
        # Called before every action and step that changes something (an action's first step counts
        # as the action: ``fenced``): raises LockLostError once the project's
        # lock was taken over, so a run that stalled past its lease undoes nobody's work.
        self.fence = fence
        # set while an action's handler runs in this thread right after the executor fenced it: the
        # handler's first step needs no second look at the lock (a store read per action)
        self._fenced = threading.local()
        # registry -> the operator's credentials for it (sent with each pull, never stored on a host)
        self.credentials = credentials or (lambda registry: None)
        self.evictions = evictions  # ipam.evictions.Evictions, or None: no host is evicted
        self.engines = engines
        self.files = files
        self.ipam = ipam
        self.book = LockedAddressBook(ipam)
        self.images = images
        self.reporter = reporter
        self.clock = clock
        self.max_workers = max_workers
        self.health_timeout = health_timeout
        self.health_interval = health_interval

    detail = staticmethod(detail)

    @staticmethod
    def unreachable_error(host: str, reason: str) -> HostError:
        return HostError(host, without_host(host, reason))

    def fenced(self, handler: Callable[[], T]) -> T:
        """``handler()`` behind the fence: its first step in this thread passes the fence just passed."""
        self.fence()
        self._fenced.fresh = True
        try:
            return handler()
        finally:
            self._fenced.fresh = False

    def step(self, subject: str, action: str, host: Optional[str], ip: Optional[str],
             work: Callable[[], None], done: str = "done") -> None:
        """Run ``work`` between a started and a done/error progress line; errors propagate."""
        where = detail(host, ip)
        if getattr(self._fenced, "fresh", False):
            self._fenced.fresh = False  # the action's fence, a moment ago in this thread
        else:
            self.fence()
        self.reporter.progress(subject, action, "started", where)
        try:
            work()
        except NapComposeError:
            self.reporter.progress(subject, action, "error", where)
            raise
        self.reporter.progress(subject, action, done, where)

    def unchanged(self, subject: str, action: str, host: Optional[str], ip: Optional[str], done: str) -> None:
        """The progress lines of a step with nothing to do: the same as ``step``'s, without its fence
        (nothing changes, so a run whose lock was taken over undoes nobody's work by it)."""
        where = detail(host, ip)
        self.reporter.progress(subject, action, "started", where)
        self.reporter.progress(subject, action, done, where)


@dataclass
class RunState:
    """One run of one Plan: what its handlers read and change, from the worker threads of its waves.

    ``live`` is read and changed only under ``lock`` (``set_live``, ``live_of``, ``snapshot``).
    ``allocations`` is written by one handler per replica at a time (its replica's actions are
    ordered by the plan). ``hosts_writes`` lets one hosts pass run at a time within the run: two
    rolling updates of one wave must not interleave their writes of one file; ``filters`` likewise
    for the bridge filters' loads.
    """

    core: Core
    project: Project  # with the binds the plan ships pointed at their copies
    options: Options
    plan: Plan
    allocations: Dict[Replica, Allocation]
    live: Dict[Replica, ObservedContainer]
    down: Dict[str, str]  # host -> why it did not answer
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    hosts_writes: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # one bridge-filter load at a time: a load made from older records must not land after a newer one
    filters: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # (how many allocations, StartNames): the create-time names built once per set of addresses
    _names: list = field(default_factory=list, repr=False)
    # kind -> (the version of ``live``, the live containers, what was made of them): see shared_view
    _views: dict = field(default_factory=dict, repr=False)
    _version: int = field(default=0, repr=False)  # counts the changes of ``live``
    _view_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # the containers created while the wave before theirs ran (execute/ahead.py): ``take(action)``
    ahead: Optional[object] = field(default=None, repr=False)
    # the resolver directories' listings read beside the reservations (names.ListingsAhead): ``take(host)``
    listings: Optional[object] = field(default=None, repr=False)

    @classmethod
    def of(cls, core: Core, project: Project, options: Options, plan: Plan, addresses: Addresses) -> "RunState":
        live: Dict[Replica, ObservedContainer] = {}
        for container in plan.current:
            # kept for a rollback, or a one-off of its service: not what the replica runs
            if not is_previous(container) and not container.one_off:
                live.setdefault(container.replica, container)
        return cls(core, project, options, plan, addresses.by_replica, live, dict(plan.down))

    def set_live(self, replica: Replica, container: Optional[ObservedContainer],
                 only_if: Optional[ObservedContainer] = None) -> None:
        """``replica`` now runs ``container`` (None: nothing); with ``only_if``, only while it still
        runs that very one (a newer change by another handler wins)."""
        with self.lock:
            if only_if is not None and self.live.get(replica) is not only_if:
                return
            self._version += 1
            if container is None:
                self.live.pop(replica, None)
            else:
                self.live[replica] = container

    def live_of(self, replica: Replica, fallback: Optional[ObservedContainer]) -> Optional[ObservedContainer]:
        with self.lock:
            return self.live.get(replica, fallback)

    def start_names(self) -> StartNames:
        """The create-time names over the plan's placed replicas and their addresses, built once.

        Addresses stay with their replica for the whole run (Reserve completes them before any
        create), so the names are rebuilt only when more replicas have an address than last time.
        """
        with self.lock:
            if not self._names or self._names[0] != len(self.allocations):
                peers = [r for r in self.plan.placement.replicas if r in self.allocations]
                # with a resolver, it answers the bare service names with every serving replica
                names = StartNames(self.project, {r: self.allocations[r].ip for r in peers},
                                   services=self.core.cluster.network.resolver is None)
                self._names[:] = [len(self.allocations), names]
            return self._names[1]

    def snapshot(self) -> List[ObservedContainer]:
        """The live containers as they stand now, for a hosts pass."""
        with self.lock:
            return list(self.live.values())

    def shared_view(self, kind: str, make: Callable[[List[ObservedContainer]], T]) -> Tuple[List[ObservedContainer], T]:
        """(the live containers now, ``make`` of them), made once per ``kind`` while they stay the
        same: the passes of one wave, one per host, each read the same peers (``make`` must be the
        same function of the containers, and of what ``kind`` names, at every call)."""
        with self._view_lock:
            with self.lock:
                version = self._version
                found = self._views.get(kind)
                if found is not None and found[0] == version:
                    return found[1], found[2]
                live = list(self.live.values())
            made = make(live)
            self._views[kind] = (version, live, made)
            return live, made
