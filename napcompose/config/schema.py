"""Which keys each compose format allows, with their types, and the checker that walks a file against them.

docker-compose 1.29.2 checks every versioned file (2.x, 3.x) and every file without ``version`` against
one schema, the Compose spec; v1 files have their own. The tables below follow that split.
"""

from __future__ import annotations

import difflib
import re

from napcompose.config.interpolate import Interpolated
from napcompose.config.yamlload import line_of
from napcompose.errors import ConfigError


class Obj:
    """A mapping with known keys; ``x`` allows ``x-*`` extension keys."""

    def __init__(self, keys, x=True, required=()):
        self.keys, self.x, self.required = keys, x, required


class DictOf:
    def __init__(self, value, key_pattern=None):
        self.value, self.key_pattern = value, key_pattern


class ListOf:
    def __init__(self, item, unique=False):
        self.item, self.unique = item, unique


class OneOf:
    def __init__(self, *options, name=None):
        self.options, self.name = options, name


class Refused:
    """A key of the Compose specification that nap-compose cannot honour; ``why`` says so."""

    def __init__(self, why):
        self.why = why


class Pattern:
    """A string matching ``regex`` as a whole."""

    def __init__(self, regex):
        self.regex = re.compile(regex)


class Enum:
    def __init__(self, *values):
        self.values = values


STR, INT, NUM, BOOL, ANY, NULL = "string", "integer", "number", "boolean", "any", "null"
STR_OR_NUM = OneOf(STR, NUM, name="a string or a number")
LIST_OF_STRINGS = ListOf(STR, unique=True)
STRING_OR_LIST = OneOf(STR, LIST_OF_STRINGS, name="a string or a list of strings")
LIST_OR_DICT = OneOf(DictOf(OneOf(STR, NUM, NULL, name="a string, a number or null")),
                     LIST_OF_STRINGS, name="a mapping or a list of strings")
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+$")

_BLKIO_LIMIT = Obj({"path": STR, "rate": STR_OR_NUM}, x=False)
_BLKIO_WEIGHT = Obj({"path": STR, "weight": INT}, x=False)
_UPDATE = Obj({"parallelism": INT, "delay": STR, "failure_action": STR, "monitor": STR,
               "max_failure_ratio": NUM, "order": Enum("start-first", "stop-first")})
_DEVICES = ListOf(Obj({"capabilities": LIST_OF_STRINGS, "count": OneOf(STR, INT, name="a string or an integer"),
                       "device_ids": LIST_OF_STRINGS, "driver": STR, "options": LIST_OR_DICT}))
_GENERIC = ListOf(Obj({"discrete_resource_spec": Obj({"kind": STR, "value": NUM})}))
DEPLOY = OneOf(NULL, Obj({
    "mode": STR, "endpoint_mode": STR, "replicas": INT, "labels": LIST_OR_DICT,
    "rollback_config": _UPDATE, "update_config": _UPDATE,
    "resources": Obj({
        "limits": Obj({"cpus": STR_OR_NUM, "memory": STR, "pids": INT}),
        "reservations": Obj({"cpus": STR_OR_NUM, "memory": STR, "generic_resources": _GENERIC,
                             "devices": _DEVICES}),
    }),
    "restart_policy": Obj({"condition": STR, "delay": STR, "max_attempts": INT, "window": STR}),
    "placement": Obj({"constraints": ListOf(STR), "preferences": ListOf(Obj({"spread": STR})),
                      "max_replicas_per_node": INT}),
}), name="a mapping")
HEALTHCHECK = Obj({"disable": BOOL, "interval": STR, "retries": NUM,
                   "test": OneOf(STR, ListOf(STR), name="a string or a list of strings"),
                   "timeout": STR, "start_period": STR, "start_interval": STR})
_SERVICE_NETWORK = OneOf(NULL, Obj({"aliases": LIST_OF_STRINGS, "ipv4_address": STR, "ipv6_address": STR,
                                    "link_local_ips": LIST_OF_STRINGS, "priority": NUM}), name="a mapping or null")
