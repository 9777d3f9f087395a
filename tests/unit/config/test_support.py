"""Every compose key nap-compose does not simply honour is refused or warned about, with its reason."""

import re

import pytest
import yaml

from napcompose.config import parse_project
from napcompose.config.support import IGNORED, REFUSED
from napcompose.errors import ConfigError

from tests.unit.config.conftest import parse

_VOLUME_TYPE = {"bind": "bind", "volume": "volume", "tmpfs": "tmpfs", "image": "volume"}


# A value of the right type for keys that take more than a string.
_SAMPLES = {"blkio_config": {"weight": 10}, "build.cache_from": ["a"], "build.extra_hosts": ["a:10.0.0.1"],
            "build.labels": {"a": "b"}, "cpu_count": 1, "cpu_percent": 1, "credential_spec": {"file": "x"},
            "deploy.labels": {"a": "b"}, "deploy.resources.reservations.devices": [{"capabilities": ["gpu"]}],
            "deploy.resources.reservations.generic_resources": [], "device_cgroup_rules": ["x"],
            "devices": ["x"], "dns_opt": ["x"], "group_add": ["x"], "mem_swappiness": 1,
            "networks.*.link_local_ips": ["x"], "networks.*.priority": 1, "oom_kill_disable": True,
            "oom_score_adj": 1, "pull_policy": "always", "security_opt": ["x"], "storage_opt": {"a": "b"}}


def _service_with(path, value="x"):
    """A service mapping setting ``path`` (dotted; ``*`` a network, ``[]`` a long-form volume)."""
    service = {"image": "nginx"}
    node = service
    parts = path.split(".")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "*":
            continue
        if part.endswith("[]"):
            kind = _VOLUME_TYPE.get(parts[index + 1], "volume")
            item = {"type": kind, "target": "/data"}
            if kind != "tmpfs":
                item["source"] = "./data" if kind == "bind" else "data"
            node[part[:-2]] = [item]
            node = item
            continue
        if index + 1 < len(parts) and parts[index + 1] == "*":
            node[part] = {"lan": {}}
            node = node[part]["lan"]
            continue
        node = node.setdefault(part, value if last else {})
    return service


def _shown(path):
    return path.replace(".*.", ".lan.").replace("[]", "[0]")


def _text(path):
    doc = {"services": {"web": _service_with(path, _SAMPLES.get(path, "x"))}, "networks": {"lan": {}}, "volumes": {"data": {}}}
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("path", sorted(p for p in REFUSED if ":" not in p))
def test_refused_service_key_names_file_line_service_key_and_why(path):
    with pytest.raises(ConfigError) as err:
        parse_project([("compose.yaml", _text(path))], project_name="p", working_dir="/srv/p")
    expected = (rf"^compose\.yaml:\d+: service 'web': {re.escape(_shown(path))}: not supported by "
                rf"nap-compose: {re.escape(REFUSED[path])}$")
    assert re.match(expected, str(err.value)), str(err.value)


def test_develop_watch_says_unsupported():
    text = ("services:\n  web:\n    image: nginx\n    develop:\n      watch:\n"
            "        - {path: ./src, action: sync, target: /src}\n")
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert str(err.value) == (
        "docker-compose.yml:4: service 'web': develop: not supported by nap-compose: watch mode (develop.watch) "
        "is unsupported: it syncs local files into containers, and here containers run on other hosts with "
        "nothing watching the files")


def test_build_keys_are_refused_by_name():
    text = "services:\n  web:\n    build:\n      context: .\n      dockerfile_inline: FROM scratch\n"
    with pytest.raises(ConfigError, match=r"docker-compose.yml:5: service 'web': build.dockerfile_inline: not "
                                          r"supported by nap-compose: the engine is sent a context directory"):
        parse(text)


def test_top_level_models_is_refused():
    with pytest.raises(ConfigError, match=r"compose.yaml:1: top level: models: not supported by nap-compose: "
                                          r"there is no model runner"):
        parse_project([("compose.yaml", "models:\n  m: {model: ai/x}\nservices:\n  web: {image: x}\n")],
                      project_name="p")


def test_network_enable_ipv4_is_refused():
    text = "services:\n  web: {image: x}\nnetworks:\n  lan:\n    enable_ipv4: false\n"
    with pytest.raises(ConfigError, match=r"docker-compose.yml:5: network 'lan': enable_ipv4: not supported"):
        parse(text)


def test_volume_types_other_than_bind_volume_tmpfs_are_refused():
    text = "services:\n  web:\n    image: x\n    volumes:\n      - {type: npipe, source: a, target: /a}\n"
    with pytest.raises(ConfigError, match=r"docker-compose.yml:4: service 'web': volumes: type 'npipe' is not "
                                          r"supported by nap-compose \(bind, volume and tmpfs are\)"):
        parse(text)


@pytest.mark.parametrize("path", sorted(set(IGNORED) - {"volume_driver"}))
def test_ignored_key_warns_with_its_reason(path):
    warnings = []
    parse_project([("compose.yaml", _text(path))], project_name="p", working_dir="/srv/p",
                  warn=warnings.append)
    assert f"service 'web': '{path}' is ignored by nap-compose: {IGNORED[path]}" in warnings


def test_version_1_files_take_the_host_options_too():
    spec = parse("web:\n  image: x\n  security_opt: [no-new-privileges]\n  devices: ['/dev/fuse']\n").service("web")
    assert spec.security_opt == ("no-new-privileges",) and spec.devices[0].source == "/dev/fuse"


