"""Whatever a compose file holds, loading it ends in a Project or in a NapComposeError with a message.

The documents are generated: mostly plausible compose files with a few wrong parts mixed in (versions,
services with unknown keys and values of the wrong type, links and depends_on that may loop, extends
chains within and across files, a file naming itself, interpolation forms, ports strings, networks,
volumes, YAML anchors, aliases, merge keys and tags). Each one is written to a temporary directory and
read through ``load_project``, the entry point the CLI uses. ``pytest --hypothesis-show-statistics``
shows which outcomes the examples reach.
"""

import os
import re
import tempfile

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from napcompose.config import load_project
from napcompose.errors import NapComposeError
from napcompose.model import Project

# Bounded so that tests/unit stays quick; NAP_PROPERTY_EXAMPLES=5000 runs a deeper search.
SETTINGS = settings(max_examples=int(os.environ.get("NAP_PROPERTY_EXAMPLES", "80")), deadline=None,
                    suppress_health_check=list(HealthCheck))


# How often a value is replaced by a wrong one, drawn once per example: in about half the examples never,
# so those reach the checks across services and files; in the others one draw in 6 or in 24.
BADNESS = st.shared(st.sampled_from([0, 0, 6, 24]), key="badness")


def rarely(bad, good):
    """``good``, or now and then ``bad`` (see BADNESS)."""
    return BADNESS.flatmap(
        lambda rate: good if rate == 0 else st.integers(0, rate - 1).flatmap(lambda n: bad if n == 0 else good))


scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["1.5", "yes", "~", "2001-12-14", "10s", "512m", "service:db", "host", "$", "${A:-x}"]))
hashable = st.one_of(st.text(max_size=4), st.integers(0, 3), st.booleans(), st.none())
anything = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(hashable, inner, max_size=3)), max_leaves=4)


def either(*options):
    """A plausible value for a key, now and then a value of any type or shape at all."""
    return rarely(anything, st.one_of(*options))


name = rarely(st.sampled_from(["-bad", "my web", "", "Web", "x" * 64]),
              st.sampled_from(["web", "db", "base", "api", "mid", "w-1", "a.b"]))
var = rarely(st.just("1A"), st.sampled_from(["A", "EMPTY", "PORT", "UNSET", "_x"]))
interp_piece = st.one_of(
    st.sampled_from(["x", "-", ":", "80", "/", "$$", " "]), var.map(lambda v: f"${v}"),
    var.map(lambda v: f"${{{v}}}"),
    st.tuples(var, st.sampled_from([":-", "-", ":?", "?"]), st.sampled_from(["", "d", "8080", "${A}"]))
    .map(lambda t: f"${{{t[0]}{t[1]}{t[2]}}}"),
    rarely(st.sampled_from(["$", "${", "${}", "${A:+x}", "${A=x}", "}"]), st.just("y")))
interp = st.lists(interp_piece, min_size=1, max_size=3).map("".join)
port = st.one_of(
    st.sampled_from(["80", "8080:80", "127.0.0.1::80", "127.0.0.1:8080:80/udp", "${PORT}:80", "${EMPTY}:80",
                     "${PORT:-81}:80", "3000-3001", "9000-9001:3000-3001", "[::1]:53:53/udp", "${PORT}"]),
    st.integers(1, 65535),
    rarely(st.lists(st.sampled_from(["127.0.0.1:", ":", "8080:", "9000-9002:", "80", "80-81", "/udp", "/bad",
                                     "-", "0", "65536", "${EMPTY}"]), min_size=1, max_size=4).map("".join),
           st.fixed_dictionaries({"target": either(st.integers(1, 65535))},
                                 optional={"published": either(st.integers(1, 65535), interp),
                                           "protocol": either(st.sampled_from(["tcp", "udp"]))})))
duration = st.sampled_from(["10s", "1m30s", "500ms", "1h", 5, "bad", "", "-1s"])
extends_file = rarely(st.sampled_from(["missing.yml", "lib", "", "/dev/null", "../lib/common.yml"]),
                      st.sampled_from(["docker-compose.yml", "./docker-compose.yml", "other.yml", "lib/common.yml"]))
extends = st.one_of(name, st.fixed_dictionaries({"service": name}, optional={"file": extends_file}),
                    rarely(st.fixed_dictionaries({"file": extends_file}), name))
volume = st.one_of(
    st.sampled_from(["data:/data", "./here:/x", "~/x:/y:ro", "/a:/b:rw", "/only", "undeclared:/z", ":/x", "data:"]),
    st.fixed_dictionaries({"target": either(st.just("/t"))},
                          optional={"type": st.sampled_from(["bind", "volume"]), "read_only": either(st.booleans()),
                                    "source": either(st.sampled_from(["data", "./x"]))}))
