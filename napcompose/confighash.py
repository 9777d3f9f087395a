"""The config hash of a service: what decides whether its containers must be recreated."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Dict, Tuple

from napcompose.model import BuildSpec, NetworkAttachment, ServiceSpec

# Fields that never reach a container's configuration: how many replicas there are and where they
# run. Peers' hosts entries are not in the spec at all (they are added to the request), so a scale
# of a linked service never changes a consumer's hash. How an update proceeds is no part of a
# container either: changing it must not start one; nor is when its image is pulled (the image
# itself is: a pulled tag is pinned to its digest in ``image`` before hashing).
# Profiles decide whether a service runs at all, never how its container is made.
_EXCLUDED = ("scale", "placement", "update", "rollback", "profiles", "pull_policy")

# Host options and build options honoured after containers were already running, by the class that
# holds them. Each counts only when it differs from its default.
_LATER = {
    ServiceSpec: ("security_opt", "group_add", "pids_limit", "runtime", "userns_mode", "cgroup", "uts", "devices",
                  "device_cgroup_rules", "cpu_shares", "cpuset", "cpu_period", "cpu_quota", "cpu_rt_period",
                  "cpu_rt_runtime", "oom_kill_disable", "oom_score_adj", "mem_swappiness", "memswap_limit",
                  "storage_opt", "dns_opt", "cgroup_parent", "blkio"),
    BuildSpec: ("labels", "cache_from", "network", "shm_size", "extra_hosts", "no_cache", "pull"),
    NetworkAttachment: ("link_local_ips", "shared"),
}


def _default(cls, name):
    return cls.__dataclass_fields__[name].default


def _drop_defaults(cls, data: dict) -> None:
    for name in _LATER[cls]:
        if name in data and data[name] == _default(cls, name):
            data.pop(name)


def _drop_unset_later_fields(data: dict) -> None:
    """Leave out fields added to the model after containers were already running, when unset.

    Otherwise every container started by an older nap-compose would look changed and be recreated.
    """
    for dependency in data.get("depends_on", ()):
        if not dependency.get("restart"):
            dependency.pop("restart", None)
    _drop_defaults(ServiceSpec, data)
    if data.get("build") is not None:
        _drop_defaults(BuildSpec, data["build"])
    for network in data.get("networks", ()):
        _drop_defaults(NetworkAttachment, network)
    healthcheck = data.get("healthcheck")
    if healthcheck is not None and healthcheck.get("start_interval_s") is None:
        healthcheck.pop("start_interval_s", None)


# id(spec) -> (spec, its hash): a run asks once per replica of the same (frozen) spec; the spec is
# kept, so its id is not reused while its entry lives
_MADE: Dict[int, Tuple[ServiceSpec, str]] = {}
_MADE_KEPT = 4096


def config_hash(spec: ServiceSpec) -> str:
    """sha256 (hex) of the canonical JSON of ``spec`` without scale, placement and the update settings."""
    found = _MADE.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    if len(_MADE) >= _MADE_KEPT:
        _MADE.clear()
    digest = _config_hash(spec)
    _MADE[id(spec)] = (spec, digest)
    return digest


def scoped_hash(spec: ServiceSpec, scoped: bool) -> str:
    """The config hash of ``spec``'s replicas. ``scoped``: names are scoped by isolation group (the
    resolver and isolation both on), so each container's resolv.conf searches its own groups'
    domains, which Docker writes at create time only: a container made under the other layout (the
    cluster turned isolation on or off) must be made again, so the layout is part of its hash."""
    digest = config_hash(spec)
    return hashlib.sha256(f"{digest} names scoped by group".encode()).hexdigest() if scoped else digest


def _config_hash(spec: ServiceSpec) -> str:
    data = dataclasses.asdict(spec)
    for name in _EXCLUDED:
        data.pop(name, None)
    _drop_unset_later_fields(data)
    # A config's or secret's value is hashed on its own first (never written anywhere as it is);
    # where its definition sits in the file does not reach the container.
    for mount in data.get("file_mounts", ()):
        value = mount.pop("data")
        mount.pop("origin", None)
        mount["data_sha256"] = None if value is None else hashlib.sha256(value).hexdigest()
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
