"""The cluster's flat network and names resolver on each host's Docker (``ports.HostNetworks``); inspect it.

Each call works on one host; asking every host at once, and deciding what to create, replace or
leave alone, is the road's (observe/network.py, planner/network.py, execute/network.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Optional, Tuple

import docker.errors
import docker.types
import paramiko
import requests

from napcompose.adapters import binary_image, resolver
from napcompose.adapters.sdk_errors import cause
from napcompose.clustermodel import Cluster, Endpoint, FoundNetwork, FoundResolver, NetworkOptions, NetworkView
from napcompose.errors import HostError, NapComposeError
from napcompose.model import pairs
from napcompose.network.desired import create_arguments, options_from_inspect

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


class DockerNetworks:
    """ports.HostNetworks over each host's shared Docker client; ``built`` is the resolver's image made
    on this machine (needed only to load it into a host)."""

    def __init__(self, cluster: Cluster, connections, built=None):
        self._cluster = cluster
        self._connections = connections
        self._built = built
        self._hosts = {h.name: h for h in cluster.hosts}

    def _client(self, host: str):
        return self._connections.docker(host)

    def find_network(self, host: str, name: str) -> Optional[FoundNetwork]:
        with _calling(host, f"network {name}"):
            attrs = _find(self._client(host), name)
            if attrs is None:
                return None
            return FoundNetwork(attrs["Id"], options_from_inspect(attrs), _attached(attrs))

    def create_network(self, host: str, options: NetworkOptions) -> None:
        with _calling(host, f"network {options.name}"):
            _create(self._client(host), options)

    def remove_network(self, host: str, network_id: str) -> None:
        with _calling(host, f"network {self._cluster.network.name}"):
            self._client(host).api.remove_network(network_id)

    def find_resolver(self, host: str) -> Optional[FoundResolver]:
        with _calling(host, f"inspect {resolver.CONTAINER}"):
            return resolver.find(self._client(host), host)

    def resolver_image(self, host: str) -> Optional[str]:
        with _calling(host, f"inspect image {resolver.IMAGE}"):
            return binary_image.image_digest(self._client(host).api, resolver.IMAGE, host)

    def load_resolver_image(self, host: str) -> None:
        if self._built is None:
            raise NapComposeError(f"the resolver's image was not made on this machine for {host}")
        with _calling(host, f"import image {resolver.IMAGE}"):
            resolver.load(self._client(host), host, self._built)

    def start_resolver(self, host: str, container_id: str) -> None:
        with _calling(host, f"starting {resolver.CONTAINER}"):
            resolver.start(self._client(host), host, container_id)

    def run_resolver(self, host: str, config: str, replace: Optional[str] = None) -> None:
        with _calling(host, f"starting {resolver.CONTAINER}"):
            resolver.run(self._client(host), self._cluster.network.resolver, self._hosts[host], config, replace)


@contextmanager
def _calling(host: str, what: str) -> Iterator[None]:
    """SDK errors become a HostError naming the host and ``what``; ours pass through."""
    try:
        yield
    except NapComposeError:
        raise
    except _SDK_ERRORS as exc:
        raise HostError(host, f"{what}: {cause(exc)}") from exc


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
