"""Several -f files and extends: docker-compose's override rules."""

import pytest

from napcompose.errors import ConfigError
from napcompose.model import Dependency, Link

from .conftest import parse

BASE = """version: '2.4'
services:
  web:
    image: nginx
    command: [a]
    environment: {A: "1", B: "1"}
    ports: ["80"]
    links: [db]
    volumes: ['/host/a:/data', '/host/logs:/logs']
    dns: 10.0.0.1
    labels: [x=1]
  db: {image: redis}
"""
OVERRIDE = """version: '2.4'
services:
  web:
    image: nginx:2
    command: [b]
    environment: {B: "2"}
    ports: ["443"]
    links: ['db:primary']
    volumes: ['/host/b:/data']
    dns: [10.0.0.2]
    labels: {y: "2"}
    depends_on: [cache]
  cache: {image: memcached}
"""


def test_override_rules():
    project = parse(BASE, extra=[("override.yml", OVERRIDE)])
    web = project.service("web")
    assert web.image == "nginx:2"
    assert web.command == ("b",)
    assert dict(web.environment) == {"A": "1", "B": "2"}
    assert [p.container_port for p in web.ports] == [80, 443]
    assert web.links == (Link("db", "db"), Link("db", "primary"))  # merged by alias, as docker-compose does
    assert web.volumes == ("/host/b:/data", "/host/logs:/logs")
    assert web.dns == ("10.0.0.1", "10.0.0.2")
    assert dict(web.labels) == {"x": "1", "y": "2"}
    assert web.depends_on == (Dependency("cache"),)
    assert project.service_names == ("cache", "db", "web")
    assert project.source_files == ("docker-compose.yml", "override.yml")


def test_errors_in_an_override_name_that_file():
    import pytest
    from napcompose.errors import ConfigError
    with pytest.raises(ConfigError) as info:
        parse(BASE, extra=[("override.yml", "version: '2.4'\nservices:\n  web:\n    links: [nope]\n")])
    assert str(info.value) == ("override.yml:4: service 'web': links: refers to service 'nope', which is not "
                               "defined")


def test_extends_in_the_same_file():
    project = parse("version: '2.4'\nservices:\n  base:\n    image: busybox\n    environment: {A: '1'}\n"
                    "    cap_add: [NET_ADMIN]\n  web:\n    extends: base\n    environment: {B: '2'}\n")
    web = project.service("web")
    assert (web.image, dict(web.environment), web.cap_add) == ("busybox", {"A": "1", "B": "2"}, ("NET_ADMIN",))


def test_extends_shorthand_in_a_version_1_file():
    # docker-compose 1.29.2 accepts the shorthand string in v1 files as in every later format.
    project = parse("base:\n  image: busybox\n  environment: {A: '1'}\nweb:\n  extends: base\n  command: sleep 1\n")
    web = project.service("web")
    assert (web.image, dict(web.environment), web.command) == ("busybox", {"A": "1"}, ("sleep", "1"))


def test_extends_in_a_version_1_file_must_be_a_name_or_a_mapping():
    with pytest.raises(ConfigError) as info:
        parse("base: {image: busybox}\nweb:\n  extends: [base]\n")
    assert str(info.value) == ("docker-compose.yml:3: service 'web': extends: must be a string or a mapping, "
                               "not a list")


def test_extends_chain_and_other_file():
    common = "version: '2.4'\nservices:\n  root:\n    image: busybox\n    labels: {a: '1'}\n"
    files = {"/srv/proj/common.yml": common}
    from napcompose.config import parse_project
    project = parse_project(
        [("docker-compose.yml", "version: '2.4'\nservices:\n  mid:\n    extends: {file: common.yml, service: root}\n"
                                "    labels: {b: '2'}\n  leaf:\n    extends: mid\n    labels: {c: '3'}\n")],
        project_name="p", working_dir="/srv/proj", read=files.__getitem__)
    assert dict(project.service("leaf").labels) == {"a": "1", "b": "2", "c": "3"}


def test_network_settings_merge_per_network():
    base = ("version: '2.4'\nservices:\n  web:\n    image: x\n    networks:\n      lan: {aliases: [w]}\n"
            "networks:\n  lan: {}\n")
    over = "version: '2.4'\nservices:\n  web:\n    networks:\n      lan: {ipv4_address: 10.1.0.5}\n"
    net = parse(base, extra=[("o.yml", over)]).service("web").networks[0]
    assert (net.name, net.ipv4_address, net.aliases) == ("lan", "10.1.0.5", ("w",))


def test_x_nap_later_file_overrides_earlier():
    base = "version: '3.8'\nx-nap: {strategy: binpack, seed: 3}\nservices:\n  web: {image: x}\n"
    over = "version: '3.8'\nx-nap: {seed: 9}\nservices:\n  web: {x-nap: {hosts: [n2]}}\n"
    project = parse(base, extra=[("nap-compose.yml", over)])
    assert (project.strategy, project.seed) == ("binpack", 9)
    assert project.service("web").placement.hosts == ("n2",)
