"""The names resolver each host runs, as values: how it is started, and whether a found one is right.

The resolver is dnsmasq in a container on the host's network (``network_mode: host``), listening on
the host's own address on the flat network: that address is known before any container exists,
needs no address from the pool, and every container on the segment reaches it directly. It serves
the hosts-format files in the cluster's resolver directory (``--hostsdir``: dnsmasq rereads a file
there as soon as it changes), answers with a short TTL, keeps unknown names of the cluster's domain
to itself, and asks no one else unless the cluster file names upstream servers. Pure functions only;
``adapters/resolver.py`` makes the image and talks to Docker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Optional, Tuple

from napcompose.clustermodel import FoundResolver, Host, ResolverSpec

IMAGE = "nap-compose/resolver:latest"
CONTAINER = "nap-compose-resolver"
CONFIG_LABEL = "io.nap-compose.resolver-config"
MOUNT = "/names"  # the resolver directory as the container sees it (read-only)
LOCAL_TTL_S = 2


@dataclass(frozen=True)
class ResolverStatus:
    """The resolver on one host: ``status`` is ok, created, started, replaced, down or failed."""

    host: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "created", "started", "replaced")


def argv(spec: ResolverSpec, address: str) -> Tuple[str, ...]:
    """dnsmasq's arguments on a host whose address is ``address`` (all values checked by the cluster file)."""
    words = ["--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--user=root",
             "--pid-file=", "--log-facility=-", f"--listen-address={address}", "--bind-dynamic",
             f"--hostsdir={MOUNT}", f"--local-ttl={LOCAL_TTL_S}", "--domain-needed",
             f"--local=/{spec.domain}/"]
    words += [f"--server={server}" for server in spec.upstream]
    return tuple(words)


def config_digest(spec: ResolverSpec, host: Host, image_digest: str) -> str:
    """What the running container must match: its arguments, its directory and its image's digest."""
    text = json.dumps([list(argv(spec, host.address)), spec.host_directory(host.name), image_digest])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def serving(host: Host) -> str:
    """The detail of a resolver that serves on ``host``."""
    return f"dnsmasq on {host.address}:53"


def resolver_status(spec: ResolverSpec, host: Host, found: Optional[FoundResolver], image_digest: str) -> ResolverStatus:
    """Whether ``found`` (None: no resolver container) runs on ``host`` as the cluster file asks
    (``down`` with the reason when not)."""
    if found is None:
        return ResolverStatus(host.name, "down", f"no {CONTAINER} container")
    if not found.running:
        return ResolverStatus(host.name, "down", f"{CONTAINER} is {found.status or 'not running'}")
    if found.config != config_digest(spec, host, image_digest):
        return ResolverStatus(host.name, "down", f"{CONTAINER} runs another configuration or image")
    return ResolverStatus(host.name, "ok", serving(host))