network_entry = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "aliases": either(st.lists(name, max_size=2)),
    "ipv4_address": either(st.sampled_from(["10.5.0.10", "10.5.0.254", "10.6.0.1", "10.5.0.300", "::1"]))}))
SERVICE_KEYS = {
    "build": either(st.sampled_from([".", "./nope", "https://example.invalid/y.git"]),
                    st.fixed_dictionaries({"context": either(st.just("."))},
                                          optional={"dockerfile": either(st.just("Df")), "args": anything})),
    "links": either(st.lists(st.one_of(name, st.tuples(name, name).map(":".join)), max_size=3)),
    "external_links": either(st.lists(st.sampled_from(["x", "x:y", "a b"]), max_size=2)),
    "depends_on": either(st.lists(name, max_size=3), st.dictionaries(name, st.fixed_dictionaries(
        {"condition": either(st.sampled_from(["service_started", "service_healthy", "started"]))}), max_size=3)),
    "extends": either(extends),
    "ports": either(st.lists(port, max_size=3)),
    "expose": either(st.lists(st.sampled_from(["80", "80/udp", "1-3", 443, "x", "", "${EMPTY}"]), max_size=2)),
    "networks": either(st.lists(st.sampled_from(["default", "lan", "back"]), max_size=2),
                       st.dictionaries(st.sampled_from(["default", "lan", "back"]), network_entry, max_size=2)),
    "volumes": either(st.lists(volume, max_size=3)),
    "volumes_from": either(st.lists(st.sampled_from(["db", "db:ro", "container:x", "nope", "base"]), max_size=2)),
    "network_mode": either(st.sampled_from(["bridge", "host", "service:db", "service:web", "service:", "x:y"])),
    "ipc": either(st.sampled_from(["host", "service:db"])), "pid": either(st.sampled_from(["host", "service:api"])),
    "environment": either(st.dictionaries(st.sampled_from(["A", "B", "", "A B"]), st.one_of(interp, scalar),
                                          max_size=3),
                          st.lists(st.sampled_from(["A=1", "B", "=x", "C=${A}"]), max_size=3)),
    "env_file": either(st.sampled_from([".env", "missing.env", "lib"])),
    "command": either(st.sampled_from(["echo 'unterminated", "sleep 1", ""]), st.lists(interp, max_size=2)),
    "scale": either(st.integers(-2, 4), st.just("2")),
    "deploy": either(st.fixed_dictionaries({}, optional={
        "replicas": either(st.integers(-1, 3)), "mode": either(st.sampled_from(["replicated", "global"])),
        "placement": either(st.fixed_dictionaries({}, optional={
            "constraints": either(st.lists(st.just("node.labels.a==b"))),
            "preferences": either(st.lists(st.just({"spread": "x"}), max_size=1)),
            "max_replicas_per_node": either(st.integers(0, 2))})),
        "resources": either(st.fixed_dictionaries({}, optional={
            "limits": either(st.fixed_dictionaries({"cpus": either(st.just("0.5")), "memory": either(st.just("1g"))})),
            "reservations": anything})),
        "restart_policy": either(st.fixed_dictionaries({"condition": either(st.sampled_from(["any", "x"]))}))})),
    "healthcheck": either(st.fixed_dictionaries({}, optional={
        "test": either(st.lists(st.sampled_from(["CMD", "NONE", "true"]), max_size=2), st.just("true")),
        "interval": either(duration), "timeout": either(duration), "retries": either(st.integers(-1, 3)),
        "disable": either(st.booleans())})),
    "x-nap": either(st.fixed_dictionaries({}, optional={
        "strategy": either(st.sampled_from(["spread", "binpack", "spred"])), "hosts": either(st.lists(name)),
        "affinity": either(st.lists(name, max_size=2)), "max_per_host": either(st.integers(-1, 3))})),
    "extra_hosts": either(st.lists(st.sampled_from(["h:10.0.0.1", "h", "h:", "-h:1.2.3.4", "h:notip"]), max_size=2),
                          st.dictionaries(st.sampled_from(["h", "k"]), scalar, max_size=2)),
    "hostname": either(name), "container_name": either(name),
    "ulimits": either(st.dictionaries(st.sampled_from(["nofile", "Bad"]), either(
        st.integers(-1, 9), st.fixed_dictionaries({"soft": either(st.integers()), "hard": either(st.integers())})),
        max_size=2)),
    "logging": either(st.fixed_dictionaries({}, optional={"driver": either(st.just("json-file")),
                                                          "options": either(st.just({"max-size": "1m"}))})),
    "mem_limit": either(st.sampled_from(["512m", "1g", "lots", "1.5k", 1024])),
    "stop_grace_period": either(duration),
    "labels": either(st.dictionaries(st.sampled_from(["a", "b"]), scalar, max_size=2)),
    "privileged": either(st.booleans()), "tmpfs": either(st.just("/run")), "user": either(st.just("nobody")),
    "restart": either(st.sampled_from(["always", "no"])), "cpus": either(st.sampled_from([0.5, "x"])),
}
V1_KEYS = {key: SERVICE_KEYS[key] for key in (
    "links", "external_links", "ports", "expose", "volumes_from", "environment", "env_file", "command",
    "extra_hosts", "hostname", "container_name", "ulimits", "mem_limit", "labels", "privileged", "user",
    "restart")}
