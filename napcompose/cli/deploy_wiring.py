"""Builds the Orchestrator for a deploy command, and turns its results into terminal output.

Everything that talks to hosts is opened once per command, lazily, and closed when the command
ends (``ctx.on_close``). The Reporter here is the only place progress reaches the terminal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, Mapping

from napcompose.errors import PartialFailure, without_host
from napcompose.cli.common import load_cluster


class CliReporter:
    """ports.Reporter writing one line per finished step: ``Creating web_2 on node3 (…) ... done``."""

    # Statuses that only say a step began; the terminal line comes with the step's end.
    _BEGIN = frozenset({"", "started", "starting", "running", "begin", "waiting"})

    def __init__(self, ctx):
        self._ctx = ctx
        self._lock = threading.Lock()

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        if status in self._BEGIN:
            return
        words = " ".join(part for part in (action, subject, detail) if part)
        with self._lock:
            self._ctx.err(f"{words} ... {status}")

    def warning(self, message: str) -> None:
        with self._lock:
            self._ctx.err(f"WARNING: {message}")


class LazyStore:
    """The cluster's KeyValueStore, opened (connected and checked) on its first use.

    ``ps``, ``logs`` and ``exec`` read the store only for the stand-ins of a host that did not
    answer, so most of their runs never open it; every other deploy command uses it at once (the
    project lock, the address book), where opening fails as it always did.
    """

    def __init__(self, opener):
        self._opener = opener
        self._store = None
        self._lock = threading.Lock()

    def _opened(self):
        with self._lock:
            if self._store is None:
                self._store = self._opener()
            return self._store

    def get(self, key):
        return self._opened().get(key)

    def create(self, key, value):
        return self._opened().create(key, value)

    def compare_and_swap(self, key, value, version):
        return self._opened().compare_and_swap(key, value, version)

    def compare_and_delete(self, key, version):
        return self._opened().compare_and_delete(key, version)

    def list(self, prefix):
        return self._opened().list(prefix)

    def close(self) -> None:
        """Close the store if it was ever opened; a store never used costs nothing to close."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None and hasattr(store, "close"):
            store.close()

    @property
    def create_all(self):
        """The store's multi-key create when it has one (ports.AtomicCreate), else None."""
        return getattr(self._opened(), "create_all", None)


@dataclass
class Deploy:
    """What a deploy command works with; built once per command by ``deploy_for``."""

    cluster: object
    connections: object
    engines: Mapping[str, object]
    ipam: object
    orchestrator: object
    reporter: CliReporter
    store: object = None  # the KeyValueStore the IPAM and the project lock share


def deploy_for(ctx, cluster=None) -> Deploy:
    """The cluster, its connections and engines, the IPAM and an Orchestrator over them."""
    from napcompose.ipam import Ipam, Pool
    from napcompose.ipam.evictions import Evictions
    from napcompose.orchestrator import Orchestrator

    cluster = cluster or load_cluster(ctx)
    accept = bool(ctx.args.accept_new_host_keys or cluster.accept_new_host_keys)
    connections = ctx.wiring.connections(cluster, accept_new_host_keys=accept)
    ctx.on_close(connections.close)
    engines: Dict[str, object] = {host.name: ctx.wiring.engine(host, connections) for host in cluster.hosts}
    clock = ctx.wiring.clock()
    store = LazyStore(lambda: ctx.wiring.store(cluster))
    ctx.on_close(store.close)  # registered before the lock, so it closes after the lock is released
    ipam = Ipam(store, Pool.from_cluster(cluster), cluster.store.prefix, clock, ctx.wiring.new_id)
    reporter = CliReporter(ctx)
    orchestrator = Orchestrator(cluster, engines, connections.files, ipam, reporter, clock,
                                images=ctx.wiring.images(connections, reporter),
                                evictions=Evictions(store, cluster.store.prefix, clock))
    return Deploy(cluster, connections, engines, ipam, orchestrator, reporter, store)


def raise_on_failures(report, what: str) -> None:
    """A RunReport with failures becomes one PartialFailure listing every one of them."""
    failed = list(report.failed)
    if not failed:
        return
    total = len(report.outcomes)
    lines = []
    for outcome in failed:
        host = outcome.host
        where = f" on {host}" if host and host != outcome.subject else ""
        reason = outcome.error or "skipped"
        if host:
            reason = without_host(host, reason)  # the line names the host already
        lines.append((f"{outcome.action} {outcome.subject}{where}".strip(), reason))
    raise PartialFailure(f"{what}: {len(failed)} of {total} steps failed", lines)
