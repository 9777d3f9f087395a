"""`ps` begins its TCP connections as the process starts, from the cluster file the command line
names; anything unclear leaves the connecting (and the error) to the command. Loopback listeners only."""

import socket

import pytest
import yaml

from napcompose.adapters.early_tcp import DEFAULT_TIMEOUT_S, ssh_target, targets_of_cluster_file
from napcompose.cli import _begin_connecting
from napcompose.cluster import parse_cluster
from napcompose.clustermodel import SshSpec

CLUSTER = """\
network: {{name: nap, bridge: br0, subnet: 198.18.0.0/24, router: 198.18.0.1,
          pools: ["198.18.0.100-198.18.0.249"], mtu: 1500}}
store: {{url: "file:///tmp/nap-never-read.json"}}
hosts:
  - {{name: node1, address: 198.18.0.11, docker_url: "ssh://root@127.0.0.1:{port}"}}
"""


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


@pytest.fixture
def cluster_dir(tmp_path, listener):
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER.format(port=listener.getsockname()[1]))
    (tmp_path / "other.yml").write_text(CLUSTER.format(port=listener.getsockname()[1]))
    return tmp_path


def _taken(early, listener):
    sock = early.take(listener.getsockname())
    try:
        return sock is not None and sock.getpeername() == listener.getsockname()
    finally:
        if sock is not None:
            sock.close()
        early.close()


@pytest.mark.parametrize("argv, environ", [
    (["-p", "shop", "ps", "-a"], {}),
    (["--cluster", "other.yml", "ps"], {}),
    (["--cluster=other.yml", "ps", "--format", "json"], {}),
    (["ps"], {"NAP_CLUSTER": "other.yml"}),
])
def test_ps_connects_to_the_hosts_of_the_cluster_file_it_names(cluster_dir, listener, argv, environ):
    early = _begin_connecting(argv, environ, str(cluster_dir))
    assert early is not None and _taken(early, listener)


@pytest.mark.parametrize("argv, environ", [
    (["up", "-d"], {}),  # it takes the project lock first
    (["--help"], {}),
    (["ps", "--help"], {}),
    (["-p", "shop", "ps", "-h"], {}),
    (["--cluster"], {}),
    (["--cluster", "missing.yml", "ps"], {}),
    (["ps"], {"NAP_CLUSTER": "missing.yml"}),
])
def test_other_commands_and_unclear_lines_connect_nothing(cluster_dir, argv, environ):
    assert _begin_connecting(argv, environ, str(cluster_dir)) is None


def test_a_bad_cluster_file_connects_nothing(tmp_path):
    (tmp_path / "nap-cluster.yml").write_text("hosts: [\n")
    assert _begin_connecting(["ps"], {}, str(tmp_path)) is None


def _raw(**top):
    return {"ssh": {"user": "root", "key_file": "k"}, "hosts": [
        {"name": "node1", "address": "198.18.0.11"},
        {"name": "node2", "address": "198.18.0.12", "ssh": {"port": 2222, "connect_timeout": 3}},
        {"name": "node3", "address": "198.18.0.13", "docker_url": "ssh://ops@10.0.0.13:2200/run/d.sock"},
        {"name": "node4", "address": "198.18.0.14", "docker_url": "tcp://198.18.0.14:2376"},
        {"name": "node5", "address": "198.18.0.15", "docker_url": "unix:///var/run/docker.sock"},
        {"name": "node6", "address": "198.18.0.16", "ssh": {"connect_timeout": "soon"}},
        {"name": "node7"},
        "node8",
    ], **top}


def test_the_targets_are_the_ssh_hosts_as_the_cluster_file_reads_them(tmp_path):
    assert targets_of_cluster_file(_raw()) == {
        ("198.18.0.11", 22): 1.0, ("198.18.0.12", 2222): 3.0, ("10.0.0.13", 2200): 1.0}
    with_top = _raw()
    with_top["ssh"]["connect_timeout"] = 0.5
    assert targets_of_cluster_file(with_top)[("198.18.0.11", 22)] == 0.5
    assert targets_of_cluster_file(None) == targets_of_cluster_file({"hosts": "node1"}) == {}


def test_the_targets_agree_with_the_cluster_file_s_own_reading(tmp_path):
    raw = _raw()
    raw["hosts"] = raw["hosts"][:3]
    raw["network"] = {"name": "nap", "bridge": "br0", "subnet": "198.18.0.0/24", "router": "198.18.0.1",
                      "pools": ["198.18.0.100-198.18.0.249"]}
    raw["store"] = {"url": "file:///tmp/never-read.json"}
    cluster = parse_cluster(yaml.safe_dump(raw), str(tmp_path / "nap-cluster.yml"))
    assert targets_of_cluster_file(raw) == {ssh_target(h)[:2]: h.ssh.connect_timeout_s for h in cluster.hosts}
    assert DEFAULT_TIMEOUT_S == SshSpec.connect_timeout_s
