"""Every compose format reads into the same model."""

import pathlib

import pytest

from napcompose.errors import ConfigError
from napcompose.model import Dependency, Link

from .conftest import parse

# The seed's own compose file (the nap-compose design note), kept once in the compat corpus.
GUESTBOOK = (pathlib.Path(__file__).resolve().parents[2] / "compat" / "cases" / "01_seed_guestbook_v1"
             / "docker-compose.yml").read_text()


def test_seed_guestbook_v1():
    project = parse(GUESTBOOK)
    assert project.service_names == ("redis-master", "redis-slave", "web")
    web = project.service("web")
    assert web.links == (Link("redis-master", "redis-master"), Link("redis-slave", "redis-slave"))
    assert [(p.host_port, p.container_port) for p in web.ports] == [(80, 80)]
    assert [(p.host_port, p.container_port) for p in project.service("redis-master").ports] == [(None, 6379)]


def test_v1_only_keys_are_translated():
    project = parse("app:\n  build: ./app\n  dockerfile: Dockerfile.dev\n  log_driver: syslog\n"
                    "  log_opt: {tag: x}\n")
    app = project.service("app")
    assert (app.build.context, app.build.dockerfile) == ("/srv/proj/app", "Dockerfile.dev")
    assert (app.logging.driver, app.logging.options) == ("syslog", (("tag", "x"),))


def test_v1_net_is_refused_as_network_mode_is():
    with pytest.raises(ConfigError) as info:
        parse("app:\n  image: busybox\nside:\n  image: busybox\n  net: 'container:app'\n")
    assert str(info.value).startswith("docker-compose.yml:5: service 'side': net: not supported by nap-compose: "
                                      "every container joins the cluster's flat network")


def test_v1_refuses_later_keys():
    with pytest.raises(ConfigError) as info:
        parse("web:\n  image: busybox\n  depends_on: [db]\n")
    assert str(info.value) == "docker-compose.yml:3: service 'web': depends_on: unknown key"


@pytest.mark.parametrize("version", ["2", "2.0", "2.1", "2.2", "2.3", "2.4", "3", "3.0", "3.1", "3.2", "3.3",
                                     "3.4", "3.5", "3.6", "3.7", "3.8", "3.9"])
def test_versioned_formats(version):
    project = parse(f"version: '{version}'\nservices:\n  web:\n    image: nginx\n    links: ['db:database']\n"
                    "    depends_on: [db]\n  db:\n    image: redis\n")
    web = project.service("web")
    assert web.links == (Link("db", "database"),)
    assert web.depends_on == (Dependency("db"),)


def test_spec_without_version():
    project = parse("services:\n  web:\n    image: nginx\n    depends_on:\n      db:\n"
                    "        condition: service_healthy\n  db:\n    image: redis\n")
    assert project.service("web").depends_on == (Dependency("db", "service_healthy"),)


@pytest.mark.parametrize("text,message", [
    ("version: 3\nservices: {web: {image: x}}\n",
     'docker-compose.yml:1: version 3 must be a string: write version: "3"'),
    ("version: '1'\nservices: {web: {image: x}}\n",
     "docker-compose.yml:1: version '1': a version 1 file has no 'version' key; write the services at the top "
     "level, or use version 2 or later"),
    ("version: '4.0'\nservices: {web: {image: x}}\n",
     "docker-compose.yml:1: version '4.0' is not a compose file version (2.0-2.4, 3.0-3.9)"),
    ("", "docker-compose.yml: the top level must be a mapping, but the file is empty"),
    ("- a\n", "docker-compose.yml: the top level must be a mapping, but the file is a list"),
    ("version: '3'\nservice: {web: {image: x}}\n",
     "docker-compose.yml:2: top level: service: unknown key (did you mean 'services'?)"),
    ("version: '3'\nservices: [web]\n", "docker-compose.yml:2: services must be a mapping"),
])
def test_format_errors(text, message):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert str(info.value) == message


def test_top_level_x_keys_are_free_and_x_nap_is_read():
    project = parse("version: '3.8'\nx-anything: {a: 1}\nx-nap: {strategy: random, seed: 42}\n"
                    "services:\n  web:\n    image: nginx\n    x-other: 1\n")
    assert (project.strategy, project.seed) == ("random", 42)
