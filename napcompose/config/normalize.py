"""One merged, validated service mapping -> a frozen ServiceSpec (defaults applied, values parsed)."""

from __future__ import annotations

import os

from napcompose.config import values, xnap
from napcompose.config.envfile import read_env_file
from napcompose.config.merge import as_list, as_mapping, depends_mapping, networks_mapping
from napcompose.errors import ConfigError
from napcompose.model import (BuildSpec, Dependency, Healthcheck, Link, LoggingSpec, NetworkAttachment,
                              PlacementSpec, ServiceSpec, Ulimit, pairs)

# Accepted so that existing files load, but without effect on a nap-compose cluster.
IGNORED_KEYS = frozenset((
    "blkio_config", "cgroup_parent", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota",
    "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpuset", "credential_spec", "device_cgroup_rules",
    "devices", "dns_opt", "group_add", "isolation", "mac_address", "mem_swappiness", "memswap_limit",
    "oom_kill_disable", "oom_score_adj", "pids_limit", "platform", "profiles", "runtime",
    "security_opt", "storage_opt", "userns_mode", "volume_driver"))
IGNORED_DEPLOY_KEYS = frozenset(("mode", "endpoint_mode", "labels"))
_RESTART_CONDITIONS = {"none": "no", "on-failure": "on-failure", "any": "always"}


class ServiceContext:
    """Where a service came from, for messages and for resolving relative paths."""

    def __init__(self, name, origins, base_dir, environ, warn):
        self.name, self.origins = name, origins
        self.base_dir, self.environ, self.warn = base_dir, environ, warn

    def where(self, key=None):
        return self.origins.where(key)

    def fail(self, key, message):
        raise ConfigError(f"{self.where(key)}: service '{self.name}': {key}: {message}")

    def parse(self, key, func, value):
        try:
            return func(value)
        except values.ValueProblem as exc:
            self.fail(key, str(exc))


def _opt(ctx, key, func, raw):
    value = raw.get(key)
    return None if value is None else ctx.parse(key, func, value)


def _str(value):
    return None if value is None else str(value)


def _pull_policy(ctx, raw):
    """``pull_policy`` in compose's words (``if_not_present`` is the old spelling of ``missing``)."""
    policy = _str(raw.get("pull_policy"))
    if policy == "if_not_present":
        return "missing"
    if policy == "build" and raw.get("build") is None:
        ctx.fail("pull_policy", "build needs a build: section to build the image from")
    return policy


def _environment(ctx, raw):
    env = {}
    for entry in as_list(raw.get("env_file")):
        path = os.path.join(ctx.base_dir, os.path.expanduser(str(entry)))
        if not os.path.isfile(path):
            ctx.fail("env_file", f"{entry} not found (looked for {path})")
        env.update(read_env_file(path, display=str(entry)))
    env.update(as_mapping(raw.get("environment")))
    resolved = {}
    for key, value in env.items():
        if value is None:
            value = ctx.environ.get(key)  # a bare KEY takes the caller's value, or is left out
            if value is None:
                continue
        resolved[key] = value if not isinstance(value, (int, float)) or isinstance(value, bool) else str(value)
    return pairs({k: str(v).lower() if isinstance(v, bool) else v for k, v in resolved.items()})


def _links(ctx, key, raw):
    out = []
    for entry in as_list(raw.get(key)):
        target, _, alias = str(entry).partition(":")
        out.append(Link(service=target, alias=alias or target))
    return tuple(out)


def _volumes_from(entry):
    """``svc[:mode]`` -> ``svc`` (the model holds service names); ``container:x[:mode]`` stays verbatim."""
    text = str(entry)
    return text if text.startswith("container:") else text.split(":", 1)[0]


def _extra_hosts(ctx, raw):
    result = []
    for name, address in as_mapping(raw.get("extra_hosts"), sep=":").items():
        if address is None or address == "":
            ctx.fail("extra_hosts", f"{name!r} needs an address (write 'name:address')")
        result.append((str(name).strip(), str(address).strip()))
    return tuple(sorted(result))


def _healthcheck(ctx, raw):
    hc = raw.get("healthcheck")
    if hc is None:
        return None
    test = hc.get("test")
    if isinstance(test, str):
        test = ("CMD-SHELL", test)
    test = tuple(str(t) for t in (test or ()))
    disable = ctx.parse("healthcheck", values.boolean, hc.get("disable", False)) or test[:1] == ("NONE",)
    return Healthcheck(
        test=test, disable=bool(disable),
        interval_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("interval")}),
        timeout_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("timeout")}),
        start_period_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("start_period")}),
        retries=_opt(ctx, "healthcheck", values.integer, {"healthcheck": hc.get("retries")}))


