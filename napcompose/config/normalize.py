"""One merged, validated service mapping -> a frozen ServiceSpec (defaults applied, values parsed)."""

from __future__ import annotations

import os

from napcompose.config import hostopts, support, values, xnap
from napcompose.config.envfile import read_env_file
from napcompose.config.merge import as_list, as_mapping, depends_mapping, networks_mapping
from napcompose.errors import ConfigError
from napcompose.model import (BuildSpec, Dependency, Healthcheck, Link, LoggingSpec, NetworkAttachment,
                              PlacementSpec, ServiceSpec, Ulimit, pairs)

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
    if policy in ("daily", "weekly") or (policy or "").startswith("every_"):
        # A refresh interval needs something that remembers when each host last pulled: nothing does.
        ctx.warn(f"service '{ctx.name}': pull_policy '{policy}' is read as 'missing': refresh intervals are "
                 "not applied (up --pull always asks the registry for the tag's current digest)")
        return "missing"
    if policy == "build" and raw.get("build") is None:
        ctx.fail("pull_policy", "build needs a build: section to build the image from")
    return policy


def _environment(ctx, raw):
    env = {}
    for entry in as_list(raw.get("env_file")):
        # The long form: {path, required: false} tolerates a missing file (a developer's local overrides).
        name, required = (entry["path"], entry.get("required", True)) if isinstance(entry, dict) else (entry, True)
        fmt = entry.get("format") if isinstance(entry, dict) else None
        if fmt not in (None, "raw"):
            ctx.fail("env_file", f"format {fmt!r} is not supported by nap-compose (the default KEY=VALUE "
                                 "format and 'raw' are)")
        path = os.path.join(ctx.base_dir, os.path.expanduser(str(name)))
        if not os.path.isfile(path):
            if not ctx.parse("env_file", values.boolean, required):
                continue
            ctx.fail("env_file", f"{name} not found (looked for {path})")
        env.update(read_env_file(path, display=str(name), verbatim=fmt == "raw"))
    env.update(as_mapping(raw.get("environment")))
    resolved = {}
    for key, value in env.items():
        if value is None:
            value = ctx.environ.get(key)  # a bare KEY takes the caller's value, or is left out
            if value is None:
                continue
        resolved[key] = value if not isinstance(value, (int, float)) or isinstance(value, bool) else str(value)
    return pairs({k: str(v).lower() if isinstance(v, bool) else v for k, v in resolved.items()})


def _labels(ctx, raw):
    """``label_file`` entries (KEY=VALUE files, in order), then ``labels`` over them."""
    labels = {}
    for entry in as_list(raw.get("label_file")):
        path = os.path.join(ctx.base_dir, os.path.expanduser(str(entry)))
        if not os.path.isfile(path):
            ctx.fail("label_file", f"{entry} not found (looked for {path})")
        labels.update({k: v or "" for k, v in read_env_file(path, display=str(entry)).items()})
    labels.update(as_mapping(raw.get("labels")))
    return pairs(labels)


def optional_dependencies(ctx, raw):
    """The ``depends_on`` targets marked ``required: false``: dropped when missing or disabled."""
    deps = depends_mapping(raw.get("depends_on"))
    return frozenset(name for name, conf in deps.items()
                     if not ctx.parse("depends_on", values.boolean, (conf or {}).get("required", True)))


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
    if hc.get("start_interval") is not None:
        ctx.warn(f"service '{ctx.name}': healthcheck.start_interval is recorded but not applied: the Docker "
                 "SDK used here cannot send it, so probes run every 'interval' from the start")
    return Healthcheck(
        test=test, disable=bool(disable),
        interval_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("interval")}),
        timeout_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("timeout")}),
        start_period_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("start_period")}),
        start_interval_s=_opt(ctx, "healthcheck", values.duration, {"healthcheck": hc.get("start_interval")}),
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
                     target=_str(build.get("target")), **hostopts.build_options(ctx, build))


