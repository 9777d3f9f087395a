"""TCP connections begun before the SSH library loads: taken once, errors as the connect's own, stale
ones replaced. Against listening sockets on loopback."""

import socket
from types import SimpleNamespace

import pytest

from napcompose.adapters import early_tcp
from napcompose.adapters.early_tcp import EarlyConnections, ssh_target


@pytest.fixture
def server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()
    listener.close()


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return ("127.0.0.1", port)


def test_a_connection_is_taken_once_then_a_fresh_one_is_up_to_the_caller(server):
    early = EarlyConnections({server: 2.0})
    sock = early.take(server)
    assert sock.getpeername() == server
    assert early.take(server) is None
    assert early.take(("127.0.0.1", 1)) is None  # never begun
    sock.close()


def test_a_refused_connection_raises_as_the_connect_would_have(server):
    target = _closed_port()
    early = EarlyConnections({target: 2.0})
    with pytest.raises(ConnectionRefusedError):
        early.take(target)


def test_an_attempt_that_ended_long_ago_is_not_used(server, monkeypatch):
    early = EarlyConnections({server: 2.0, _closed_port(): 2.0})
    monkeypatch.setattr(early_tcp, "FRESH_S", -1.0)  # every attempt counts as too old
    for target in list(early._attempts):
        assert early.take(target) is None  # neither the socket nor the refusal


def test_close_closes_what_nobody_took(server):
    early = EarlyConnections({server: 2.0})
    attempt = early._attempts[server]
    attempt.thread.join()
    early.close()
    assert attempt.sock.fileno() == -1
    assert early.take(server) is None


def _host(url, address="198.18.0.11", port=22, user="root", timeout=2.0):
    return SimpleNamespace(docker_url=url, address=address,
                           ssh=SimpleNamespace(port=port, user=user, connect_timeout_s=timeout))


def test_only_hosts_whose_docker_rides_ssh_are_begun_at_the_ssh_url_s_address():
    assert ssh_target(_host("ssh://ops@127.0.0.1:2222/run/docker.sock")) == ("127.0.0.1", 2222, "ops")
    assert ssh_target(_host("tcp://198.18.0.11:2376")) == ("198.18.0.11", 22, "root")
    early = EarlyConnections.to_ssh_hosts([_host("unix:///run/docker.sock"), _host("tcp://127.0.0.1:2376")])
    assert early._attempts == {}


def _echo_server(replies):
    """A loopback server answering each of ``replies`` small requests, as sshd answers an SSH client."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn:
            for _ in range(replies):
                conn.sendall(b"answer to " + conn.recv(64))
            # closed only after the client: Linux puts a socket that receives the peer's FIN into
            # delayed-ACK mode, so a FIN landing between the client's last read and its reading of
            # TCP_QUICKACK would read 0 whatever the socket does
            conn.recv(1)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()


def _quickack_after_each_answer(sock, rounds):
    seen = []
    for i in range(rounds):
        sock.sendall(b"question %d" % i)
        assert sock.recv(64).startswith(b"answer to ")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK))
    sock.close()
    return seen


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
def test_an_ssh_socket_sends_and_acknowledges_at_once():
    # A plain socket in such a conversation falls into delayed-ACK mode (TCP_QUICKACK reads 0): the
    # peer's second message of a pair then waits 40 ms for our ACK. Ours stays in quick-ACK mode.
    plain = socket.create_connection(_echo_server(8))
    assert 0 in _quickack_after_each_answer(plain, 8)
    sock = early_tcp.connect_tcp(_echo_server(8), 2.0)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    assert _quickack_after_each_answer(sock, 8) == [1] * 8
