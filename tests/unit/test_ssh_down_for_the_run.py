"""A host that could not be reached stays down for the rest of the run (loopback listener only)."""

import socket
import threading

import pytest

from napcompose.adapters.ssh import HostConnections
from napcompose.errors import HostError
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, SshSpec, StoreSpec


class _Hangup:
    """Accepts TCP connections on loopback, counts them, and closes each at once (no SSH banner)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def hangup():
    server = _Hangup()
    yield server
    server.close()


def _cluster(port, tmp_path, connect_timeout=2.0):
    ssh = SshSpec(user="root", port=port, known_hosts=str(tmp_path / "known_hosts"),
                  key_file=str(tmp_path / "no-key"), connect_timeout_s=connect_timeout)
    host = Host(name="node1", address="127.0.0.1", docker_url=f"ssh://root@127.0.0.1:{port}", ssh=ssh)
    network = ClusterNetwork(name="nap", subnet="198.18.0.0/24", router="198.18.0.1", pools=("198.18.0.100/30",))
    return Cluster(hosts=(host,), network=network, store=StoreSpec(url="file:///tmp/x.json"))


def test_a_failed_connection_is_not_tried_again_in_the_same_run(hangup, tmp_path):
    connections = HostConnections(_cluster(hangup.port, tmp_path))
    try:
        with pytest.raises(HostError) as first:
            connections.ssh("node1")
        with pytest.raises(HostError) as second:
            connections.ssh("node1")
        with pytest.raises(HostError) as third:
            connections.files("node1").read("/etc/hosts")
    finally:
        connections.close()
    assert hangup.accepted == 1
    assert str(first.value).startswith(f"node1: SSH connection to root@127.0.0.1:{hangup.port}: ")
    assert str(second.value) == str(first.value)
    assert str(third.value) == str(first.value)


def test_a_new_run_tries_again(hangup, tmp_path):
    for _ in range(2):
        connections = HostConnections(_cluster(hangup.port, tmp_path))
        with pytest.raises(HostError):
            connections.ssh("node1")
        connections.close()
    assert hangup.accepted == 2


def test_the_connect_timeout_comes_from_the_cluster_file_unless_given(tmp_path):
    cluster = _cluster(22, tmp_path, connect_timeout=1.25)
    assert HostConnections(cluster).connect_timeout_of(cluster.hosts[0]) == 1.25
    assert HostConnections(cluster, connect_timeout=7).connect_timeout_of(cluster.hosts[0]) == 7