V1_KEYS.update({"extends": either(extends), "net": either(st.sampled_from(["bridge", "container:db"])),
                "log_driver": either(st.just("syslog")), "build": either(st.just(".")),
                "dockerfile": either(st.just("Df")), "volumes": either(st.lists(st.sampled_from(
                    ["./here:/x", "/a:/b:rw", "/only", "named:/z"]), max_size=2))})


@st.composite
def service(draw, v1=False):
    table = V1_KEYS if v1 else SERVICE_KEYS
    keys = draw(st.lists(st.sampled_from(sorted(table)), max_size=4, unique=True))
    body = draw(rarely(st.just({}), st.just({"image": draw(either(st.just("busybox"), interp))})))
    body.update((key, draw(table[key])) for key in keys)
    body.update(draw(rarely(st.dictionaries(st.text(max_size=5), anything, max_size=1), st.just({}))))
    return body


@st.composite
def document(draw):
    version = draw(rarely(st.sampled_from(["1", "2.5", "", 3, 2.4, "v1", "4.0"]),
                          st.sampled_from(["2", "2.4", "3", "3.8", None, "V1"])))
    v1 = version == "V1"
    names = draw(st.lists(rarely(hashable, name), min_size=1, max_size=4, unique=True))
    services = {n: draw(rarely(anything, service(v1))) for n in names}
    if services and draw(st.integers(0, 4)) == 0:  # one mapping shared by two services: the dump has an alias
        services[draw(name)] = services[names[0]]
    if v1:
        return services
    doc = {} if version is None else {"version": version}
    doc["services"] = services
    if draw(st.booleans()):
        doc["networks"] = draw(either(st.dictionaries(st.sampled_from(["lan", "back", "default"]), st.one_of(
            st.none(), st.fixed_dictionaries({}, optional={
                "external": either(st.booleans()),
                "ipam": either(st.fixed_dictionaries({"config": either(st.lists(st.fixed_dictionaries(
                    {"subnet": either(st.sampled_from(["10.5.0.0/24", "10.5.0.0/33", "x"]))}), max_size=2))}))})),
            max_size=2)))
    if draw(st.booleans()):
        doc["volumes"] = draw(either(st.dictionaries(st.sampled_from(["data", "other"]), st.one_of(
            st.none(), st.fixed_dictionaries({}, optional={"driver": either(st.just("local"))})), max_size=2)))
    if draw(st.integers(0, 3)) == 0:
        doc["x-nap"] = draw(either(st.fixed_dictionaries({}, optional={
            "strategy": either(st.sampled_from(["spread", "random"])), "seed": either(st.integers(-1, 9))})))
    doc.update(draw(rarely(st.dictionaries(st.sampled_from(["x-common", "unknown", "secrets", "configs"]), anything,
                                           max_size=1), st.just({}))))
    return doc


def _dump(value, flow=False):
    return yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True, width=10**6)


anchored = st.builds(
    lambda body, extra, merge: (
        f"version: '2.4'\nx-base: &base {_dump(body, flow=True).strip()}\n"
        f"services:\n  web:\n    <<: {merge}\n    image: busybox\n  db: {extra}\n"),
    service(), st.sampled_from(["*base", "{<<: *base}", "[*base]", "&loop [*loop]", "{image: x, a: &self {b: *self}}",
                                "*nothere", "{<<: *base, <<: *base}", "{<<: [*base, *base], image: y}"]),
    st.sampled_from(["*base", "[*base, *base]", "5", "[5]", "*nothere", "{}"]))