_VOLUME_LONG = Obj({"type": STR, "source": STR, "target": STR, "read_only": BOOL, "consistency": STR,
                    "bind": Obj({"propagation": STR, "create_host_path": BOOL}), "volume": Obj({"nocopy": BOOL}),
                    "tmpfs": Obj({"size": OneOf(INT, STR, name="an integer or a string")})}, required=("type",))
_DEPENDS = OneOf(LIST_OF_STRINGS, DictOf(Obj({"condition": Enum(
    "service_started", "service_healthy", "service_completed_successfully"), "required": BOOL, "restart": BOOL},
    x=False, required=("condition",)),
    key_pattern=NAME_PATTERN), name="a list of service names or a mapping")

_FILE_REF = Obj({"source": STR, "target": STR, "uid": STR_OR_NUM, "gid": STR_OR_NUM, "mode": STR_OR_NUM})

SPEC_SERVICE = Obj({
    "blkio_config": Obj({"device_read_bps": ListOf(_BLKIO_LIMIT), "device_read_iops": ListOf(_BLKIO_LIMIT),
                         "device_write_bps": ListOf(_BLKIO_LIMIT), "device_write_iops": ListOf(_BLKIO_LIMIT),
                         "weight": INT, "weight_device": ListOf(_BLKIO_WEIGHT)}, x=False),
    "build": OneOf(STR, Obj({"context": STR, "dockerfile": STR, "args": LIST_OR_DICT, "labels": LIST_OR_DICT,
                             "cache_from": ListOf(STR), "network": STR, "target": STR,
                             "shm_size": OneOf(INT, STR, name="an integer or a string"),
                             "extra_hosts": LIST_OR_DICT, "isolation": STR, "no_cache": BOOL, "pull": BOOL}),
                     name="a string or a mapping"),
    "cap_add": LIST_OF_STRINGS, "cap_drop": LIST_OF_STRINGS, "cgroup": Enum("host", "private"),
    "cgroup_parent": STR,
    "command": OneOf(STR, ListOf(STR), name="a string or a list of strings"),
    "configs": ListOf(OneOf(STR, _FILE_REF,
                            name="a string or a mapping")),
    "container_name": STR, "cpu_count": INT, "cpu_percent": INT, "cpu_period": STR_OR_NUM,
    "cpu_quota": STR_OR_NUM, "cpu_rt_period": STR_OR_NUM, "cpu_rt_runtime": STR_OR_NUM, "cpu_shares": STR_OR_NUM,
    "cpus": STR_OR_NUM, "cpuset": STR,
    "credential_spec": Obj({"config": STR, "file": STR, "registry": STR}),
    "depends_on": _DEPENDS, "deploy": DEPLOY, "device_cgroup_rules": LIST_OF_STRINGS,
    "devices": ListOf(OneOf(STR, Obj({"source": STR, "target": STR, "permissions": STR}, required=("source",)),
                            name="a string or a mapping")),
    "dns": STRING_OR_LIST, "dns_opt": LIST_OF_STRINGS, "dns_search": STRING_OR_LIST, "domainname": STR,
    "entrypoint": OneOf(STR, ListOf(STR), name="a string or a list of strings"),
    "env_file": OneOf(STR, ListOf(OneOf(STR, Obj({"path": STR, "required": BOOL, "format": STR}, x=False,
                                                 required=("path",)), name="a path or a mapping with 'path'")),
                      name="a string or a list"), "environment": LIST_OR_DICT,
    "expose": ListOf(STR_OR_NUM, unique=True),
    "extends": OneOf(STR, Obj({"service": STR, "file": STR}, x=False, required=("service",)),
                     name="a string or a mapping"),
    "external_links": LIST_OF_STRINGS, "extra_hosts": LIST_OR_DICT, "group_add": ListOf(STR_OR_NUM, unique=True),
    "healthcheck": HEALTHCHECK, "hostname": STR, "image": STR, "init": BOOL, "ipc": STR, "isolation": STR,
    "labels": LIST_OR_DICT, "label_file": STRING_OR_LIST, "links": LIST_OF_STRINGS,
    "logging": Obj({"driver": STR, "options": DictOf(OneOf(STR, NUM, NULL, name="a string, a number or null"))}),
    "mac_address": STR, "mem_limit": STR_OR_NUM, "mem_reservation": OneOf(STR, INT, name="a string or an integer"),
    "mem_swappiness": INT, "memswap_limit": STR_OR_NUM, "network_mode": STR,
    "networks": OneOf(LIST_OF_STRINGS, DictOf(_SERVICE_NETWORK, key_pattern=NAME_PATTERN),
                      name="a list of network names or a mapping"),
    "oom_kill_disable": BOOL, "oom_score_adj": INT, "pid": OneOf(STR, NULL, name="a string or null"),
    "pids_limit": STR_OR_NUM, "platform": STR,
    "ports": ListOf(OneOf(NUM, STR, Obj({"mode": Enum("host", "ingress"), "target": INT, "published": STR_OR_NUM,
                                         "host_ip": STR, "protocol": STR, "name": STR, "app_protocol": STR},
                                        required=("target",)),
                          name="a string, a number or a mapping"), unique=True),
    "privileged": BOOL, "profiles": LIST_OF_STRINGS, "pull_policy": OneOf(
        Enum("always", "never", "if_not_present", "build", "missing", "refresh", "daily", "weekly"),
        Pattern(r"every_([0-9]+[wdhms])+"), name="one of 'always', 'never', 'if_not_present', 'build', "
                                                 "'missing', 'refresh', 'daily', 'weekly', 'every_<duration>'"),
    "read_only": BOOL, "restart": STR, "runtime": STR, "scale": INT,
    "secrets": ListOf(OneOf(STR, _FILE_REF,
                            name="a string or a mapping")),
    "security_opt": LIST_OF_STRINGS, "shm_size": STR_OR_NUM, "stdin_open": BOOL, "stop_grace_period": STR,
    "stop_signal": STR, "storage_opt": Obj({}, x=False), "sysctls": LIST_OR_DICT, "tmpfs": STRING_OR_LIST,
    "tty": BOOL,
    "ulimits": DictOf(OneOf(INT, Obj({"hard": INT, "soft": INT}, required=("soft", "hard")),
                            name="an integer or a mapping with soft and hard"), key_pattern=re.compile("^[a-z]+$")),
    "user": STR, "userns_mode": STR, "uts": STR,
    "volumes": ListOf(OneOf(STR, _VOLUME_LONG, name="a string or a mapping"), unique=True),
    "volumes_from": LIST_OF_STRINGS, "working_dir": STR,
})
SPEC_SERVICE.keys["storage_opt"] = DictOf(ANY)

