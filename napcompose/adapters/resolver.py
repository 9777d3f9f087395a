"""The names resolver's image and container on a host's Docker: dnsmasq in a container nap-compose runs.

The image is made here, offline, from this machine's ``/usr/sbin/dnsmasq`` (Debian's dnsmasq-base)
and the libraries it links; it reaches the hosts through their Docker API (imported into the first
host that lacks it, then copied host to host as every other image). What the container runs and
whether a found one is right are values of ``napcompose.network.resolver``; here are the Docker calls.
"""

from __future__ import annotations

import os
from typing import Optional

from napcompose.adapters import binary_image
from napcompose.adapters.sdk_errors import cause, sdk_errors
from napcompose.clustermodel import FoundResolver, Host, ResolverSpec
from napcompose.errors import ConfigError, HostError
from napcompose.network.resolver import CONFIG_LABEL, CONTAINER, IMAGE, MOUNT, argv

__all__ = ["CONTAINER", "DNSMASQ", "IMAGE", "find", "image", "load", "run", "start"]

DNSMASQ = "/usr/sbin/dnsmasq"


def image() -> binary_image.BinaryImage:
    """The resolver's image: dnsmasq, its libraries, and the two files it reads at start."""
    if not os.path.isfile(DNSMASQ):
        raise ConfigError(f"the names resolver needs dnsmasq on this machine to build its image: "
                          f"{DNSMASQ} is missing (install Debian's dnsmasq-base, or turn the resolver off "
                          f"with `resolver: false` under the cluster file's network)")
    return binary_image.build(IMAGE, {DNSMASQ: DNSMASQ},
                              files={"/etc/passwd": b"root:x:0:0:root:/:/nonexistent\n",
                                     "/etc/group": b"root:x:0:\n"})


def find(client, host: str) -> Optional[FoundResolver]:
    """The resolver's container behind ``client`` (a DockerClient); None when there is none."""
    import docker.errors

    try:
        found = client.api.inspect_container(CONTAINER)
    except docker.errors.NotFound:
        return None
    except sdk_errors() as exc:
        raise HostError(host, f"inspect {CONTAINER}: {cause(exc)}") from exc
    state = found.get("State") or {}
    labels = (found.get("Config") or {}).get("Labels") or {}
    return FoundResolver(found["Id"], bool(state.get("Running")), state.get("Status") or "",
                         labels.get(CONFIG_LABEL))


def load(client, host: str, built: binary_image.BinaryImage) -> None:
    """Import ``built`` into the daemon behind ``client`` (nothing when it holds that digest already)."""
    binary_image.ensure(client.api, built, host, entrypoint=(DNSMASQ,))


def start(client, host: str, container_id: str) -> None:
    try:
        client.api.start(container_id)
    except sdk_errors() as exc:
        raise HostError(host, f"starting {CONTAINER}: {cause(exc)}") from exc


def run(client, spec: ResolverSpec, host: Host, config: str, replace: Optional[str] = None) -> None:
    """Create and start the resolver on ``host`` labelled ``config``; remove ``replace`` first."""
    api = client.api
    try:
        if replace is not None:
            api.remove_container(replace, force=True)
        host_config = api.create_host_config(
            network_mode="host", restart_policy={"Name": "unless-stopped"},
            binds={spec.host_directory(host.name): {"bind": MOUNT, "mode": "ro"}}, read_only=True)
        made = api.create_container(IMAGE, command=list(argv(spec, host.address)), name=CONTAINER,
                                    labels={CONFIG_LABEL: config}, host_config=host_config)
        api.start(made["Id"])
    except sdk_errors() as exc:
        raise HostError(host.name, f"starting {CONTAINER}: {cause(exc)}") from exc