def test_version_1_volume_driver_warns():
    warnings = []
    parse("web:\n  image: x\n  volume_driver: local\n", warn=warnings.append)
    assert warnings == [f"service 'web': 'volume_driver' is ignored by nap-compose: {IGNORED['volume_driver']}"]


def test_long_form_volumes_keep_their_options():
    spec = parse("services:\n  web:\n    image: x\n    volumes:\n"
                 "      - {type: bind, source: ./src, target: /src, read_only: true, bind: {propagation: rslave}}\n"
                 "      - {type: volume, source: data, target: /data, volume: {nocopy: true}}\n"
                 "      - {type: tmpfs, target: /run, tmpfs: {size: 1m}}\n"
                 "volumes:\n  data: {}\n").service("web")
    assert spec.volumes == ("/srv/proj/src:/src:ro,rslave", "proj_data:/data:nocopy")
    assert spec.tmpfs == ("/run:size=1048576",)


def test_restart_policy_max_attempts():
    spec = parse("services:\n  web:\n    image: x\n    deploy:\n      restart_policy:\n"
                 "        condition: on-failure\n        max_attempts: 3\n").service("web")
    assert spec.restart == "on-failure:3"


def test_label_file_is_read_under_labels(tmp_path):
    from napcompose.config import load_project
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    label_file: [web.labels]\n"
                                           "    labels: {b: over}\n")
    (tmp_path / "web.labels").write_text("a=1\nb=2\n")
    spec = load_project(cwd=str(tmp_path), environ={}).service("web")
    assert dict(spec.labels) == {"a": "1", "b": "over"}


def test_missing_label_file():
    with pytest.raises(ConfigError, match=r"docker-compose.yml:4: service 'web': label_file: nope not found"):
        parse("services:\n  web:\n    image: x\n    label_file: nope\n")


def test_top_level_definition_options_warn_with_their_reason():
    from napcompose.config.support import TOP_IGNORED
    warnings = []
    parse("services:\n  web:\n    image: x\n    networks: [lan]\n    volumes: ['data:/d']\n"
          "networks:\n  lan:\n    driver: overlay\n    ipam:\n      config: [{subnet: 10.5.0.0/24, gateway: 10.5.0.1}]\n"
          "volumes:\n  data:\n    driver: nfs\n", warn=warnings.append)
    assert warnings == [f"network 'lan': 'driver' is ignored by nap-compose: {TOP_IGNORED['networks']['driver']}",
                        "network 'lan': 'ipam.config[].gateway' is ignored by nap-compose: "
                        f"{TOP_IGNORED['networks']['driver']}",
                        f"volume 'data': 'driver' is ignored by nap-compose: {TOP_IGNORED['volumes']['driver']}"]


def test_plain_definitions_do_not_warn():
    warnings = []
    parse("services:\n  web:\n    image: x\n    networks: [lan]\nnetworks:\n  lan: {}\n", warn=warnings.append)
    assert warnings == []


def test_internal_network_is_refused():
    text = "services:\n  web:\n    image: x\n    networks: [lan]\nnetworks:\n  lan:\n    internal: true\n"
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert str(err.value) == ("docker-compose.yml:6: network 'lan': internal: not supported by nap-compose: the "
                              "cluster's network is not isolated from the outside, so an internal network cannot "
                              "be given")


def test_todays_pull_policies_warn_and_long_devices_are_taken():
    warnings = []
    parse("services:\n  web:\n    image: x\n    pull_policy: every_12h\n", warn=warnings.append)
    assert warnings == ["service 'web': pull_policy 'every_12h' is read as 'missing': refresh intervals are not "
                        "applied (up --pull always asks the registry for the tag's current digest)"]
    assert parse("services:\n  web:\n    image: x\n    pull_policy: every_12h\n").service("web").pull_policy \
        == "missing"
    spec = parse("services:\n  web:\n    image: x\n    devices:\n"
                 "      - {source: /dev/ttyUSB0, target: /dev/ttyS0, permissions: rw}\n").service("web")
    assert [(d.source, d.target, d.permissions) for d in spec.devices] == [("/dev/ttyUSB0", "/dev/ttyS0", "rw")]


def test_bad_pull_policy():
    with pytest.raises(ConfigError, match=r"docker-compose.yml:4: service 'web': pull_policy: must be one of "
                                          r"'always', .*'every_<duration>', not the string 'sometimes'"):
        parse("services:\n  web:\n    image: x\n    pull_policy: sometimes\n")


def test_cli_exit_status_and_message_of_a_refused_key(cli):
    cli.write({"compose.yaml": "services:\n  web:\n    image: nginx\n    gpus: all\n"})
    status, out, err = cli.run("config")
    assert (status, out) == (3, "")
    assert err == ("ERROR: compose.yaml:4: service 'web': gpus: not supported by nap-compose: placement knows "
                   "nothing of the hosts' GPUs, so a replica could land on a host without one\n")


def test_cli_exit_status_of_an_include_conflict(cli):
    cli.write({"compose.yaml": "include: [b.yml]\nservices:\n  web:\n    image: nginx\n",
               "b.yml": "services:\n  web:\n    image: other\n"})
    status, _, err = cli.run("config", "-q")
    assert status == 3 and "service 'web' is defined both in b.yml and in compose.yaml" in err
