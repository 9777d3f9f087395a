"""Service keys -> ServiceSpec fields."""

import pytest

from napcompose.config import values
from napcompose.errors import ConfigError
from napcompose.model import Healthcheck, PortSpec, Ulimit

from .conftest import parse


def one(body, version="2.4", environ=None, warn=None):
    text = f"version: '{version}'\nservices:\n  web:\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return parse(text, environ, warn=warn).service("web")


@pytest.mark.parametrize("text,expected", [
    ("80", [PortSpec(80)]),
    ("8080:80", [PortSpec(80, host_port=8080)]),
    ("127.0.0.1:8080:80/udp", [PortSpec(80, "udp", 8080, "127.0.0.1")]),
    ("127.0.0.1::80", [PortSpec(80, host_ip="127.0.0.1")]),
    ("3000-3001", [PortSpec(3000), PortSpec(3001)]),
    ("9000-9001:3000-3001", [PortSpec(3000, host_port=9000), PortSpec(3001, host_port=9001)]),
])
def test_port_forms(text, expected):
    assert values.ports(text) == expected


EMPTY_PORT_FILES = {
    "1": "web:\n  image: x\n  ports:\n    - '127.0.0.1::443'\n    - '${P}:80'\n",
    "2.4": "version: '2.4'\nservices:\n  web:\n    image: x\n    ports: ['127.0.0.1::443', '${P}:80']\n",
    "3.8": "version: '3.8'\nservices:\n  web:\n    image: x\n    ports:\n      - '${P}:80'\n",
}


@pytest.mark.parametrize("version,line", [("1", 3), ("2.4", 5), ("3.8", 5)])
def test_port_whose_variable_is_empty_is_refused(version, line):
    # ':80' has no host port for its container port; docker-compose 1.29.2 refuses it too.
    with pytest.raises(ConfigError) as info:
        parse(EMPTY_PORT_FILES[version], environ={"P": ""})
    assert str(info.value) == (f"docker-compose.yml:{line}: service 'web': ports: invalid port ':80': the host "
                               "and container ranges differ in length (the host port before ':' is empty)")


def test_long_port_syntax():
    spec = one("image: x\nports:\n  - {target: 80, published: 8080, protocol: udp}", version="3.8")
    assert spec.ports == (PortSpec(80, "udp", 8080),)


@pytest.mark.parametrize("text,seconds", [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0),
                                          ("1.5s", 1.5), (5, 5.0)])
def test_durations(text, seconds):
    assert values.duration(text) == seconds


@pytest.mark.parametrize("text,size", [(1024, 1024), ("1k", 1024), ("512m", 512 << 20), ("1g", 1 << 30),
                                       ("2gb", 2 << 30), ("100b", 100)])
def test_byte_sizes(text, size):
    assert values.byte_size(text) == size


def test_many_keys():
    spec = one("image: x\ncommand: echo 'a b'\nentrypoint: [/bin/sh, -c]\nhostname: h1\ndomainname: ex.org\n"
               "extra_hosts: ['gw:10.0.0.1']\ndns: 10.0.0.2\nrestart: always\nuser: nobody\nworking_dir: /w\n"
               "stop_signal: SIGKILL\nstop_grace_period: 3s\nprivileged: true\ninit: true\ncap_add: [NET_ADMIN]\n"
               "mem_limit: 1g\ncpus: 0.5\nulimits: {nofile: {soft: 1, hard: 2}, nproc: 3}\n"
               "sysctls: [net.core.somaxconn=1024]\ntmpfs: /run\nshm_size: 64m\n"
               "logging: {driver: json-file, options: {max-size: 1m}}\nexpose: ['9000/udp']\n"
               "healthcheck: {test: curl -f http://localhost, interval: 30s, retries: 3}")
    assert spec.command == ("echo", "a b")
    assert spec.entrypoint == ("/bin/sh", "-c")
    assert (spec.hostname, spec.domainname, spec.extra_hosts) == ("h1", "ex.org", (("gw", "10.0.0.1"),))
    assert (spec.dns, spec.restart, spec.user, spec.working_dir) == (("10.0.0.2",), "always", "nobody", "/w")
    assert (spec.stop_signal, spec.stop_grace_period_s, spec.privileged, spec.init) == ("SIGKILL", 3.0, True, True)
    assert (spec.mem_limit, spec.cpus, spec.shm_size) == (1 << 30, 0.5, 64 << 20)
    assert spec.ulimits == (Ulimit("nofile", 1, 2), Ulimit("nproc", 3, 3))
    assert spec.sysctls == (("net.core.somaxconn", "1024"),)
    assert spec.tmpfs == ("/run",)
    assert (spec.logging.driver, spec.logging.options) == ("json-file", (("max-size", "1m"),))
    assert spec.expose == (PortSpec(9000, "udp"),)
    assert spec.healthcheck == Healthcheck(test=("CMD-SHELL", "curl -f http://localhost"), interval_s=30.0,
                                           retries=3)