def _long_volume(ctx, entry):
    """A long-form bind or volume mount as ``source:target[:options]``.

    ``read_only``, ``bind.propagation`` and ``volume.nocopy`` become the options the engine reads in
    the short form; tmpfs mounts are taken apart by _tmpfs_volumes.
    """
    kind, source, target = entry.get("type"), entry.get("source"), entry.get("target")
    if kind not in ("bind", "volume"):
        ctx.fail("volumes", f"type {kind!r} is not supported by nap-compose (bind, volume and tmpfs are)")
    if not target:
        ctx.fail("volumes", f"{dict(entry)!r} needs a target")
    if kind == "bind" and not source:
        ctx.fail("volumes", f"the bind mount at {target} needs a source")
    options = ["ro"] if ctx.parse("volumes", values.boolean, entry.get("read_only", False)) else []
    create = (entry.get("bind") or {}).get("create_host_path")
    if create is not None and not ctx.parse("volumes", values.boolean, create):
        # Binds are sent in the short form, for which the engine always makes a missing source.
        ctx.fail("volumes", f"bind.create_host_path: false is not supported by nap-compose: the engine creates "
                            f"a missing bind source ({source}) on the host that runs the replica")
    propagation = (entry.get("bind") or {}).get("propagation")
    if propagation:
        options.append(str(propagation))
    if ctx.parse("volumes", values.boolean, (entry.get("volume") or {}).get("nocopy", False)):
        options.append("nocopy")
    text = f"{source}:{target}" if source else str(target)
    return text + (":" + ",".join(options) if options else "")


def _volume(ctx, entry):
    """One volume as the short form ``source:target[:options]`` the rest of the product reads."""
    text = _long_volume(ctx, entry) if isinstance(entry, dict) else str(entry)
    source, sep, rest = text.partition(":")
    if sep and source.startswith((".", "~")):
        source = os.path.normpath(os.path.join(ctx.base_dir, os.path.expanduser(source)))
        return f"{source}:{rest}"
    return text


def _is_tmpfs(entry):
    return isinstance(entry, dict) and entry.get("type") == "tmpfs"


def _tmpfs_volumes(ctx, raw):
    """Long-form ``type: tmpfs`` volumes, as tmpfs entries (``target[:size=N]``)."""
    out = []
    for entry in as_list(raw.get("volumes")):
        if _is_tmpfs(entry):
            if not entry.get("target"):
                ctx.fail("volumes", f"{dict(entry)!r} needs a target")
            size = (entry.get("tmpfs") or {}).get("size")
            size = None if size is None else ctx.parse("volumes", values.byte_size, size)
            out.append(str(entry["target"]) + ("" if size is None else f":size={size}"))
    return tuple(out)


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
        out.append(NetworkAttachment(name=name, ipv4_address=_str(conf.get("ipv4_address")),
                                     aliases=tuple(str(a) for a in conf.get("aliases") or ()),
                                     link_local_ips=tuple(ctx.parse(f"networks.{name}.link_local_ips",
                                                                    hostopts.link_local_ip, a)
                                                          for a in conf.get("link_local_ips") or ())))
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
    return (None if cpus is None else ctx.parse("cpus", values.number, cpus),
            None if mem_limit is None else ctx.parse("mem_limit", values.byte_size, mem_limit),
            None if mem_reservation is None else ctx.parse("mem_reservation", values.byte_size, mem_reservation))


def _logging(raw):
    logging = raw.get("logging")
    if logging is None and raw.get("log_driver") is None and raw.get("log_opt") is None:
        return None
    logging = dict(logging or {"driver": raw.get("log_driver"), "options": raw.get("log_opt")})
    return LoggingSpec(driver=_str(logging.get("driver")), options=pairs(logging.get("options") or {}))


