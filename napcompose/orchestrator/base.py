"""What every orchestrator operation shares: the ports it holds, asking every host at once, reporting."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from napcompose.errors import HostError, NapComposeError
from napcompose.model import Allocation, Cluster, HostStatus, ObservedContainer, Outcome, Replica
from napcompose.ports import Clock, ContainerEngine, RemoteFiles, Reporter


def label(replica: Replica) -> str:
    """How progress lines and errors name a replica: ``web_2``."""
    return f"{replica.service}_{replica.index}"


def parse_owner(owner: str) -> Optional[Replica]:
    """The Replica an IPAM owner string ``project/service/index`` stands for, or None."""
    parts = owner.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return Replica(parts[0], parts[1], int(parts[2]))


class Core:
    """The ports an orchestrator works through, and the helpers all its operations use."""

    def __init__(self, cluster: Cluster, engines: Mapping[str, ContainerEngine],
                 files: Callable[[str], RemoteFiles], ipam, reporter: Reporter, clock: Clock,
                 max_workers: int = 16, health_timeout: float = 120.0, health_interval: float = 0.5):
        self.cluster = cluster
        self.engines = engines
        self.files = files
        self.ipam = ipam
        self.reporter = reporter
        self.clock = clock
        self.max_workers = max_workers
        self.health_timeout = health_timeout
        self.health_interval = health_interval
        self._ipam_lock = threading.Lock()

    def ipam_call(self, method: str, *args):
        """Call the Ipam from a worker thread: one call at a time, since it keeps caches of its own."""
        with self._ipam_lock:
            return getattr(self.ipam, method)(*args)

    # ------------------------------------------------------------------ observing
    def scan(self, project_name: Optional[str]) -> Tuple[List[ObservedContainer], Tuple[HostStatus, ...]]:
        """Every host's containers (of one project, or all nap-compose ones), asked in parallel.

        A host that fails to answer becomes a HostStatus with its reason, never an exception.
        """
        names = [h.name for h in self.cluster.hosts]

        def ask(name):
            return self.engines[name].list_containers(project_name)

        containers: List[ObservedContainer] = []
        statuses = []
        with ThreadPoolExecutor(max_workers=max(1, min(len(names), self.max_workers))) as pool:
            futures = {name: pool.submit(ask, name) for name in names}
            for name in names:
                try:
                    containers.extend(futures[name].result())
                    statuses.append(HostStatus(name, True))
                except NapComposeError as exc:
                    statuses.append(HostStatus(name, False, str(exc)))
        containers.sort(key=lambda c: (c.replica or Replica("", "", 0), c.host, c.name, c.id))
        return containers, tuple(statuses)

    def image_ids(self, wanted: Iterable[Tuple[str, str]]) -> Dict[Tuple[str, str], str]:
        """The current id of each (host, image reference), asked in parallel, one call per pair.

        Images are per host (built or copied on each), so each host is asked about its own. A host
        that fails to answer, or an image it does not hold, is simply left out: unknown, not changed.
        """
        pairs = sorted(set(wanted))
        found: Dict[Tuple[str, str], str] = {}
        if not pairs:
            return found

        def ask(pair):
            host, reference = pair
            return self.engines[host].image_id(reference)

        with ThreadPoolExecutor(max_workers=max(1, min(len(pairs), self.max_workers))) as pool:
            futures = {pair: pool.submit(ask, pair) for pair in pairs}
            for pair in pairs:
                try:
                    image_id = futures[pair].result()
                except NapComposeError:
                    continue
                if image_id:
                    found[pair] = image_id
        return found

    def project_allocations(self, project_name: str) -> Dict[Replica, Allocation]:
        found = {}
        for allocation in self.ipam.allocations():
            replica = parse_owner(allocation.owner)
            if replica is not None and replica.project == project_name:
                found[replica] = allocation
        return found

    def unknown_containers(self, project_name: str, down: Mapping[str, str],
                           allocations: Mapping[Replica, Allocation]) -> List[ObservedContainer]:
        """Stand-ins for the containers an unreachable host may hold, known from their allocations.

        They keep those replicas on their host (nothing is created twice) and make every action on
        them fail with the host's reason.
        """
        return [ObservedContainer(host=a.host, id="", name=r.name, replica=r, config_hash=None,
                                  state="unknown", ip=a.ip, alloc_id=a.alloc_id)
                for r, a in sorted(allocations.items()) if a.host in down]

    # ------------------------------------------------------------------ reporting
    @staticmethod
    def detail(host: str, ip: Optional[str]) -> str:
        return f"on {host} ({ip})" if ip else f"on {host}"

    def step(self, subject: str, action: str, host: str, ip: Optional[str], work: Callable[[], None]) -> None:
        """Run ``work`` between a started and a done/error progress line; errors propagate."""
        detail = self.detail(host, ip)
        self.reporter.progress(subject, action, "started", detail)
        try:
            work()
        except NapComposeError:
            self.reporter.progress(subject, action, "error", detail)
            raise
        self.reporter.progress(subject, action, "done", detail)

    @staticmethod
    def unreachable_error(host: str, reason: str) -> HostError:
        prefix = f"{host}: "
        return HostError(host, reason[len(prefix):] if reason.startswith(prefix) else reason)

    def outcome_with(self, outcome: Outcome, action: str, host: Optional[str]) -> Outcome:
        if outcome.skipped:
            where = f"on {host} " if host else ""
            self.reporter.progress(outcome.subject, action, "skipped", f"{where}({outcome.error})")
        return Outcome(outcome.subject, action, host, outcome.error, outcome.skipped)