def test_environment_sources_and_precedence(tmp_path):
    (tmp_path / "a.env").write_text("A=from_file\nB=from_file\n# c\nQUOTED=\"x y\"\n")
    from napcompose.config import parse_project
    project = parse_project([("docker-compose.yml", "version: '3'\nservices:\n  web:\n    image: x\n"
                              "    env_file: a.env\n    environment: [B=inline, FROM_SHELL, UNSET_ONE]\n")],
                            project_name="p", working_dir=str(tmp_path), environ={"FROM_SHELL": "s"})
    assert dict(project.service("web").environment) == {"A": "from_file", "B": "inline", "FROM_SHELL": "s",
                                                        "QUOTED": "x y"}


def test_scale_and_deploy():
    assert one("image: x\nscale: 3").scale == 3
    spec = one("image: x\ndeploy:\n  replicas: 4\n  placement:\n    constraints: [node.hostname==n1]\n"
               "    preferences: [{spread: node.labels.zone}]\n    max_replicas_per_node: 2\n"
               "  resources: {limits: {cpus: '0.25', memory: 256m}, reservations: {memory: 128m}}\n"
               "  restart_policy: {condition: on-failure}", version="3.8")
    assert spec.scale == 4  # not capped: max_replicas_per_node is a per-host limit across the cluster
    assert spec.placement.constraints == ("node.hostname==n1",)
    assert spec.placement.preferences == ("spread=node.labels.zone",)
    assert spec.placement.max_per_host == 2
    assert (spec.cpus, spec.mem_limit, spec.mem_reservation, spec.restart) == (0.25, 256 << 20, 128 << 20,
                                                                                "on-failure")


def test_x_nap_service_settings_win_over_deploy():
    spec = one("image: x\ndeploy: {placement: {max_replicas_per_node: 2}}\n"
               "x-nap: {strategy: random, hosts: [n1, n2], affinity: [], anti_affinity: [], max_per_host: 1}",
               version="3.8")
    assert (spec.placement.strategy, spec.placement.hosts, spec.placement.max_per_host) == ("random", ("n1", "n2"), 1)


def test_ignored_keys_warn_once_each():
    warnings = []
    one("image: x\ncpu_count: 2\nplatform: linux/amd64", version="3.8", warn=warnings.append)
    assert warnings == ["service 'web': 'cpu_count' is ignored by nap-compose: a Windows option",
                        "service 'web': 'platform' is ignored by nap-compose: images are pulled or built for the "
                        "platform of the host that runs them"]


def test_networks_default_and_named():
    assert [n.name for n in one("image: x").networks] == ["default"]
    for mode in ("host", "none", "bridge", "service:vpn", "container:x"):
        with pytest.raises(ConfigError) as info:
            one(f"image: x\nnetwork_mode: '{mode}'")
        assert "network_mode: not supported by nap-compose: every container joins the cluster's flat network" \
            in str(info.value)


def test_relative_paths_resolve_against_the_project_dir():
    spec = one("build: ./app\nvolumes: ['./data:/data', '/abs:/abs', 'anon']\n")
    assert spec.build.context == "/srv/proj/app"
    assert spec.volumes == ("/srv/proj/data:/data", "/abs:/abs", "anon")


def test_volumes_from_and_another_container_s_namespaces_are_refused_naming_line_and_service():
    # each would need the other container on the same host: dropped without a word before
    for line, key in (("volumes_from: ['data:ro']", "volumes_from"), ("ipc: 'service:data'", "ipc"),
                      ("pid: 'container:legacy'", "pid")):
        text = f"version: '2.4'\nservices:\n  data: {{image: x}}\n  web:\n    image: x\n    {line}\n"
        with pytest.raises(ConfigError) as info:
            parse(text)
        assert str(info.value).startswith(f"docker-compose.yml:6: service 'web': {key}: "), str(info.value)
        assert "same host" in str(info.value)
    text = "version: '2.4'\nservices:\n  web:\n    image: x\n    ipc: host\n    pid: host\n"
    assert (parse(text).service("web").ipc, parse(text).service("web").pid) == ("host", "host")


@pytest.mark.parametrize("line,message", [
    ("mem_limit: .inf", "mem_limit: inf is not a size"),
    ("shm_size: .nan", "shm_size: nan is not a size"),
    ("cpus: .nan", "cpus: nan is not a finite number"),
    ("healthcheck: {retries: .inf}", "healthcheck: inf is not an integer"),
    ("mem_limit: '1" + "0" * 400 + "m'", "mem_limit: '1" + "0" * 400 + "m' is too large a size"),
    ("ports: ['1" + "0" * 5000 + ":80']", "ports: port range '1" + "0" * 5000 + "' is out of 1-65535 or reversed"),
])
def test_numbers_out_of_any_range_are_config_errors(line, message):
    # Each of these ended in OverflowError or ValueError from int() before.
    with pytest.raises(ConfigError) as info:
        one("image: x\n" + line, version="3.8")
    assert str(info.value) == f"docker-compose.yml:5: service 'web': {message}"


def test_leading_zeros_in_a_port_are_allowed():
    assert values.ports("000080:0080") == [PortSpec(80, host_port=80)]
