"""Today's long forms: env_file entries, depends_on required/restart, restart, start_interval, host_ip."""

import pytest

from napcompose.config import load_project
from napcompose.errors import ConfigError
from napcompose.model import PortSpec

from tests.unit.config.conftest import parse
from tests.unit.config.test_discovery import write


def service(body, **kwargs):
    return parse("services:\n  web:\n    image: nginx\n" + body, **kwargs).service("web")


def load(root, **kwargs):
    return load_project(cwd=str(root), environ={}, **kwargs)


def test_env_file_long_form_optional_file_may_be_missing(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file:\n      - a.env\n"
                                     "      - path: ./local.env\n        required: false\n"
                                     "      - path: b.env\n", "a.env": "A=1\nB=1\n", "b.env": "B=2\n"})
    assert dict(load(tmp_path).service("web").environment) == {"A": "1", "B": "2"}
    write(tmp_path, {"local.env": "A=local\n"})
    assert dict(load(tmp_path).service("web").environment) == {"A": "local", "B": "2"}


def test_env_file_long_form_required_by_default(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file:\n      - path: x.env\n"})
    with pytest.raises(ConfigError, match=r"compose.yaml:4: service 'web': env_file: x.env not found"):
        load(tmp_path)


def test_env_file_raw_format_keeps_values_as_written(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file:\n"
                                     "      - {path: x.env, format: raw}\n", "x.env": "A='quoted' # not a comment\n"})
    assert dict(load(tmp_path).service("web").environment) == {"A": "'quoted' # not a comment"}


def test_other_env_file_formats_are_refused_by_name(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file:\n"
                                     "      - {path: x.env, format: json}\n", "x.env": "A=1\n"})
    with pytest.raises(ConfigError, match=r"compose.yaml:4: service 'web': env_file: format 'json' is not "
                                          r"supported by nap-compose \(the default KEY=VALUE format and 'raw' are\)"):
        load(tmp_path)


def test_env_file_entry_needs_a_path():
    with pytest.raises(ConfigError, match=r"service 'web': env_file\[0\]: 'path' is required"):
        service("    env_file:\n      - required: false\n")


def test_depends_on_restart_is_recorded():
    text = ("services:\n  web:\n    image: nginx\n    depends_on:\n      db: {condition: service_started, "
            "restart: true}\n  db:\n    image: redis\n")
    (dep,) = parse(text).service("web").depends_on
    assert (dep.service, dep.restart) == ("db", True)


def test_required_true_dependency_on_a_missing_service_is_still_an_error():
    text = ("services:\n  web:\n    image: nginx\n    depends_on:\n      db: {condition: service_started, "
            "required: true}\n")
    with pytest.raises(ConfigError, match="refers to service 'db', which is not defined"):
        parse(text)


def test_restart_is_recorded():
    assert service("    restart: unless-stopped\n").restart == "unless-stopped"


def test_healthcheck_start_interval_is_recorded_with_a_warning():
    warnings = []
    hc = service("    healthcheck:\n      test: [CMD, 'true']\n      start_period: 30s\n      start_interval: 2s\n",
                 warn=warnings.append).healthcheck
    assert (hc.start_period_s, hc.start_interval_s) == (30.0, 2.0)
    assert any("healthcheck.start_interval is recorded but not applied" in w for w in warnings)


def test_host_ip_short_form():
    assert service("    ports: ['127.0.0.1:8080:80', '[::1]:53:53/udp']\n").ports == (
        PortSpec(container_port=80, protocol="tcp", host_port=8080, host_ip="127.0.0.1"),
        PortSpec(container_port=53, protocol="udp", host_port=53, host_ip="::1"))


def test_host_ip_long_form():
    ports = service("    ports:\n      - target: 80\n        published: '8080'\n        host_ip: 127.0.0.1\n"
                    "        name: web\n        app_protocol: http\n        mode: host\n").ports
    assert ports == (PortSpec(container_port=80, protocol="tcp", host_port=8080, host_ip="127.0.0.1"),)


def test_long_form_published_range_is_refused():
    with pytest.raises(ConfigError, match=r"service 'web': ports: published '8000-8010': a range of host ports"):
        service("    ports:\n      - target: 80\n        published: 8000-8010\n")


def test_long_form_mode_is_checked():
    with pytest.raises(ConfigError, match=r"ports\[0\].mode: must be one of 'host', 'ingress'"):
        service("    ports:\n      - {target: 80, mode: global}\n")