def _namespace(ctx, key, raw):
    """``ipc``/``pid`` as given; another container's namespace is refused: it exists on one host only,
    and the replicas of both services are placed across hosts."""
    value = _str(raw.get(key))
    if value is not None and value.split(":", 1)[0] in ("service", "container"):
        ctx.fail(key, f"'{value}' is not supported by nap-compose: it needs the other container on the same host, "
                      "and replicas are placed across hosts (host, private and shareable are supported)")
    return value


def _warn_ignored(ctx, raw):
    for key, why in support.ignored_in(raw):
        ctx.warn(f"service '{ctx.name}': '{key}' is ignored by nap-compose: {why}")


def to_spec(ctx: ServiceContext, raw: dict) -> ServiceSpec:
    """Build the ServiceSpec of one service. Raises ConfigError naming the file, line, service and key."""
    _warn_ignored(ctx, raw)
    scale, placement = _scale_and_placement(ctx, raw)
    cpus, mem_limit, mem_reservation = _resources(ctx, raw)
    restart = _str(raw.get("restart"))
    policy = ((raw.get("deploy") or {}).get("restart_policy") or {}).get("condition")
    if restart is None and policy is not None:
        restart = _RESTART_CONDITIONS.get(str(policy), str(policy))
        attempts = ((raw.get("deploy") or {}).get("restart_policy") or {}).get("max_attempts")
        if attempts is not None and restart == "on-failure":
            restart = f"on-failure:{ctx.parse('deploy', values.integer, attempts)}"
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
        labels=_labels(ctx, raw),
        links=_links(ctx, "links", raw), external_links=_links(ctx, "external_links", raw),
        depends_on=tuple(Dependency(service=str(name),
                                    condition=str((deps[name] or {}).get("condition", "service_started")),
                                    restart=ctx.parse("depends_on", values.boolean,
                                                      (deps[name] or {}).get("restart", False)))
                         for name in sorted(deps)),
        volumes_from=tuple(_volumes_from(v) for v in as_list(raw.get("volumes_from"))),
        ports=_ports(ctx, "ports", values.ports, raw), expose=_ports(ctx, "expose", values.expose, raw),
        volumes=tuple(_volume(ctx, v) for v in as_list(raw.get("volumes")) if not _is_tmpfs(v)),
        hostname=_str(raw.get("hostname")), domainname=_str(raw.get("domainname")),
        extra_hosts=_extra_hosts(ctx, raw),
        dns=tuple(str(v) for v in as_list(raw.get("dns"))),
        dns_search=tuple(str(v) for v in as_list(raw.get("dns_search"))),
        restart=restart, networks=_networks(ctx, raw),
        network_mode=_str(raw.get("network_mode", raw.get("net"))),
        ipc=_namespace(ctx, "ipc", raw), pid=_namespace(ctx, "pid", raw),
        healthcheck=_healthcheck(ctx, raw), scale=scale, placement=placement,
        cpus=cpus, mem_limit=mem_limit, mem_reservation=mem_reservation,
        container_name=_str(raw.get("container_name")), user=_str(raw.get("user")),
        working_dir=_str(raw.get("working_dir")), stop_signal=_str(raw.get("stop_signal")),
        stop_grace_period_s=_opt(ctx, "stop_grace_period", values.duration, raw),
        init=_opt(ctx, "init", values.boolean, raw),
        cap_add=tuple(str(c) for c in as_list(raw.get("cap_add"))),
        cap_drop=tuple(str(c) for c in as_list(raw.get("cap_drop"))),
        ulimits=tuple(ulimits), sysctls=pairs(as_mapping(raw.get("sysctls"))),
        tmpfs=tuple(str(t) for t in as_list(raw.get("tmpfs"))) + _tmpfs_volumes(ctx, raw), logging=_logging(raw),
        shm_size=_opt(ctx, "shm_size", values.byte_size, raw), pull_policy=_pull_policy(ctx, raw), **bools,
        **hostopts.service_options(ctx, raw))
