"""The flat network as every host reports it: the one place ``network check`` and ``ipam ls --all`` ask."""

from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

from napcompose.clustermodel import Cluster, NetworkView
from napcompose.errors import without_host
from napcompose.parallel import fan_out
from napcompose.ports import ContainerEngine


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
