"""What nap-compose does with each compose key it does not simply honour, and why.

Two kinds, so that no key is dropped without a word:

- REFUSED keys stop the load with a ConfigError naming file, line, service and key: running without
  them would be a different application, a less confined container, or a replica on a host that lacks
  what it needs.
- IGNORED keys are accepted with a warning naming the key and why: Windows options, descriptions, and
  settings the cluster decides itself (addresses, drivers, platforms), so that
  a container runs as the file means it to without them.

Every other key is honoured: host options such as ``security_opt``, ``devices`` or ``cpu_shares`` reach
the engine (napcompose/config/hostopts.py parses them).

Keys are dotted paths inside a service (``build.ssh``) or at the top level (``top:models``).
docs/compose.md has the same table for readers.
"""

from __future__ import annotations

from napcompose.errors import ConfigError

_NOT_SENT = "the container options nap-compose sends to the engine do not include it"
_BUILDKIT = "it needs BuildKit, and images are built here through the engine's classic build API"

REFUSED = {
    # service keys
    "develop": "watch mode (develop.watch) is unsupported: it syncs local files into containers, and "
               "here containers run on other hosts with nothing watching the files",
    "annotations": f"container annotations: {_NOT_SENT}; use labels",
    "attach": "up follows the logs of every service it starts; choosing which ones is not supported",
    "gpus": "placement knows nothing of the hosts' GPUs, so a replica could land on a host without one",
    "models": "there is no model runner on the cluster's hosts",
    "post_start": "lifecycle hooks are not run",
    "pre_stop": "lifecycle hooks are not run",
    "provider": "services managed by an external provider are not supported",
    "pull_refresh_after": "pull_policy refresh intervals are not applied: use up --pull always",
    "use_api_socket": "it would mount a host's Docker API socket and credentials into the container",
    "volumes_from": "it needs the other container on the same host, and replicas are placed across hosts; "
                    "share a named volume instead",
    "network_mode": "every container joins the cluster's flat network with an address of its own; a network "
                    "mode would take it off that network (host, none, bridge) or into another container's "
                    "namespace on a host it may not share",
    "net": "every container joins the cluster's flat network with an address of its own; a network mode would "
           "take it off that network or into another container's namespace on a host it may not share",
    # build
    "build.dockerfile_inline": "the engine is sent a context directory; write the Dockerfile into it",
    "build.additional_contexts": _BUILDKIT,
    "build.ssh": _BUILDKIT,
    "build.secrets": _BUILDKIT,
    "build.cache_to": _BUILDKIT,
    "build.entitlements": _BUILDKIT,
    "build.platforms": "images are built once, on one host, for that host's platform",
    "build.privileged": _BUILDKIT,
    "build.ulimits": "the classic build API used here takes no ulimits",
    "build.tags": "the image is tagged once, with the name nap-compose gives it for shipping to the hosts",
    # networks of a service
    "networks.*.interface_name": f"interface names: {_NOT_SENT}",
    "networks.*.mac_address": "addresses on the shared layer-2 network are managed by nap-compose",
    "networks.*.driver_opts": f"per-endpoint driver options: {_NOT_SENT}",
    "networks.*.gw_priority": f"gateway priorities: {_NOT_SENT}",
    # long-form volumes
    "volumes[].bind.recursive": f"recursive bind options: {_NOT_SENT}",
    "volumes[].bind.selinux": "write the label as a short-form option instead ('./src:/src:z')",
    "volumes[].volume.labels": "volume labels are set at the top level, on the volume's definition",
    "volumes[].volume.subpath": f"volume subpaths: {_NOT_SENT}",
    "volumes[].tmpfs.mode": "tmpfs mounts take their size only",
    "volumes[].image": f"image mounts: {_NOT_SENT}",
    # deploy: refused where 1.29.2 accepts them, because a replica could land on a host without them
    "deploy.resources.reservations.devices": "placement knows nothing of the hosts' devices, so a replica could land on a host without one",
    "deploy.resources.reservations.generic_resources": "placement knows nothing of such resources, so a replica could land on a host without them",
    # top level
    "top:models": "there is no model runner on the cluster's hosts",
    "network:enable_ipv4": "every network here is the cluster's IPv4 layer-2 network",
}

