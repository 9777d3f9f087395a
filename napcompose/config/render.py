"""A Project back to a compose file (spec format, YAML or JSON): what ``nap-compose config`` prints.

The output is deterministic and re-reads to the same Project: every ``$`` is written as ``$$`` because
the reader interpolates again.
"""

from __future__ import annotations

import json

import yaml

from dataclasses import replace

from napcompose.config.volumes import key_of


def _s(value):
    return value.replace("$", "$$") if isinstance(value, str) else value


def _seconds(value):
    return None if value is None else f"{value!r}s"


def _word(member):
    return member.value  # an enumeration's member, as the compose file spells it


def _update_keys(config) -> dict:
    """The keys of an UpdateConfig that differ from the defaults, as a compose file writes them."""
    default = type(config)()
    found = {}
    for key, field, form in (("parallelism", "parallelism", None), ("delay", "delay_s", _seconds),
                             ("order", "order", _word), ("monitor", "monitor_s", _seconds),
                             ("failure_action", "failure_action", _word),
                             ("max_failure_ratio", "max_failure_ratio", None)):
        value = getattr(config, field)
        if value != getattr(default, field):
            found[key] = form(value) if form else value
    return found


def _port(p):
    text = f"{p.container_port}/{p.protocol}"
    if p.host_port is not None or p.host_ip:
        host = "" if p.host_port is None else str(p.host_port)
        ip = p.host_ip or ""
        if ":" in ip:
            ip = f"[{ip}]"
        text = f"{ip + ':' if ip else ''}{host}:{text}"
    return text


def _service(spec):
    out = {}

    def put(key, value):
        if value not in (None, (), [], {}, False):
            out[key] = value

    put("image", _s(spec.image))
    if spec.build:
        b = spec.build
        put("build", {k: v for k, v in (("context", _s(b.context)), ("dockerfile", _s(b.dockerfile)),
                                        ("args", {k: _s(v) for k, v in b.args}), ("target", _s(b.target)),
                                        ("labels", {k: _s(v) for k, v in b.labels}),
                                        ("cache_from", [_s(c) for c in b.cache_from]), ("network", _s(b.network)),
                                        ("shm_size", b.shm_size),
                                        ("extra_hosts", [_s(f"{n}:{a}") for n, a in b.extra_hosts]),
                                        ("no_cache", b.no_cache or None), ("pull", b.pull or None))
                      if v not in (None, {}, [])})
    if spec.command is not None:
        out["command"] = [_s(a) for a in spec.command]
    if spec.entrypoint is not None:
        out["entrypoint"] = [_s(a) for a in spec.entrypoint]
    put("environment", {k: _s(v) for k, v in spec.environment})
    put("labels", {k: _s(v) for k, v in spec.labels})
    put("links", [_s(f"{l.service}:{l.alias}") for l in spec.links])
    put("external_links", [_s(f"{l.service}:{l.alias}") for l in spec.external_links])
    put("depends_on", {d.service: dict({"condition": d.condition}, **({"restart": True} if d.restart else {}))
                       for d in spec.depends_on})
    put("profiles", list(spec.profiles))
    put("volumes_from", [_s(v) for v in spec.volumes_from])
    put("ports", [_port(p) for p in spec.ports])
    put("expose", [f"{p.container_port}/{p.protocol}" for p in spec.expose])
    put("volumes", [_s(v) for v in spec.volumes])
    for key in ("hostname", "domainname", "restart", "network_mode", "ipc", "pid", "container_name", "user",
                "working_dir", "stop_signal", "pull_policy"):
        put(key, _s(getattr(spec, key)))
    put("extra_hosts", [_s(f"{n}:{a}") for n, a in spec.extra_hosts])
    put("dns", [_s(v) for v in spec.dns])
    put("dns_search", [_s(v) for v in spec.dns_search])
    if spec.network_mode is None and tuple(n.name for n in spec.networks) != ("default",) or any(
            n.ipv4_address or n.aliases or n.link_local_ips for n in spec.networks):
        out["networks"] = {n.name: ({k: v for k, v in (("ipv4_address", n.ipv4_address),
                                                        ("aliases", [_s(a) for a in n.aliases]),
                                                        ("link_local_ips", list(n.link_local_ips))) if v} or None)
                           for n in spec.networks}
    hc = spec.healthcheck
    if hc is not None:
        out["healthcheck"] = {k: v for k, v in (
            ("test", [_s(t) for t in hc.test]), ("interval", _seconds(hc.interval_s)),
            ("timeout", _seconds(hc.timeout_s)), ("retries", hc.retries),
            ("start_period", _seconds(hc.start_period_s)), ("start_interval", _seconds(hc.start_interval_s)),
            ("disable", hc.disable)) if v not in (None, [])}
    out["scale"] = spec.scale
    pl = spec.placement
    placement = {k: v for k, v in (("constraints", [_s(c) for c in pl.constraints]),
                                   ("preferences", [{"spread": _s(p.split("=", 1)[1])} for p in pl.preferences]))
                 if v}
    if placement:
        out["deploy"] = {"placement": placement}
    for key, config in (("update_config", spec.update), ("rollback_config", spec.rollback)):
        changed = _update_keys(config)
        if changed or (key == "update_config" and config.given):  # given, even empty: the update rolls
            out.setdefault("deploy", {})[key] = changed
    nap = {k: v for k, v in (("strategy", pl.strategy), ("hosts", list(pl.hosts)), ("affinity", list(pl.affinity)),
                             ("anti_affinity", list(pl.anti_affinity)), ("max_per_host", pl.max_per_host))
           if v not in (None, [])}
    put("x-nap", nap)
    put("cpus", spec.cpus)
    put("mem_limit", spec.mem_limit)
    put("mem_reservation", spec.mem_reservation)
    put("stop_grace_period", _seconds(spec.stop_grace_period_s))
    for key in ("privileged", "tty", "stdin_open", "read_only"):
        put(key, getattr(spec, key))
    if spec.init is not None:
        out["init"] = spec.init
    put("cap_add", list(spec.cap_add))
    put("cap_drop", list(spec.cap_drop))
    put("ulimits", {u.name: {"soft": u.soft, "hard": u.hard} for u in spec.ulimits})
    put("sysctls", {k: _s(v) for k, v in spec.sysctls})
    put("tmpfs", [_s(t) for t in spec.tmpfs])
    if spec.logging is not None:
        out["logging"] = {k: v for k, v in (("driver", _s(spec.logging.driver)),
                                            ("options", {k: _s(v) for k, v in spec.logging.options})) if v}
    put("shm_size", spec.shm_size)
    out.update(_host_options(spec))
    for kind in ("config", "secret"):
        put(f"{kind}s", [{k: v for k, v in (("source", m.name), ("target", _s(m.target)), ("mode", m.mode),
                                            ("uid", None if m.uid is None else str(m.uid)),
                                            ("gid", None if m.gid is None else str(m.gid))) if v is not None}
                         for m in spec.file_mounts if m.kind == kind])
    return out