V1_SERVICE = Obj({
    key: SPEC_SERVICE.keys[key] for key in (
        "cap_add", "cap_drop", "cgroup_parent", "command", "container_name", "cpu_quota", "cpu_shares", "cpuset",
        "devices", "dns", "dns_search", "domainname", "entrypoint", "env_file", "environment", "expose",
        "external_links", "extra_hosts", "hostname", "image", "ipc", "labels", "links", "mac_address",
        "mem_limit", "mem_swappiness", "memswap_limit", "pid", "ports", "privileged", "read_only", "restart",
        "security_opt", "shm_size", "stdin_open", "stop_signal", "tty", "ulimits", "user", "volumes",
        "volumes_from", "working_dir")
}, x=False)
V1_SERVICE.keys.update({
    # docker-compose 1.29.2 takes the ``extends: base`` shorthand in v1 files too.
    "build": STR, "dockerfile": STR, "extends": SPEC_SERVICE.keys["extends"],
    "log_driver": STR, "log_opt": DictOf(OneOf(STR, NUM, NULL, name="a string, a number or null")),
    "net": STR, "volume_driver": STR,
    "volumes": ListOf(STR, unique=True), "ports": ListOf(STR_OR_NUM, unique=True),
})

NETWORK = OneOf(NULL, Obj({
    "name": STR, "driver": STR, "driver_opts": DictOf(STR_OR_NUM),
    "ipam": Obj({"driver": STR, "config": ListOf(Obj({"subnet": STR, "ip_range": STR, "gateway": STR,
                                                       "aux_addresses": DictOf(STR)})),
                 "options": DictOf(STR)}),
    "external": OneOf(BOOL, Obj({"name": STR}), name="a boolean or a mapping"),
    "internal": BOOL, "enable_ipv6": BOOL, "attachable": BOOL, "labels": LIST_OR_DICT,
}), name="a mapping or null")
VOLUME = OneOf(NULL, Obj({
    "name": STR, "driver": STR, "driver_opts": DictOf(STR_OR_NUM),
    "external": OneOf(BOOL, Obj({"name": STR}), name="a boolean or a mapping"), "labels": LIST_OR_DICT,
}), name="a mapping or null")
_FILE_OBJECT = OneOf(NULL, Obj({"name": STR, "file": STR, "environment": STR, "content": STR,
                                "external": OneOf(BOOL, Obj({"name": STR}), name="a boolean or a mapping"),
                                "labels": LIST_OR_DICT, "driver": STR, "driver_opts": DictOf(STR_OR_NUM),
                                "template_driver": STR}), name="a mapping or null")
