"""What every orchestrator operation shares: the ports it holds and how it reports a step."""

from __future__ import annotations

import threading
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from napcompose.errors import HostError, NapComposeError
from napcompose.model import Allocation
from napcompose.clustermodel import Cluster
from napcompose.ports import AddressBook, Clock, ContainerEngine, ImageTransfer, RemoteFiles, Reporter


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


class Core:
    """The ports an orchestrator works through, and the reporting helpers all its operations use."""

    def __init__(self, cluster: Cluster, engines: Mapping[str, ContainerEngine],
                 files: Callable[[str], RemoteFiles], ipam: AddressBook, reporter: Reporter, clock: Clock,
                 max_workers: int = 16, health_timeout: float = 120.0, health_interval: float = 0.5,
                 images: Optional[ImageTransfer] = None, evictions=None):
        self.cluster = cluster
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

    @staticmethod
    def detail(host: Optional[str], ip: Optional[str]) -> str:
        where = f"on {host}" if host else ""
        return f"{where} ({ip})".strip() if ip else where

    @staticmethod
    def unreachable_error(host: str, reason: str) -> HostError:
        prefix = f"{host}: "
        return HostError(host, reason[len(prefix):] if reason.startswith(prefix) else reason)

    def step(self, subject: str, action: str, host: Optional[str], ip: Optional[str],
             work: Callable[[], None], done: str = "done") -> None:
        """Run ``work`` between a started and a done/error progress line; errors propagate."""
        detail = self.detail(host, ip)
        self.reporter.progress(subject, action, "started", detail)
        try:
            work()
        except NapComposeError:
            self.reporter.progress(subject, action, "error", detail)
            raise
        self.reporter.progress(subject, action, done, detail)