IGNORED = {
    "cpu_count": "a Windows option",
    "cpu_percent": "a Windows option",
    "credential_spec": "a Windows option",
    "isolation": "a Windows option",
    "mac_address": "addresses on the shared layer-2 network are managed by nap-compose",
    "platform": "images are pulled or built for the platform of the host that runs them",
    "volume_driver": "named volumes use each host's local driver",
    "build.isolation": "a Windows option",
    "deploy.endpoint_mode": "there is no virtual IP: each replica has its own address and /etc/hosts entry",
    "deploy.labels": "service labels are a Swarm notion; use labels for the containers",
    "deploy.restart_policy.delay": "the engine's restart policy has no delay",
    "deploy.restart_policy.window": "the engine's restart policy has no window",
    "deploy.resources.reservations.cpus": "CPUs are not reserved; limits.cpus (or cpus) is applied",
    "networks.*.ipv6_address": "every network here is IPv4",
    "networks.*.priority": f"{_NOT_SENT}",
    "volumes[].consistency": "a Docker Desktop option, without effect on Linux hosts",
}


_ONE_NETWORK = ("every container joins the cluster's one flat network, whose options nap-compose sets itself; "
                "a compose network's own options are not applied")
_LOCAL_VOLUME = "a named volume is created by the engine of each host that runs a replica, with its local driver"
_FILE_SHIPPED = "the file is shipped to the hosts by nap-compose; no swarm store is involved"

# Keys of top-level definitions, by section (a network's ipam.config[].subnet is used to check addresses;
# its ``external`` and ``name`` make it a network shared across projects: config/networks.py).
TOP_IGNORED = {
    "networks": {key: _ONE_NETWORK for key in (
        "driver", "driver_opts", "enable_ipv6", "attachable", "labels", "ipam.driver",
        "ipam.options", "ipam.config[].ip_range", "ipam.config[].gateway", "ipam.config[].aux_addresses")},
    "volumes": {key: _LOCAL_VOLUME for key in ("driver", "driver_opts", "labels")},
    "configs": {key: _FILE_SHIPPED for key in ("name", "labels", "template_driver")},
    "secrets": {key: _FILE_SHIPPED for key in ("name", "labels", "driver", "driver_opts", "template_driver")},
}


def check_definitions(sections, origins, warn):
    """Warn about TOP_IGNORED keys of the top-level definitions; refuse an internal network.

    ``internal: true`` promises isolation from the outside world that the cluster's network does not
    give, so it stops the load rather than quietly exposing the services.
    """
    for section, table in TOP_IGNORED.items():
        for name, body in sorted((sections.get(section) or {}).items()):
            if not isinstance(body, dict):
                continue
            where = origins.get((section, name), "")
            if section == "networks" and body.get("internal") not in (None, False, "false", "False"):
                raise ConfigError(f"{where}: network '{name}': internal: not supported by nap-compose: the "
                                  "cluster's network is not isolated from the outside, so an internal network "
                                  "cannot be given")
            for key, why in table.items():
                if key == "external" and section in ("configs", "secrets"):
                    continue
                if _present(body, key.split(".")):
                    warn(f"{section[:-1]} '{name}': '{key}' is ignored by nap-compose: {why}")


def ignored_in(raw) -> list:
    """(key, why) of every IGNORED key present in the service mapping ``raw``, in table order."""
    return [(key, why) for key, why in IGNORED.items() if _present(raw, key.split("."))]


def _present(node, parts) -> bool:
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    head = head[:-2] if many else head
    if head == "*":
        return isinstance(node, dict) and any(_present(v, rest) for v in node.values())
    if not isinstance(node, dict) or head not in node:
        return False
    value = node[head]
    if many:
        return isinstance(value, list) and any(_present(v, rest) for v in value)
    return _present(value, rest)
