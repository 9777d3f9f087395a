"""`ps` begins its TCP connections as the process starts, from the cluster file the command line
names; anything unclear leaves the connecting (and the error) to the command. Loopback listeners only."""

import socket

import pytest

from napcompose.cli import _begin_connecting

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
    (["--cluster"], {}),
    (["--cluster", "missing.yml", "ps"], {}),
    (["ps"], {"NAP_CLUSTER": "missing.yml"}),
])
def test_other_commands_and_unclear_lines_connect_nothing(cluster_dir, argv, environ):
    assert _begin_connecting(argv, environ, str(cluster_dir)) is None


def test_a_bad_cluster_file_connects_nothing(tmp_path):
    (tmp_path / "nap-cluster.yml").write_text("hosts: [\n")
    assert _begin_connecting(["ps"], {}, str(tmp_path)) is None