tagged = st.sampled_from([
    "version: '3'\nservices:\n  web: {image: !!binary aGVsbG8=}\n",
    "version: '3'\nservices:\n  web: {image: x, labels: !!set {a, b}}\n",
    "version: '3'\nservices:\n  web: {image: x, environment: {D: 2001-12-14, T: 2001-12-14t21:59:43.10-05:00}}\n",
    "version: '3'\nservices:\n  2001-12-14: {image: x}\n",
    "version: '3'\nservices:\n  web: {image: x, x-nap: {hosts: [!!float 1]}}\n",
    "version: !!binary MQ==\nservices: {web: {image: x}}\n",
    "? [a, b]\n: {image: x}\n",
    "version: '3'\nservices:\n  ? {a: 1}\n  : {image: x}\n",
    "version: '3'\nservices:\n  web: {image: x, ports: [!!binary ODA=]}\n",
    "--- {}\n--- {}\n",
    "\ufeffversion: '3'\nservices: {web: {image: x}}\n",
    "version: '3'\nservices: {web: {image: x, labels: {? [a]: b}}}\n",
    "version: '3'\nservices: {web: {image: x, extends: !!str 5}}\n",
    "version: '3'\nservices: {web: {image: x, environment: !!omap [a: 1]}}\n",
    "version: '3'\nservices: {web: {image: x, labels: !!pairs [a: 1, a: 2]}}\n",
    "version: '3'\nservices: {web: {image: x, stop_grace_period: !!timestamp 2001-12-14}}\n",
    "web: {image: x, ports: [!!int 80]}\n",
])
# Scalars that are valid YAML but odd values: non-finite floats, numbers too long for int() or for printing,
# dates that do not exist, strings holding a NUL, port numbers of thousands of digits.
ODD_SCALARS = [".inf", "-.inf", ".nan", "1" * 5000, "0x" + "f" * 5000, "2001-13-45", "!!int x", "!!float y",
               "'9" + "9" * 400 + "m'", "'9" + "9" * 400 + "s'", '"a\\0b"', "'" + "1" * 5000 + "'",
               "'" + "1" * 5000 + ":80'", "'000080'", "1e400", "!!binary aGVsbG8="]
odd_place = st.sampled_from(["{key}: {odd}", "healthcheck: {{retries: {odd}}}", "ports: [{odd}]",
                             "expose: [{odd}]", "extends: {{file: {odd}, service: web}}", "ulimits: {{nofile: {odd}}}",
                             "deploy: {{replicas: {odd}, resources: {{limits: {{cpus: {odd}}}}}}}",
                             "networks: {{default: {{ipv4_address: {odd}}}}}", "environment: {{A: {odd}}}"])
odd_values = st.builds(
    lambda place, key, odd: ("version: '2.4'\nservices:\n  web:\n    image: x\n    "
                             + place.format(key=key, odd=odd) + "\n"),
    odd_place, st.sampled_from(["scale", "mem_limit", "shm_size", "cpus", "mem_reservation", "stop_grace_period",
                                "image", "build", "env_file", "x-nap", "hostname", "labels", "cpu_shares",
                                "pids_limit", "cpu_period", "cpu_rt_runtime", "oom_score_adj", "memswap_limit",
                                "mem_swappiness", "cpuset", "devices", "blkio_config"]),
    st.sampled_from(ODD_SCALARS))
env_text = st.lists(rarely(st.sampled_from(["bad line", "1A=x", "Q='unterminated", "D=\"a\\nb\"", "export"]),
                           st.sampled_from(["A=1", "EMPTY=", "PORT=8080", "PORT=", "export A=2", "# c", ""])),
                    max_size=4).map("\n".join)
ENVIRON = st.dictionaries(var, st.sampled_from(["", "1", "8080", "x y", "${A}", "$$"]), max_size=3)


def _outcome(files, environ, argv_files=None):
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as handle:
                handle.write(text)
        try:
            return load_project(files=argv_files, environ=environ, cwd=root)
        except NapComposeError as exc:
            return exc


def _check(result):
    if isinstance(result, NapComposeError):
        assert str(result).strip(), f"{type(result).__name__} without a message"
        event(f"{type(result).__name__}: {re.sub(r'[0-9]+', 'N', str(result).split(': ', 2)[-1])[:40]}")
    else:
        assert isinstance(result, Project)
        event("Project")


@SETTINGS
@given(main=document(), others=st.dictionaries(st.sampled_from(["other.yml", "lib/common.yml", "override.yml"]),
                                               document(), max_size=2),
       env=st.one_of(st.none(), env_text), environ=ENVIRON, flow=st.booleans())
def test_generated_documents_load_or_fail_with_a_message(main, others, env, environ, flow):
    files = {"docker-compose.yml": _dump(main, flow)}
    files.update((path, _dump(doc, not flow)) for path, doc in others.items())
    if env is not None:
        files[".env"] = env
    argv = ["docker-compose.yml", "override.yml"] if "override.yml" in files else None
    _check(_outcome(files, environ, argv))


@SETTINGS
@given(text=st.one_of(anchored, tagged, odd_values), environ=ENVIRON)
def test_anchors_aliases_merge_keys_tags_and_odd_scalars_load_or_fail_with_a_message(text, environ):
    _check(_outcome({"docker-compose.yml": text}, environ))
