"""What a host that does not take the TCP connection is told: the connect's own deadline and words.
Loopback listeners only (one whose accept queue is full drops SYNs, as a cut-off host does)."""

import socket
import time

import pytest

from napcompose.adapters.ssh import HostConnections
from napcompose.errors import HostError
from tests.unit.test_ssh_down_for_the_run import _cluster


def test_no_answer_is_down_after_the_connect_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=2)
    port = listener.getsockname()[1]
    connections = HostConnections(_cluster(port, tmp_path, connect_timeout=0.4))
    start = time.monotonic()
    try:
        with pytest.raises(HostError) as err:
            connections.ssh("node1")
    finally:
        connections.close()
        filler.close()
        listener.close()
    assert time.monotonic() - start < 0.8
    assert str(err.value) == f"node1: SSH connection to root@127.0.0.1:{port}: no answer within 0.4 s (ssh.connect_timeout)"


def test_a_refusal_is_said_in_words_alone(tmp_path):
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    connections = HostConnections(_cluster(port, tmp_path))
    try:
        with pytest.raises(HostError) as err:
            connections.ssh("node1")
    finally:
        connections.close()
    assert str(err.value) == f"node1: SSH connection to root@127.0.0.1:{port}: Connection refused"
