"""The names resolver on every host: dnsmasq in a container nap-compose runs and keeps.

The image is made here, offline, from this machine's ``/usr/sbin/dnsmasq`` (Debian's dnsmasq-base)
and the libraries it links; it reaches the hosts through their Docker API (imported into the first
host that lacks it, then copied host to host as every other image). The container runs with the
host's network (``network_mode: host``) and listens on the host's own address on the flat network:
that address is known before any container exists, needs no address from the pool, and every
container on the segment reaches it directly. It serves the hosts-format files in the cluster's
resolver directory (``--hostsdir``: dnsmasq rereads a file there as soon as it changes), answers with
a short TTL, keeps unknown names of the cluster's domain to itself, and asks no one else unless the
cluster file names upstream servers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from napcompose.adapters import binary_image
from napcompose.adapters.sdk_errors import cause, sdk_errors
from napcompose.clustermodel import Cluster, Host, ResolverSpec
from napcompose.errors import ConfigError, HostError, NapComposeError

DNSMASQ = "/usr/sbin/dnsmasq"
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


def image() -> binary_image.BinaryImage:
    """The resolver's image: dnsmasq, its libraries, and the two files it reads at start."""
    if not os.path.isfile(DNSMASQ):
        raise ConfigError(f"network.resolver needs dnsmasq on this machine to build the resolver's image: "
                          f"{DNSMASQ} is missing (install Debian's dnsmasq-base)")
    return binary_image.build(IMAGE, {DNSMASQ: DNSMASQ},
                              files={"/etc/passwd": b"root:x:0:0:root:/:/nonexistent\n",
                                     "/etc/group": b"root:x:0:\n"})


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


def put_image(cluster: Cluster, connections, built: binary_image.BinaryImage) -> dict:
    """The resolver's image on every host that answers: {host: error} for those where it could not go.

    Imported from this machine into the first host that lacks it, then copied from there (save →
    load) to the others, as images travel between hosts."""
    from napcompose.adapters.images import copy

    errors = {}
    lacking = []
    source: Optional[str] = None
    for host in cluster.hosts:
        try:
            if binary_image.image_digest(connections.docker(host.name).api, IMAGE, host.name) == built.digest:
                source = source or host.name
            else:
                lacking.append(host.name)
        except NapComposeError as exc:  # an unreachable host: reported, the others go on
            errors[host.name] = str(exc)
    for name in lacking:
        try:
            if source is None:
                binary_image.ensure(connections.docker(name).api, built, name, entrypoint=(DNSMASQ,))
                source = name
            else:
                copy(connections.docker(source), connections.docker(name), IMAGE, src_host=source, dst_host=name)
        except NapComposeError as exc:
            errors[name] = str(exc)
    return errors


def _container(client, host: str):
    import docker.errors

    try:
        return client.api.inspect_container(CONTAINER)
    except docker.errors.NotFound:
        return None
    except sdk_errors() as exc:
        raise HostError(host, f"inspect {CONTAINER}: {cause(exc)}") from exc


def inspect(cluster: Cluster, host: Host, client, image_digest: str) -> ResolverStatus:
    """Whether the resolver runs on ``host`` as the cluster file asks (``down`` with the reason when not)."""
    spec = cluster.network.resolver
    found = _container(client, host.name)
    if found is None:
        return ResolverStatus(host.name, "down", f"no {CONTAINER} container")
    state = found.get("State") or {}
    if not state.get("Running"):
        return ResolverStatus(host.name, "down", f"{CONTAINER} is {state.get('Status', 'not running')}")
    labels = (found.get("Config") or {}).get("Labels") or {}
    if labels.get(CONFIG_LABEL) != config_digest(spec, host, image_digest):
        return ResolverStatus(host.name, "down", f"{CONTAINER} runs another configuration or image")
    return ResolverStatus(host.name, "ok", f"dnsmasq on {host.address}:53")


def ensure(cluster: Cluster, host: Host, client, image_digest: str) -> ResolverStatus:
    """Start the resolver on ``host``, or repair it: start a stopped one, replace one made otherwise."""
    spec = cluster.network.resolver
    wanted = config_digest(spec, host, image_digest)
    found = _container(client, host.name)
    api = client.api
    try:
        if found is not None:
            labels = (found.get("Config") or {}).get("Labels") or {}
            if labels.get(CONFIG_LABEL) == wanted:
                if (found.get("State") or {}).get("Running"):
                    return ResolverStatus(host.name, "ok", f"dnsmasq on {host.address}:53")
                api.start(found["Id"])
                return ResolverStatus(host.name, "started", f"dnsmasq on {host.address}:53")
            api.remove_container(found["Id"], force=True)
        host_config = api.create_host_config(
            network_mode="host", restart_policy={"Name": "unless-stopped"},
            binds={spec.host_directory(host.name): {"bind": MOUNT, "mode": "ro"}}, read_only=True)
        made = api.create_container(IMAGE, command=list(argv(spec, host.address)), name=CONTAINER,
                                    labels={CONFIG_LABEL: wanted}, host_config=host_config)
        api.start(made["Id"])
    except sdk_errors() as exc:
        raise HostError(host.name, f"starting {CONTAINER}: {cause(exc)}") from exc
    status = "replaced" if found is not None else "created"
    return ResolverStatus(host.name, status, f"dnsmasq on {host.address}:53")