INCLUDE = ListOf(OneOf(STR, Obj({"path": STRING_OR_LIST, "env_file": STRING_OR_LIST, "project_directory": STR},
                              x=False, required=("path",)), name="a path or a mapping with 'path'"))
TOP_SECTIONS = {"networks": NETWORK, "volumes": VOLUME, "secrets": _FILE_OBJECT, "configs": _FILE_OBJECT}


def _obj(spec):
    """The first Obj reached through OneOf options, list items and mapping values, or None."""
    if isinstance(spec, Obj):
        return spec
    if isinstance(spec, OneOf):
        return next((o for o in map(_obj, spec.options) if o is not None), None)
    if isinstance(spec, ListOf):
        return _obj(spec.item)
    if isinstance(spec, DictOf):
        return _obj(spec.value)
    return None


def _install_refusals():
    """Put support.REFUSED into the tables: such keys fail with their reason, not as unknown keys."""
    from napcompose.config.support import REFUSED

    roots = {"top": None, "network": NETWORK}
    for path, why in REFUSED.items():
        root, _, path = path.rpartition(":")
        if root == "top":
            TOP_REFUSED[path] = why
            continue
        node = roots[root] if root else SPEC_SERVICE
        *parents, last = [p[:-2] if p.endswith("[]") else p for p in path.split(".")]
        if not root and not parents and last in V1_SERVICE.keys:
            V1_SERVICE.keys[last] = Refused(why)  # version 1 files take some of the same keys
        for part in parents:
            if part != "*":
                node = _obj(node).keys[part]
        _obj(node).keys[last] = Refused(why)


TOP_REFUSED = {}


def suggest(word, candidates):
    """A " (did you mean ...?)" hint, or ''."""
    close = difflib.get_close_matches(str(word), sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(spec):
    if isinstance(spec, str):
        return {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
                "null": "null"}.get(spec, spec)
    if isinstance(spec, (Obj, DictOf)):
        return "a mapping"
    if isinstance(spec, ListOf):
        return "a list"
    if isinstance(spec, Enum):
        return "one of " + ", ".join(repr(v) for v in spec.values)
    return spec.name or " or ".join(_type_name(o) for o in spec.options)


def _scalar_ok(kind, value):
    if kind == ANY:
        return True
    if kind == NULL:
        return value is None
    if kind == STR:
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool) or (isinstance(value, Interpolated)
                                           and value.lower() in ("true", "false", "yes", "no", "1", "0"))
    if isinstance(value, bool):
        return False
    if kind == INT:
        return isinstance(value, int) or (isinstance(value, Interpolated) and re.fullmatch(r"-?\d+", value))
    if kind == NUM:
        if isinstance(value, (int, float)):
            return True
        if isinstance(value, Interpolated):
            try:
                float(value)
                return True
            except ValueError:
                return False
    return False


