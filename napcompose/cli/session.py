"""One command's hold on the cluster: the cluster file, the hosts' connections and the store.

Each is opened once per command, on first use, and closed when the command ends (``ctx.on_close``);
every command module reaches them through ``session_of(ctx)``, so a command never opens a second
store client or a second set of connections. The records kept in the store (addresses, host blocks,
evictions) are views over the one store client.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional

from napcompose.cli.common import load_cluster


class LazyStore:
    """The cluster's KeyValueStore, opened (connected and checked) on its first use.

    ``ps``, ``logs`` and ``exec`` read the store only for the stand-ins of a host that did not
    answer, so most of their runs never open it; every other command uses it at once (the project
    lock, the address book), where opening fails as it always did.
    """

    def __init__(self, opener):
        self._opener = opener
        self._store = None
        self._lock = threading.Lock()
        self._warming: Optional[threading.Thread] = None
        self._failure: Optional[BaseException] = None

    def warm(self) -> None:
        """Begin opening the store in the background, for a command that is sure to use it: the
        connection and its checks (a third of the way to the first container on a quiet lab) overlap
        the hosts' SSH handshakes. The first use waits for it, and raises what opening raised."""
        with self._lock:
            if self._store is not None or self._warming is not None:
                return
            self._warming = threading.Thread(target=self._open_in_background, name="store-open", daemon=True)
            self._warming.start()

    def _open_in_background(self) -> None:
        try:
            store = self._opener()
        except BaseException as exc:  # raised again by the first use, in the command's own order
            self._failure = exc
            return
        with self._lock:
            self._store = store

    def _waited(self) -> None:
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()

    def opened(self):
        """The store itself, opened now if it was not yet."""
        self._waited()
        with self._lock:
            if self._failure is not None:  # once: a later use opens afresh, as it would have
                failure, self._failure, self._warming = self._failure, None, None
                raise failure
            if self._store is None:
                self._store = self._opener()
            return self._store

    def get(self, key):
        return self.opened().get(key)

    def create(self, key, value):
        return self.opened().create(key, value)

    def compare_and_swap(self, key, value, version):
        return self.opened().compare_and_swap(key, value, version)

    def compare_and_delete(self, key, version):
        return self.opened().compare_and_delete(key, version)

    def list(self, prefix):
        return self.opened().list(prefix)

    def close(self) -> None:
        """Close the store if it was ever opened; a store never used costs nothing to close."""
        self._waited()
        with self._lock:
            store, self._store = self._store, None
        if store is not None and hasattr(store, "close"):
            store.close()

    @property
    def create_all(self):
        """The store's multi-key create when it has one (ports.AtomicCreate), else None."""
        return getattr(self.opened(), "create_all", None)


class Session:
    """The cluster, connections, engines and store of one command, each made on first use."""

    def __init__(self, ctx, cluster=None):
        self._ctx = ctx
        self._cluster = cluster
        self._connections = None
        self._engines: Optional[Dict[str, object]] = None
        self._store: Optional[LazyStore] = None
        self._clock = None
        self._bad = None

    @property
    def cluster(self):
        if self._cluster is None:
            self._cluster = load_cluster(self._ctx)
        return self._cluster

    @property
    def clock(self):
        if self._clock is None:
            self._clock = self._ctx.wiring.clock()
        return self._clock

    @property
    def connections(self):
        """One HostConnections for every host; it connects to a host when first asked for it."""
        if self._connections is None:
            cluster = self.cluster
            accept = bool(getattr(self._ctx.args, "accept_new_host_keys", False) or cluster.accept_new_host_keys)
            connections = self._ctx.wiring.connections(cluster, accept_new_host_keys=accept)
            if hasattr(connections, "close"):
                self._ctx.on_close(connections.close)
            self._connections = connections
        return self._connections

    @property
    def engines(self) -> Dict[str, object]:
        """Each host's ContainerEngine, over the shared connections."""
        if self._engines is None:
            connections = self.connections
            self._engines = {host.name: self._ctx.wiring.engine(host, connections) for host in self.cluster.hosts}
        return self._engines

    @property
    def store(self) -> LazyStore:
        """The one store client of the command. Its closer is registered when it is first asked for,
        so asking for it before taking the project lock closes it after the lock is given back."""
        if self._store is None:
            cluster = self.cluster
            self._store = LazyStore(lambda: self._ctx.wiring.store(cluster))
            self._ctx.on_close(self._store.close)
        return self._store

    @property
    def bad_records(self):
        """The store's records this command could not read: each is skipped, and warned about once."""
        if self._bad is None:
            from napcompose.ipam.records import BadRecords

            self._bad = BadRecords(lambda message: self._ctx.err(f"WARNING: {message}"))
        return self._bad

    def ipam(self):
        """The address book over the store."""
        from napcompose.ipam import Ipam, Pool

        cluster = self.cluster
        return Ipam(self.store, Pool.from_cluster(cluster), cluster.store.prefix, self.clock, self._ctx.wiring.new_id,
                    self.bad_records)

    def host_blocks(self):
        """Each host's block of the subnet, as recorded in the store."""
        from napcompose.ipam.hostblocks import HostBlocks

        return HostBlocks(self.store, self.cluster.store.prefix, self.clock, self.bad_records)

    def evictions(self):
        """The hosts the operator declared gone for good, as recorded in the store."""
        from napcompose.ipam.evictions import Evictions

        return Evictions(self.store, self.cluster.store.prefix, self.clock, self.bad_records)

    def _fence(self) -> None:
        """Before every changing step: the project lock this command holds is still its own
        (cli.locking's guard reads the record); read-only commands hold none."""
        guard = getattr(self._ctx, "project_lock", None)
        if guard is not None:
            guard.check()

    def networks(self, built=None):
        """The hosts' flat network and names resolver (ports.HostNetworks); ``built``: the resolver's
        image made on this machine, for the hosts that lack it."""
        return self._ctx.wiring.networks(self.cluster, self.connections, built)

    def orchestrator(self, reporter, ipam=None, networks=None):
        """An Orchestrator over this session's engines, files, store, host blocks and images (and
        ``networks``), reporting to ``reporter``."""
        from napcompose.adapters.docker_config import credentials
        from napcompose.orchestrator import Orchestrator

        connections = self.connections
        return Orchestrator(self.cluster, self.engines, connections.files, ipam or self.ipam(), reporter,
                            self.clock, images=self._ctx.wiring.images(connections, reporter),
                            evictions=self.evictions(), credentials=credentials(self._ctx.environ),
                            networks=networks, blocks=self.host_blocks(), fence=self._fence,
                            bridge_filter=self._ctx.wiring.bridge_filter(self.cluster, connections))


def session_of(ctx, cluster=None) -> Session:
    """The command's one Session, made at the first call (with ``cluster`` when the caller loaded it)."""
    session = getattr(ctx, "session", None)
    if session is None:
        session = Session(ctx, cluster)
        ctx.session = session
    return session

