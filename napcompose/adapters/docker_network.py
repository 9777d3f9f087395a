"""Create the cluster's flat network on every host, or report how an existing one drifted; inspect it.

A network that exists is never removed or recreated unless asked (``recreate_empty``), and then
only where no container is attached: replacing it would cut its containers off. Each host's network
gets the host's block (reserved in the store first) as its ip-range.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Tuple

import docker.errors
import docker.types
import paramiko
import requests

from napcompose.parallel import fan_out
from napcompose.adapters.sdk_errors import cause
from napcompose.errors import HostError, NapComposeError
from napcompose.model import pairs
from napcompose.clustermodel import Cluster, Host, HostBlock
from napcompose.network.check import Endpoint, NetworkView
from napcompose.network.desired import NetworkResult, create_arguments, decide, desired_network, options_from_inspect

_SDK_ERRORS = (docker.errors.DockerException, requests.RequestException, paramiko.SSHException, OSError)


def _without_host(host: Host, exc: Exception) -> str:
    """The error's text without the leading ``host: `` that HostError adds (results name the host)."""
    text = str(exc)
    return text[len(host.name) + 2:] if text.startswith(host.name + ": ") else text


def _find(client, name: str) -> Optional[dict]:
    found = [n for n in client.api.networks(names=[name]) if n.get("Name") == name]
    return client.api.inspect_network(found[0]["Id"]) if found else None


def _attached(attrs: Mapping) -> Tuple[str, ...]:
    return tuple(sorted((c.get("Name") or cid[:12]) for cid, c in (attrs.get("Containers") or {}).items()))


def _create(client, desired) -> None:
    args = create_arguments(desired)
    pool = docker.types.IPAMPool(subnet=args["subnet"], iprange=args["ip_range"], gateway=args["gateway"],
                                 aux_addresses=args["aux_addresses"])
    client.api.create_network(args["name"], driver=args["driver"], options=args["options"],
                              ipam=docker.types.IPAMConfig(driver="default", pool_configs=[pool]),
                              check_duplicate=True)


def ensure_host_network(cluster: Cluster, host: Host, client, block: Optional[str] = None,
                        recreate_empty: bool = False) -> NetworkResult:
    """Make sure ``host`` (reached through the DockerClient ``client``) has the cluster network."""
    desired = desired_network(cluster.network, host, block)
    try:
        attrs = _find(client, desired.name)
        found = options_from_inspect(attrs) if attrs is not None else None
        action, result = decide(host.name, desired, found, _attached(attrs or {}), recreate_empty)
        if action == "recreate":
            client.api.remove_network(attrs["Id"])
        if action in ("create", "recreate"):
            _create(client, desired)
        return result
    except NapComposeError as exc:
        return NetworkResult(host.name, "failed", _without_host(host, exc), block=block)
    except _SDK_ERRORS as exc:
        return NetworkResult(host.name, "failed", f"network {desired.name}: {cause(exc)}", block=block)


def reserve_blocks(cluster: Cluster, store=None, clock=None) -> Dict[str, HostBlock]:
    """Every host's block, reserved in the cluster's store (opened here when ``store`` is None)."""
    from napcompose.adapters.system import SystemClock
    from napcompose.ipam.hostblocks import HostBlocks

    opened = None
    if store is None:
        from napcompose.adapters.stores import open_store

        store = opened = open_store(cluster.store)
    try:
        return HostBlocks(store, cluster.store.prefix, clock or SystemClock()).ensure(cluster)
    finally:
        if opened is not None and hasattr(opened, "close"):
            opened.close()


def _each_host(cluster: Cluster, connections, job, hosts=None) -> list:
    """``job(host, client)`` on every host (or those named) in parallel, in host order; a host that
    cannot be reached gives ``job``'s result for ``client=None`` with the error."""
    chosen = [h for h in cluster.hosts if hosts is None or h.name in hosts]

    def one(host: Host):
        try:
            client = connections.docker(host.name)
        except NapComposeError as exc:
            return job(host, None, _without_host(host, exc))
        return job(host, client, None)

    by_name = {h.name: h for h in chosen}
    return [r.value if r.ok else job(by_name[r.key], None, r.error or "failed")
            for r in fan_out(chosen, one, key=lambda h: h.name, max_workers=8)]


def ensure_cluster_network(cluster: Cluster, connections,
                           on_result: Optional[Callable[[NetworkResult], None]] = None,
                           blocks: Optional[Mapping[str, HostBlock]] = None,
                           recreate_empty: bool = False) -> List[NetworkResult]:
    """Run ``ensure_host_network`` on every host in parallel; results come back in host order.

    Without ``blocks`` the hosts' blocks are reserved in the cluster's store first.
    """
    if blocks is None:
        blocks = reserve_blocks(cluster)

    def job(host: Host, client, error) -> NetworkResult:
        block = blocks[host.name].cidr if host.name in blocks else None
        result = (NetworkResult(host.name, "failed", error, block=block) if client is None
                  else ensure_host_network(cluster, host, client, block, recreate_empty))
        if on_result is not None:
            on_result(result)
        return result

    return _each_host(cluster, connections, job)


def remove_host_network(cluster: Cluster, host: Host, client) -> NetworkResult:
    """Remove the cluster network from ``host``; refused (naming them) while containers are attached."""
    name = cluster.network.name
    try:
        attrs = _find(client, name)
        if attrs is None:
            return NetworkResult(host.name, "absent", f"no network {name}")
        containers = _attached(attrs)
        if containers:
            return NetworkResult(host.name, "failed", (
                f"network {name} is not removed: {len(containers)} container(s) attached ({', '.join(containers)})"))
        client.api.remove_network(attrs["Id"])
        return NetworkResult(host.name, "removed", f"network {name} removed")
    except _SDK_ERRORS as exc:
        return NetworkResult(host.name, "failed", f"network {name}: {cause(exc)}")


def remove_networks(cluster: Cluster, connections, hosts) -> List[NetworkResult]:
    def job(host, client, error):
        return NetworkResult(host.name, "failed", error) if client is None else remove_host_network(cluster, host, client)

    return _each_host(cluster, connections, job, hosts)


def _view(host: Host, client, name: str) -> NetworkView:
    attrs = _find(client, name)
    if attrs is None:
        return NetworkView(host.name, False)
    ip_range = options_from_inspect(attrs).ip_range
    # Running containers on the network, with their labels (the network's own inspect has no labels).
    endpoints = []
    for row in client.api.containers(filters={"network": name}):
        net = ((row.get("NetworkSettings") or {}).get("Networks") or {}).get(name) or {}
        names = row.get("Names") or []
        endpoints.append(Endpoint(host=host.name, container=(names[0].lstrip("/") if names else row["Id"][:12]),
                                  id=row["Id"], ip=net.get("IPAddress") or None,
                                  labels=pairs(row.get("Labels") or {})))
    return NetworkView(host.name, True, ip_range, tuple(sorted(endpoints, key=lambda e: e.container)))


def inspect_networks(cluster: Cluster, connections) -> Tuple[List[NetworkView], Dict[str, str]]:
    """The network as every host reports it, asked in parallel; and {host: error} of hosts that failed."""
    def job(host, client, error):
        if client is None:
            return host.name, error
        try:
            return _view(host, client, cluster.network.name)
        except HostError as exc:
            return host.name, _without_host(host, exc)
        except _SDK_ERRORS as exc:
            return host.name, cause(exc)

    views, failed = [], {}
    for got in _each_host(cluster, connections, job):
        if isinstance(got, NetworkView):
            views.append(got)
        else:
            failed[got[0]] = got[1]
    return views, failed