def _fits(spec, value):
    """Whether ``value`` has the shape of ``spec`` at its top level (used to pick a OneOf branch)."""
    if isinstance(spec, str):
        return _scalar_ok(spec, value)
    if isinstance(spec, (Obj, DictOf)):
        return isinstance(value, dict)
    if isinstance(spec, ListOf):
        return isinstance(value, list)
    if isinstance(spec, Enum):
        return value in spec.values
    if isinstance(spec, Pattern):
        return isinstance(value, str) and spec.regex.fullmatch(value) is not None
    return any(_fits(o, value) for o in spec.options)


class Checker:
    """Walks one section entry (a service, a network...) and raises ConfigError at the first problem."""

    def __init__(self, filename, kind, name):
        self.filename, self.kind, self.name = filename, kind, name

    def fail(self, path, line, message):
        where = f"{self.filename}:{line}" if line else self.filename
        subject = f"{self.kind} '{self.name}'" if self.kind else "top level"
        path_text = f" {path}:" if path else ""
        raise ConfigError(f"{where}: {subject}:{path_text} {message}")

    def check(self, spec, value, path, line):
        if isinstance(spec, Refused):
            self.fail(path, line, f"not supported by nap-compose: {spec.why}")
        if isinstance(spec, OneOf):
            for option in spec.options:
                if _fits(option, value):
                    return self.check(option, value, path, line)
            self.fail(path, line, f"must be {_type_name(spec)}, not {describe(value)}")
        if isinstance(spec, str):
            if not _scalar_ok(spec, value):
                self.fail(path, line, f"must be {_type_name(spec)}, not {describe(value)}")
            return
        if isinstance(spec, Enum):
            if value not in spec.values:
                self.fail(path, line, f"must be {_type_name(spec)}, not {describe(value)}")
            return
        if isinstance(spec, Pattern):
            if not _fits(spec, value):
                self.fail(path, line, f"must match {spec.regex.pattern}, not {describe(value)}")
            return
        if isinstance(spec, ListOf):
            if not isinstance(value, list):
                self.fail(path, line, f"must be a list, not {describe(value)}")
            seen = set()
            for index, item in enumerate(value):
                item_line = line_of(value, index) or line
                self.check(spec.item, item, f"{path}[{index}]", item_line)
                if spec.unique and isinstance(item, (str, int, float)):
                    if item in seen:
                        self.fail(f"{path}[{index}]", item_line, f"{item!r} is listed twice")
                    seen.add(item)
            return
        if not isinstance(value, dict):
            self.fail(path, line, f"must be a mapping, not {describe(value)}")
        if isinstance(spec, DictOf):
            for key, item in value.items():
                key_line = line_of(value, key) or line
                if not isinstance(key, str) or (spec.key_pattern and not spec.key_pattern.match(key)):
                    self.fail(_join(path, key), key_line, "is not a valid name here")
                self.check(spec.value, item, _join(path, key), key_line)
            return
        for key in spec.required:
            if key not in value:
                self.fail(path, line, f"'{key}' is required")
        for key, item in value.items():
            key_line = line_of(value, key) or line
            if isinstance(key, str) and key.startswith("x-") and spec.x:
                continue
            if key not in spec.keys:
                self.fail(_join(path, key), key_line, "unknown key" + suggest(key, spec.keys))
            self.check(spec.keys[key], item, _join(path, key), key_line)


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_install_refusals()
