"""Create the cluster's flat network on one host, or report how an existing one drifted; inspect it.

Each function works on one host's Docker client; asking every host at once is the caller's job. A
network that exists is never removed or recreated unless asked (``recreate_empty``), and then
only where no container is attached: replacing it would cut its containers off. Each host's network
gets the host's block (reserved in the store first) as its ip-range.
"""

from __future__ import annotations

from typing import Mapping, Optional, Tuple

import docker.errors
import docker.types
import paramiko
import requests

from napcompose.adapters.sdk_errors import cause
from napcompose.errors import NapComposeError, without_host
from napcompose.model import pairs
from napcompose.clustermodel import Cluster, Host
from napcompose.clustermodel import Endpoint, NetworkView
from napcompose.network.desired import NetworkResult, create_arguments, decide, desired_network, options_from_inspect

_SDK_ERRORS = (docker.errors.DockerException, requests.RequestException, paramiko.SSHException, OSError)


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
        return NetworkResult(host.name, "failed", without_host(host.name, str(exc)), block=block)
    except _SDK_ERRORS as exc:
        return NetworkResult(host.name, "failed", f"network {desired.name}: {cause(exc)}", block=block)


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


def network_view(host: str, client, name: str) -> NetworkView:
    """The network ``name`` as the Docker behind ``client`` reports it; SDK errors propagate."""
    attrs = _find(client, name)
    if attrs is None:
        return NetworkView(host, False)
    ip_range = options_from_inspect(attrs).ip_range
    # Running containers on the network, with their labels (the network's own inspect has no labels).
    endpoints = []
    for row in client.api.containers(filters={"network": name}):
        net = ((row.get("NetworkSettings") or {}).get("Networks") or {}).get(name) or {}
        names = row.get("Names") or []
        endpoints.append(Endpoint(host=host, container=(names[0].lstrip("/") if names else row["Id"][:12]),
                                  id=row["Id"], ip=net.get("IPAddress") or None,
                                  labels=pairs(row.get("Labels") or {})))
    return NetworkView(host, True, ip_range, tuple(sorted(endpoints, key=lambda e: e.container)))
