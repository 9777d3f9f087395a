"""The flat network as every host reports it: the one place that asks the hosts about it.

``observe_network`` gives the containers on the network (``network check``, ``ipam ls --all``, the
dashboard); ``observe_networks`` the network and the names resolver each host holds, what ``network
create`` and ``network rm`` plan from; ``observe_resolvers`` whether each resolver runs as the cluster
file asks (``network check``, ``hosts check``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from napcompose.clustermodel import Cluster, FoundNetwork, FoundResolver, HostBlock, NetworkView
from napcompose.errors import without_host
from napcompose.network.resolver import ResolverStatus, resolver_status
from napcompose.parallel import fan_out
from napcompose.ports import ContainerEngine, HostNetworks


def observe_network(cluster: Cluster, engines: Mapping[str, ContainerEngine],
                    max_workers: int = 16) -> Tuple[List[NetworkView], Dict[str, str]]:
    """Every host asked at once for the cluster network: the views of the hosts that answered, in host
    order, and the reason of each host that did not (without its name: callers name the host)."""
    names = [h.name for h in cluster.hosts]
    results = fan_out(names, lambda host: engines[host].network_view(cluster.network.name),
                      max_workers=max_workers)
    views = [r.value for r in results if r.ok]
    failed = {r.key: without_host(r.key, r.error or "failed") for r in results if not r.ok}
    return views, failed


@dataclass(frozen=True)
class HostNetworkState:
    """One host's cluster network and names resolver as its Docker holds them; ``error`` says why a
    host did not answer (without its name). ``resolver_image``: the digest the resolver's image there
    was made from, None when absent."""

    host: str
    network: Optional[FoundNetwork] = None
    resolver: Optional[FoundResolver] = None
    resolver_image: Optional[str] = None
    error: Optional[str] = None

    @property
    def reachable(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class NetworkObservation:
    """What ``network create`` and ``network rm`` plan from: every host block the store holds (address
    order) and the hosts asked (cluster order)."""

    cluster: Cluster
    blocks: Tuple[HostBlock, ...]
    hosts: Tuple[HostNetworkState, ...]


def observe_networks(cluster: Cluster, networks: HostNetworks, blocks: Sequence[HostBlock],
                     hosts: Optional[Sequence[str]] = None, resolvers: bool = False,
                     max_workers: int = 16) -> NetworkObservation:
    """Every host of ``cluster`` (or those named ``hosts``) asked at once for the cluster network and,
    with ``resolvers``, for the names resolver's container and image; ``blocks`` as read from the store."""
    names = [h.name for h in cluster.hosts if hosts is None or h.name in hosts]
    name = cluster.network.name

    def ask(host: str) -> HostNetworkState:
        found = networks.find_network(host, name)
        if not resolvers:
            return HostNetworkState(host, found)
        return HostNetworkState(host, found, networks.find_resolver(host), networks.resolver_image(host))

    results = fan_out(names, ask, max_workers=max_workers)
    states = tuple(r.value if r.ok else HostNetworkState(r.key, error=without_host(r.key, r.error or "failed"))
                   for r in results)
    return NetworkObservation(cluster, tuple(blocks), states)


def observe_resolvers(cluster: Cluster, networks: HostNetworks, image_digest: str,
                      max_workers: int = 16) -> List[ResolverStatus]:
    """The names resolver as every host runs it (``network check``, ``hosts check``): one ResolverStatus
    per host, in host order; ``failed`` with the reason for a host that did not answer."""
    spec = cluster.network.resolver
    results = fan_out(list(cluster.hosts), lambda host: resolver_status(spec, host, networks.find_resolver(host.name),
                                                                        image_digest),
                      key=lambda host: host.name, max_workers=max_workers)
    return [r.value if r.ok else ResolverStatus(r.key, "failed", without_host(r.key, r.error or "failed"))
            for r in results]
