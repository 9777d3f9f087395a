"""Create the cluster's flat network on every host, or report how an existing one drifted.

A network that exists is never removed or recreated here: it may carry containers, and replacing it
would cut them off. Drift is reported per host for the operator to act on.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import docker.errors
import docker.types
import paramiko
import requests

from napcompose.executor import fan_out
from napcompose.adapters.sdk_errors import cause
from napcompose.errors import NapComposeError
from napcompose.model import Cluster, Host
from napcompose.network import (NetworkResult, create_arguments, desired_network, network_drift,
                                options_from_inspect)

_SDK_ERRORS = (docker.errors.DockerException, requests.RequestException, paramiko.SSHException, OSError)


def _without_host(host: Host, exc: Exception) -> str:
    """The error's text without the leading ``host: `` that HostError adds (results name the host)."""
    text = str(exc)
    return text[len(host.name) + 2:] if text.startswith(host.name + ": ") else text


def ensure_host_network(cluster: Cluster, host: Host, client) -> NetworkResult:
    """Make sure ``host`` (reached through the DockerClient ``client``) has the cluster network."""
    desired = desired_network(cluster.network, host)
    try:
        found = [n for n in client.api.networks(names=[desired.name]) if n.get("Name") == desired.name]
        if found:
            attrs = client.api.inspect_network(found[0]["Id"])
            drift = network_drift(desired, options_from_inspect(attrs))
            containers = len(attrs.get("Containers") or {})
            if drift:
                return NetworkResult(host.name, "drift", (
                    f"network {desired.name} differs from the cluster file ({containers} container(s) attached; "
                    "left as it is)"), drift)
            return NetworkResult(host.name, "present", f"network {desired.name} already as wanted")
        args = create_arguments(desired)
        pool = docker.types.IPAMPool(subnet=args["subnet"], gateway=args["gateway"],
                                     aux_addresses=args["aux_addresses"])
        client.api.create_network(args["name"], driver=args["driver"], options=args["options"],
                                  ipam=docker.types.IPAMConfig(driver="default", pool_configs=[pool]),
                                  check_duplicate=True)
        return NetworkResult(host.name, "created", (
            f"network {desired.name}: bridge {cluster.network.bridge}, subnet {desired.subnet}, "
            f"gateway {desired.gateway}, router {cluster.network.router}"))
    except NapComposeError as exc:
        return NetworkResult(host.name, "failed", _without_host(host, exc))
    except _SDK_ERRORS as exc:
        return NetworkResult(host.name, "failed", f"network {desired.name}: {cause(exc)}")


def ensure_cluster_network(cluster: Cluster, connections,
                           on_result: Optional[Callable[[NetworkResult], None]] = None) -> List[NetworkResult]:
    """Run ``ensure_host_network`` on every host in parallel; results come back in host order."""

    def one(host: Host) -> NetworkResult:
        try:
            client = connections.docker(host.name)
        except NapComposeError as exc:
            result = NetworkResult(host.name, "failed", _without_host(host, exc))
        else:
            result = ensure_host_network(cluster, host, client)
        if on_result is not None:
            on_result(result)
        return result

    results = fan_out(list(cluster.hosts), one, key=lambda h: h.name, max_workers=8)
    return [r.value if r.ok else NetworkResult(r.key, "failed", r.error or "") for r in results]