def _build(ctx, raw):
    build = raw.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = str(build.get("context", "."))
    if "://" not in context and not context.startswith("git@"):
        context = os.path.normpath(os.path.join(ctx.base_dir, os.path.expanduser(context)))
    return BuildSpec(context=context, dockerfile=_str(build.get("dockerfile", raw.get("dockerfile"))),
                     args=pairs({k: v for k, v in as_mapping(build.get("args")).items() if v is not None}),
                     target=_str(build.get("target")))


def _volume(ctx, entry):
    if isinstance(entry, dict):
        source, target = entry.get("source"), entry.get("target")
        if not target:
            ctx.fail("volumes", f"{dict(entry)!r} needs a target")
        text = f"{source}:{target}" if source else str(target)
        return text + (":ro" if entry.get("read_only") else "")
    text = str(entry)
    source, sep, rest = text.partition(":")
    if sep and source.startswith((".", "~")):
        source = os.path.normpath(os.path.join(ctx.base_dir, os.path.expanduser(source)))
        return f"{source}:{rest}"
    return text


def _ports(ctx, key, func, raw):
    out = []
    for entry in as_list(raw.get(key)):
        out.extend(ctx.parse(key, func, entry))
    return tuple(out)


def _networks(ctx, raw):
    if raw.get("network_mode") is not None or raw.get("net") is not None:
        return ()
    given = networks_mapping(raw.get("networks")) or {"default": None}
    out = []
    for name in sorted(given):
        conf = given[name] or {}
        for key in ("ipv6_address", "link_local_ips", "priority"):
            if key in conf:
                ctx.warn(f"service '{ctx.name}': networks.{name}.{key} is ignored by nap-compose")
        out.append(NetworkAttachment(name=name, ipv4_address=_str(conf.get("ipv4_address")),
                                     aliases=tuple(str(a) for a in conf.get("aliases") or ())))
    return tuple(out)


def _scale_and_placement(ctx, raw):
    deploy = raw.get("deploy") or {}
    scale = raw.get("scale")
    replicas = deploy.get("replicas")
    if scale is not None and replicas is not None:
        ctx.fail("scale", "both scale and deploy.replicas are set; set only one of them")
    if deploy.get("mode", "replicated") != "replicated":
        ctx.warn(f"service '{ctx.name}': deploy.mode {deploy.get('mode')!r} is not supported; "
                 "one replica is run unless scale says otherwise")
        replicas = None
    count = scale if scale is not None else replicas
    count = 1 if count is None else ctx.parse("scale", values.integer, count)
    if count < 0:
        ctx.fail("scale", f"must be an integer >= 0, not {count}")
    placement = deploy.get("placement") or {}
    prefs = tuple(f"spread={p['spread']}" for p in placement.get("preferences") or () if p.get("spread"))
    nap = xnap.service_level(raw.get("x-nap"), ctx.where("x-nap"), ctx.name)
    max_per_host = nap["max_per_host"]
    if max_per_host is None and placement.get("max_replicas_per_node") is not None:
        max_per_host = ctx.parse("deploy", values.integer, placement["max_replicas_per_node"])
    spec = PlacementSpec(constraints=tuple(str(c) for c in placement.get("constraints") or ()),
                         preferences=prefs, max_per_host=max_per_host, strategy=nap["strategy"],
                         affinity=nap["affinity"], anti_affinity=nap["anti_affinity"], hosts=nap["hosts"])
    return count, spec


def _resources(ctx, raw):
    resources = (raw.get("deploy") or {}).get("resources") or {}
    limits, reservations = resources.get("limits") or {}, resources.get("reservations") or {}
    cpus = raw.get("cpus", limits.get("cpus"))
    mem_limit = raw.get("mem_limit", limits.get("memory"))
    mem_reservation = raw.get("mem_reservation", reservations.get("memory"))
    for key in ("generic_resources", "devices"):
        if key in reservations:
            ctx.warn(f"service '{ctx.name}': deploy.resources.reservations.{key} is ignored by nap-compose")
    return (None if cpus is None else ctx.parse("cpus", values.number, cpus),
            None if mem_limit is None else ctx.parse("mem_limit", values.byte_size, mem_limit),
            None if mem_reservation is None else ctx.parse("mem_reservation", values.byte_size, mem_reservation))