_HOST_SCALARS = ("pids_limit", "runtime", "userns_mode", "cgroup", "uts", "cpu_shares", "cpuset", "cpu_period",
                 "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "oom_score_adj", "mem_swappiness", "memswap_limit",
                 "cgroup_parent")


def _device(device):
    """The short form, unless a path holds ':' (which the short form would split)."""
    if ":" in device.source + device.target:
        return {"source": device.source, "target": device.target, "permissions": device.permissions}
    return f"{device.source}:{device.target}:{device.permissions}"


def _host_options(spec) -> dict:
    """The host options a service sets, as a compose file writes them (0 is a value here, not unset)."""
    out = {key: _s(getattr(spec, key)) for key in _HOST_SCALARS if getattr(spec, key) is not None}
    lists = {"security_opt": spec.security_opt, "group_add": spec.group_add, "dns_opt": spec.dns_opt,
             "device_cgroup_rules": spec.device_cgroup_rules,
             "devices": tuple(_device(d) for d in spec.devices)}
    out.update({key: [_s(v) if isinstance(v, str) else {k: _s(x) for k, x in v.items()} for v in items]
                for key, items in lists.items() if items})
    if spec.oom_kill_disable:
        out["oom_kill_disable"] = True
    if spec.storage_opt:
        out["storage_opt"] = {k: _s(v) for k, v in spec.storage_opt}
    blkio = spec.blkio
    if blkio is not None:
        conf = {"weight": blkio.weight} if blkio.weight is not None else {}
        conf.update({key: [{"path": _s(path), "weight" if key == "weight_device" else "rate": rate}
                           for path, rate in getattr(blkio, key)]
                     for key in ("weight_device", "device_read_bps", "device_read_iops", "device_write_bps",
                                 "device_write_iops") if getattr(blkio, key)})
        out["blkio_config"] = conf
    return out


def _definition(mount):
    """A top-level config or secret: its file or the name of its variable; a secret's value never."""
    if mount.file is not None:
        return {"file": _s(mount.file)}
    if mount.env is not None:
        return {"environment": _s(mount.env)}
    return {"content": _s(mount.data.decode("utf-8", "replace"))}  # configs only: secrets have no content


def _volume_definition(definition):
    """A top-level volume as ``docker compose config`` writes it: with the name it is known by."""
    if definition is None:
        return None
    if definition.external:
        return {"external": True, "name": definition.name}
    return {"name": definition.name}


def _network_definition(definition):
    """A network shared across projects as the file may say it; None for the project's own."""
    if definition is None or definition.name is None:
        return None
    if definition.external:
        return {"external": True, "name": definition.name}
    return {"name": definition.name}


def as_dict(project) -> dict:
    """The compose mapping of ``project`` (spec format)."""
    # the services' volumes by the keys the file gave them, not by their Docker names
    specs = [replace(s, volumes=tuple(key_of(project, v) for v in s.volumes)) for s in project.services]
    services = {spec.name: _service(spec) for spec in specs}
    network_defs = {n.key: n for n in project.networks}
    # ``default`` is written only when the file made it a network shared across projects
    networks = sorted(n for n in {n.name for s in project.services for n in s.networks}
                      if n != "default" or _network_definition(network_defs.get(n)))
    volumes = sorted({v.split(":", 1)[0] for s in specs for v in s.volumes
                      if ":" in v and not v.startswith(("/", ".", "~"))})
    doc = {"services": services}
    if networks:
        doc["networks"] = {n: _network_definition(network_defs.get(n)) for n in networks}
    if volumes:
        defs = {v.key: v for v in project.volumes}
        doc["volumes"] = {v: _volume_definition(defs.get(v)) for v in volumes}
    for kind in ("config", "secret"):
        found = {m.name: _definition(m) for s in project.services for m in s.file_mounts if m.kind == kind}
        if found:
            doc[f"{kind}s"] = dict(sorted(found.items()))
    doc["x-nap"] = {"strategy": project.strategy, "seed": project.seed}
    return doc


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def _sorted(value):
    """``value`` with every mapping's keys in order, so the output does not depend on insertion order."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def render(project, fmt="yaml") -> str:
    """The project as compose text; ``fmt`` is "yaml" or "json".

    ``name:`` comes first, as ``docker compose config`` writes it; everything else is in key order.
    """
    doc = {"name": project.name}
    doc.update(_sorted(as_dict(project)))
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r}")
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
