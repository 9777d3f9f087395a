"""The cluster's values, as the cluster file describes them: hosts, the flat network, the store.

Frozen dataclasses holding plain values, like the rest of the model (napcompose.model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Optional, Tuple

from napcompose.model import Pairs, first_by


@dataclass(frozen=True)
class SshSpec:
    user: str = "root"
    port: int = 22
    key_file: Optional[str] = None
    known_hosts: Optional[str] = None  # None: the user's ~/.ssh/known_hosts
    # How long a TCP connection to the host may take before the host counts as down for the run: a
    # live host's kernel answers a SYN within a millisecond on a LAN, however loaded (early_tcp.py).
    connect_timeout_s: float = 1.0


@dataclass(frozen=True)
class Host:
    """A Docker host of the cluster: connection coordinates only."""

    name: str
    address: str
    docker_url: str  # ssh://user@addr, tcp://addr:2376 (TLS), unix:///path
    ssh: SshSpec = field(default_factory=SshSpec)
    labels: Pairs = ()
    tls_ca: Optional[str] = None
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    insecure_tcp: bool = False


@dataclass(frozen=True)
class ResolverSpec:
    """The names resolver nap-compose runs on every host (``network.resolver`` in the cluster file).

    It listens on the host's address on port 53 and serves ``<name>.<project>.<domain>`` from the
    files nap-compose writes into ``directory`` on that host; names it does not know go to
    ``upstream`` (none: it answers only its own names).
    """

    upstream: Tuple[str, ...] = ()
    directory: str = "/var/lib/nap-compose/names"
    domain: str = "nap"

    def host_directory(self, host: str) -> str:
        """The directory the resolver of ``host`` reads: one per host name, so hosts that share a
        file system (a lab on one machine, a shared /var/lib) never write one another's files."""
        return f"{self.directory}/{host}"


@dataclass(frozen=True)
class ClusterNetwork:
    """The flat network every host shares: a Docker bridge network whose Linux bridge is ``bridge``."""

    name: str
    subnet: str  # CIDR
    router: str  # the containers' default gateway (DefaultGatewayIPv4)
    pools: Tuple[str, ...]  # container ranges: CIDRs or "first-last"
    bridge: str = "br0"
    mtu: int = 1500
    reserved: Tuple[str, ...] = ()  # other addresses never handed out
    host_block: int = 28  # prefix length of each host's block (its network's ip-range)
    host_blocks: Tuple[str, ...] = ()  # where blocks are carved from; empty: the subnet's free space
    resolver: Optional[ResolverSpec] = None  # None (`resolver: false`): names come from the hosts files alone
    # Compose networks are isolation groups, enforced by a bridge filter on every host (isolation/),
    # as one Docker host keeps its networks apart; False (``isolation: false``): every container
    # reaches every other, and the hosts need no nftables.
    isolation: bool = True


@dataclass(frozen=True)
class HostBlock:
    """The part of the subnet owned by one host: Docker's own IPAM there gives addresses only from it."""

    host: str
    cidr: str  # e.g. 198.18.0.32/28
    since: float = 0.0
    version: int = 0  # the store's version of the record (orders concurrent reservations)


@dataclass(frozen=True)
class StoreSpec:
    """Where addresses are kept: ``etcd://h:p[,h:p]`` (v2 API), ``etcd3://h:p[,h:p]`` (v3 API) or ``file:///path``."""

    url: str
    prefix: str = "/nap-compose"
    ca_cert: Optional[str] = None
    cert: Optional[str] = None
    key: Optional[str] = None
    username: Optional[str] = None
    password: Optional[str] = None
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Cluster:
    hosts: Tuple[Host, ...]
    network: ClusterNetwork
    store: StoreSpec
    source: str = ""  # the cluster file's path
    accept_new_host_keys: bool = False
    lock_ttl_s: float = 30.0  # the project lock's lease; its holder renews it every third

    @cached_property
    def hosts_by_name(self) -> Mapping[str, Host]:
        return first_by(self.hosts, lambda h: h.name)

    def host(self, name: str) -> Host:
        try:
            return self.hosts_by_name[name]
        except (KeyError, TypeError):
            raise KeyError(name) from None


# Docker Compose's labels (nap-compose writes them too): they name a container's owner.
_PROJECT, _SERVICE, _NUMBER = ("com.docker.compose.project", "com.docker.compose.service",
                               "com.docker.compose.container-number")


@dataclass(frozen=True)
class Endpoint:
    """One container attached to the network on one host, as Docker reports it."""

    host: str
    container: str  # name
    id: str
    ip: Optional[str]
    labels: Tuple[Tuple[str, str], ...] = ()

    @property
    def owner(self) -> Optional[str]:
        """``project/service/n`` from compose labels, or None for a container started by other means."""
        labels = dict(self.labels)
        parts = (labels.get(_PROJECT), labels.get(_SERVICE), labels.get(_NUMBER))
        return "/".join(parts) if all(parts) else None


@dataclass(frozen=True)
class NetworkView:
    """The network on one host: its ip-range and the containers attached (None: the host has no such
    network)."""

    host: str
    exists: bool
    ip_range: Optional[str] = None
    endpoints: Tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class NetworkOptions:
    """The options of one host's cluster network, in Docker's terms."""

    name: str
    driver: str
    subnet: Optional[str]
    gateway: Optional[str]
    aux_addresses: Pairs = ()
    options: Pairs = ()
    ip_range: Optional[str] = None  # the host's block: Docker's own IPAM hands out only these

    def option(self, key: str) -> Optional[str]:
        return dict(self.options).get(key)


@dataclass(frozen=True)
class FoundNetwork:
    """The cluster network as one host's Docker holds it: its id, its options and the names of the
    containers attached (running ones: a stopped container holds no endpoint)."""

    id: str
    options: NetworkOptions
    attached: Tuple[str, ...] = ()


@dataclass(frozen=True)
class FoundResolver:
    """The names resolver's container on one host: ``config`` is the digest its label records
    (what it was made with), ``status`` Docker's word for its state."""

    id: str
    running: bool
    status: str = ""
    config: Optional[str] = None