def _logging(raw):
    logging = raw.get("logging")
    if logging is None and raw.get("log_driver") is None and raw.get("log_opt") is None:
        return None
    logging = dict(logging or {"driver": raw.get("log_driver"), "options": raw.get("log_opt")})
    return LoggingSpec(driver=_str(logging.get("driver")), options=pairs(logging.get("options") or {}))


def _warn_ignored(ctx, raw):
    for key in sorted(k for k in raw if k in IGNORED_KEYS):
        ctx.warn(f"service '{ctx.name}': '{key}' is ignored by nap-compose")
    deploy = raw.get("deploy") or {}
    for key in sorted(k for k in deploy if k in IGNORED_DEPLOY_KEYS and k != "mode"):
        ctx.warn(f"service '{ctx.name}': 'deploy.{key}' is ignored by nap-compose")


def to_spec(ctx: ServiceContext, raw: dict) -> ServiceSpec:
    """Build the ServiceSpec of one service. Raises ConfigError naming the file, line, service and key."""
    _warn_ignored(ctx, raw)
    scale, placement = _scale_and_placement(ctx, raw)
    cpus, mem_limit, mem_reservation = _resources(ctx, raw)
    restart = _str(raw.get("restart"))
    policy = ((raw.get("deploy") or {}).get("restart_policy") or {}).get("condition")
    if restart is None and policy is not None:
        restart = _RESTART_CONDITIONS.get(str(policy), str(policy))
    ulimits = []
    for name, limit in sorted((raw.get("ulimits") or {}).items()):
        soft, hard = (limit, limit) if not isinstance(limit, dict) else (limit["soft"], limit["hard"])
        ulimits.append(Ulimit(name=name, soft=ctx.parse("ulimits", values.integer, soft),
                              hard=ctx.parse("ulimits", values.integer, hard)))
    bools = {key: ctx.parse(key, values.boolean, raw.get(key, False))
             for key in ("privileged", "tty", "stdin_open", "read_only")}
    deps = depends_mapping(raw.get("depends_on"))
    return ServiceSpec(
        name=ctx.name, image=_str(raw.get("image")), build=_build(ctx, raw),
        command=ctx.parse("command", values.command, raw.get("command")),
        entrypoint=ctx.parse("entrypoint", values.command, raw.get("entrypoint")),
        environment=_environment(ctx, raw),
        labels=pairs({k: v for k, v in as_mapping(raw.get("labels")).items()}),
        links=_links(ctx, "links", raw), external_links=_links(ctx, "external_links", raw),
        depends_on=tuple(Dependency(service=str(name), condition=str((deps[name] or {}).get("condition",
                                                                                      "service_started")))
                         for name in sorted(deps)),
        volumes_from=tuple(_volumes_from(v) for v in as_list(raw.get("volumes_from"))),
        ports=_ports(ctx, "ports", values.ports, raw), expose=_ports(ctx, "expose", values.expose, raw),
        volumes=tuple(_volume(ctx, v) for v in as_list(raw.get("volumes"))),
        hostname=_str(raw.get("hostname")), domainname=_str(raw.get("domainname")),
        extra_hosts=_extra_hosts(ctx, raw),
        dns=tuple(str(v) for v in as_list(raw.get("dns"))),
        dns_search=tuple(str(v) for v in as_list(raw.get("dns_search"))),
        restart=restart, networks=_networks(ctx, raw),
        network_mode=_str(raw.get("network_mode", raw.get("net"))),
        ipc=_str(raw.get("ipc")), pid=_str(raw.get("pid")),
        healthcheck=_healthcheck(ctx, raw), scale=scale, placement=placement,
        cpus=cpus, mem_limit=mem_limit, mem_reservation=mem_reservation,
        container_name=_str(raw.get("container_name")), user=_str(raw.get("user")),
        working_dir=_str(raw.get("working_dir")), stop_signal=_str(raw.get("stop_signal")),
        stop_grace_period_s=_opt(ctx, "stop_grace_period", values.duration, raw),
        init=_opt(ctx, "init", values.boolean, raw),
        cap_add=tuple(str(c) for c in as_list(raw.get("cap_add"))),
        cap_drop=tuple(str(c) for c in as_list(raw.get("cap_drop"))),
        ulimits=tuple(ulimits), sysctls=pairs(as_mapping(raw.get("sysctls"))),
        tmpfs=tuple(str(t) for t in as_list(raw.get("tmpfs"))), logging=_logging(raw),
        shm_size=_opt(ctx, "shm_size", values.byte_size, raw), pull_policy=_pull_policy(ctx, raw), **bools)
