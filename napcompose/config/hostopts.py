"""A service's host options (confinement, namespaces, devices, kernel tuning) and a build's engine options,
parsed into ServiceSpec and BuildSpec fields.

Each value is checked here so that a wrong one stops the load naming file, line, service and key,
rather than failing later on every host that runs a replica. What the engine alone can know (whether a
host has a device, a runtime, enough CPUs for a cpuset) is left to it: its error names the host.
"""

from __future__ import annotations

import ipaddress
import re

from napcompose.config import values
from napcompose.config.merge import as_list, as_mapping
from napcompose.model import BlkioConfig, Device, pairs

_CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
_CGROUP_RULE = re.compile(r"^[acb] (\d+|\*):(\d+|\*) [rwm]{1,3}$")
_PERMISSIONS = re.compile(r"^[rwm]{1,3}$")
_BLKIO_RATES = ("device_read_bps", "device_read_iops", "device_write_bps", "device_write_iops")


def _ranged(func, low, high):
    def parse(value):
        number = func(value)
        if not low <= number <= high:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."  # a number of 5000 digits
            raise values.ValueProblem(f"{shown} is out of range ({low} to {high})")
        return number
    return parse


def micros(value) -> int:
    """A CFS period or quota in microseconds: an integer, or a duration such as '400ms'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        # A bare number counts microseconds, as the engine does; a fraction of one cannot be sent.
        if value.is_integer():
            return int(value)
        raise values.ValueProblem(f"{value!r} is not a whole number of microseconds")
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return round(values.duration(value) * 1_000_000)
    except values.ValueProblem:
        raise values.ValueProblem(f"{value!r} is not a number of microseconds or a duration "
                                  "(write e.g. 100000 or '100ms')") from None


def swap_limit(value) -> int:
    """memswap_limit: a size, or -1 for unlimited swap."""
    if value in (-1, "-1"):
        return -1
    return values.byte_size(value)


def cpuset(value) -> str:
    text = str(value).strip()
    if not _CPUSET.match(text):
        raise values.ValueProblem(f"{value!r} is not a list of CPU numbers (write e.g. '0-2,4')")
    return text


def device(value) -> Device:
    """``/dev/x[:/dev/y[:rwm]]`` or the long form ``{source, target, permissions}``."""
    if isinstance(value, dict):
        source, target, perms = value.get("source"), value.get("target"), value.get("permissions")
    else:
        source, target, perms = (str(value).split(":") + [None, None])[:3]
        if str(value).count(":") > 2:
            raise values.ValueProblem(f"{value!r} is not a device (write 'host_path[:container_path[:rwm]]')")
    source = str(source or "")
    if not source.startswith("/"):
        # A CDI name (vendor.com/class=name) needs the engine's device requests, which are not sent.
        raise values.ValueProblem(f"{source!r} is not a device path (write an absolute path such as /dev/ttyUSB0; "
                                  "CDI device names are not supported by nap-compose)")
    target = str(target) if target else source
    if not target.startswith("/"):
        raise values.ValueProblem(f"container path {target!r} of device {source} is not absolute")
    perms = str(perms) if perms else "rwm"
    if not _PERMISSIONS.match(perms):
        raise values.ValueProblem(f"permissions {perms!r} of device {source} are not made of r, w and m")
    return Device(source=source, target=target, permissions=perms)


def cgroup_rule(value) -> str:
    text = str(value).strip()
    if not _CGROUP_RULE.match(text):
        raise values.ValueProblem(f"{value!r} is not a device cgroup rule (write e.g. 'c 188:* rmw')")
    return text


def link_local_ip(value) -> str:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise values.ValueProblem(f"{value!r} is not an IP address") from None
    if not address.is_link_local:
        raise values.ValueProblem(f"{value!r} is not a link-local address (169.254.0.0/16, fe80::/10)")
    return str(address)


def _blkio(ctx, raw):
    conf = raw.get("blkio_config")
    if conf is None:
        return None
    weight_of = _ranged(values.integer, 10, 1000)

    def rate_list(key, func):
        found = []
        for item in conf.get(key) or ():
            field = "weight" if key == "weight_device" else "rate"
            if not item.get("path") or item.get(field) is None:
                ctx.fail(f"blkio_config.{key}", f"each entry needs a path and a {field}")
            found.append((str(item["path"]), ctx.parse(f"blkio_config.{key}", func, item[field])))
        return tuple(found)

    weight = conf.get("weight")
    found = BlkioConfig(
        weight=None if weight is None else ctx.parse("blkio_config.weight", weight_of, weight),
        weight_device=rate_list("weight_device", weight_of),
        **{key: rate_list(key, values.byte_size if key.endswith("bps") else values.integer)
           for key in _BLKIO_RATES})
    return None if found == BlkioConfig() else found  # an empty blkio_config asks for nothing


def _one_of(ctx, key, raw, allowed, why):
    value = raw.get(key)
    if value is None:
        return None
    if str(value) not in allowed:
        ctx.fail(key, f"{value!r} is not supported: {why}")
    return str(value)


def _optional(ctx, key, func, value):
    return None if value is None else ctx.parse(key, func, value)


def service_options(ctx, raw) -> dict:
    """The ServiceSpec fields of the host options ``raw`` sets (``ctx`` is normalize.ServiceContext)."""
    limits = (((raw.get("deploy") or {}).get("resources") or {}).get("limits") or {})
    pids = raw.get("pids_limit", limits.get("pids"))
    pids_key = "pids_limit" if "pids_limit" in raw else "deploy.resources.limits.pids"
    strings = {key: tuple(str(v) for v in as_list(raw.get(key)))
               for key in ("security_opt", "group_add", "dns_opt")}
    for key, items in strings.items():
        if any(not item.strip() for item in items):
            ctx.fail(key, "an entry is empty")
    return dict(
        strings,
        pids_limit=_optional(ctx, pids_key, _ranged(values.integer, -1, 2 ** 63 - 1), pids),
        runtime=_optional(ctx, "runtime", str, raw.get("runtime")),
        # docker-py sends 'host' only for the user and UTS namespaces; without the key the engine's
        # default applies, which is what any other word would ask for.
        userns_mode=_one_of(ctx, "userns_mode", raw, ("host",), "the only user namespace mode is 'host' "
                            "(leave it out for the engine's default)"),
        cgroup=_one_of(ctx, "cgroup", raw, ("host", "private"), "write 'host' or 'private'"),
        uts=_one_of(ctx, "uts", raw, ("host",), "the only UTS namespace mode is 'host' "
                    "(leave it out for the engine's default)"),
        devices=tuple(ctx.parse("devices", device, d) for d in as_list(raw.get("devices"))),
        device_cgroup_rules=tuple(ctx.parse("device_cgroup_rules", cgroup_rule, r)
                                  for r in as_list(raw.get("device_cgroup_rules"))),
        cpu_shares=_optional(ctx, "cpu_shares", _ranged(values.integer, 0, 262144), raw.get("cpu_shares")),
        cpuset=_optional(ctx, "cpuset", cpuset, raw.get("cpuset")),
        **{key: _optional(ctx, key, micros, raw.get(key))
           for key in ("cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime")},
        oom_kill_disable=bool(_optional(ctx, "oom_kill_disable", values.boolean, raw.get("oom_kill_disable"))),
        oom_score_adj=_optional(ctx, "oom_score_adj", _ranged(values.integer, -1000, 1000),
                                raw.get("oom_score_adj")),
        mem_swappiness=_optional(ctx, "mem_swappiness", _ranged(values.integer, 0, 100),
                                 raw.get("mem_swappiness")),
        memswap_limit=_optional(ctx, "memswap_limit", swap_limit, raw.get("memswap_limit")),
        storage_opt=pairs(as_mapping(raw.get("storage_opt"))),
        cgroup_parent=_optional(ctx, "cgroup_parent", str, raw.get("cgroup_parent")),
        blkio=_blkio(ctx, raw),
    )


def build_options(ctx, build) -> dict:
    """The BuildSpec fields of a ``build`` mapping's engine options."""
    hosts = []
    for name, address in as_mapping(build.get("extra_hosts"), sep=":").items():
        if address is None or str(address).strip() == "":
            ctx.fail("build.extra_hosts", f"{name!r} needs an address (write 'name:address')")
        hosts.append((str(name).strip(), str(address).strip()))
    shm = build.get("shm_size")
    return dict(
        labels=pairs(as_mapping(build.get("labels"))),
        cache_from=tuple(str(c) for c in as_list(build.get("cache_from"))),
        network=None if build.get("network") is None else str(build["network"]),
        shm_size=None if shm is None else ctx.parse("build.shm_size", values.byte_size, shm),
        extra_hosts=tuple(sorted(hosts)),
        no_cache=ctx.parse("build.no_cache", values.boolean, build.get("no_cache", False)),
        pull=ctx.parse("build.pull", values.boolean, build.get("pull", False)),
    )
