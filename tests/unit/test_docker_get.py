"""ps's container listing without docker-py: one HTTP GET on a channel, its answer read whole
whatever the framing, the daemon's refusals as its own message. Over an in-memory channel."""

import json
import urllib.parse

import pytest

from napcompose.adapters.docker_engine import DockerEngine
from napcompose.adapters.docker_get import BadAnswer, get_json, parse_answer, request
from napcompose.adapters.ssh import HostConnections
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, SshSpec, StoreSpec
from napcompose.errors import HostError

ROWS = [{"Id": "c1", "Names": ["/shop_web_1"], "State": "running", "Status": "Up 2 minutes",
         "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
                    "com.docker.compose.container-number": "1", "io.nap-compose.host": "node1"}}]


class Channel:
    """What get_json needs of a channel: sendall, and recv giving ``answer`` ``step`` bytes at a time."""

    def __init__(self, answer: bytes, step: int = 7):
        self.sent = b""
        self._answer, self._step = answer, step

    def sendall(self, data):
        self.sent += data

    def recv(self, size):
        piece, self._answer = self._answer[:min(size, self._step)], self._answer[min(size, self._step):]
        return piece


def _sized(status, body: bytes, reason="OK"):
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _chunked(body: bytes, size=5):
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                      for i in range(0, len(body), size))
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


def test_the_request_is_one_get_that_closes_the_connection():
    assert request("/v1.41/containers/json?all=1") == (
        b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: nap-compose\r\n"
        b"Accept: application/json\r\nConnection: close\r\n\r\n")
    for bad in ("containers/json", "/a b", "/a\r\nX-Injected: 1"):
        with pytest.raises(ValueError):
            request(bad)


@pytest.mark.parametrize("answer", [
    _sized(200, json.dumps(ROWS).encode()),
    _chunked(json.dumps(ROWS).encode()),
    b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + json.dumps(ROWS).encode(),  # ends at close
])
def test_every_framing_is_read_whole_in_small_pieces(answer):
    channel = Channel(answer)
    assert get_json(channel, "/v1.41/containers/json") == ROWS
    assert channel.sent.startswith(b"GET /v1.41/containers/json HTTP/1.1\r\n")


def test_an_answer_is_whole_only_at_its_end():
    whole = _sized(200, b"[]")
    assert parse_answer(whole[:-1], ended=False) is None
    assert parse_answer(whole, ended=False).body == b"[]"
    assert parse_answer(whole + b"extra", ended=False).body == b"[]"
    chunked = _chunked(b"[1, 2, 3]")
    assert parse_answer(chunked[:-5], ended=False) is None
    assert parse_answer(chunked, ended=False).body == b"[1, 2, 3]"
    answer = parse_answer(whole, ended=True)
    assert (answer.status, answer.reason, answer.headers["content-length"]) == (200, "OK", "2")


@pytest.mark.parametrize("data, message", [
    (b"HTTP/1.1 200 OK\r\nContent-Le", "the answer ended before its headers did"),
    (_sized(200, b"[1, 2]")[:-2], "the answer ended after 4 of its 6 bytes"),
    (_chunked(b"[1, 2]")[:-5], "the answer ended before its last chunk"),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP status line: 'SSH-2.0-OpenSSH_9.6'"),
    (b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n", "not an HTTP header: 'broken'"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not a chunk size: b'zz'"),
])
def test_an_answer_that_can_never_be_whole_says_why(data, message):
    with pytest.raises(BadAnswer) as caught:
        parse_answer(data, ended=True)
    assert str(caught.value) == message


def test_a_refusal_is_the_daemon_s_own_message():
    body = json.dumps({"message": "client version 1.41 is too old"}).encode()
    with pytest.raises(BadAnswer, match="^client version 1.41 is too old$"):
        get_json(Channel(_sized(400, body, "Bad Request")), "/v1.41/containers/json")
    with pytest.raises(BadAnswer, match="^502 Bad Gateway$"):
        get_json(Channel(_sized(502, b"<html>", "Bad Gateway")), "/x")
    with pytest.raises(BadAnswer, match="^the answer is not JSON"):
        get_json(Channel(_sized(200, b"[1,")), "/x")


class Connections:
    """HostConnections' docker_get, answering from a table of paths (and docker for other URLs)."""

    cluster = None

    def __init__(self, rows=None, error=None):
        self.asked, self._rows, self._error = [], rows, error

    def lists_without_docker_py(self, host_name):
        return True

    def docker_get(self, host_name, path):
        self.asked.append((host_name, path))
        if self._error:
            raise self._error
        return self._rows

    def docker(self, host_name):
        raise AssertionError("docker-py is not used for an ssh:// host's listing")


def _host(url="ssh://root@198.18.0.11"):
    return Host(name="node1", address="198.18.0.11", docker_url=url)


def test_an_ssh_host_lists_with_docker_py_s_own_query():
    connections = Connections(ROWS)
    found = DockerEngine(_host(), connections).list_containers("shop")
    assert [(c.name, c.state, c.replica.label) for c in found] == [("shop_web_1", "running", "web_1")]
    (host, path), = connections.asked
    url = urllib.parse.urlsplit(path)
    assert (host, url.path) == ("node1", "/containers/json")
    assert urllib.parse.parse_qs(url.query) == {
        "limit": ["-1"], "all": ["1"], "size": ["0"], "trunc_cmd": ["0"],
        "filters": [json.dumps({"label": ["com.docker.compose.project=shop", "io.nap-compose.host"]})]}


def test_a_failed_listing_names_the_host_and_the_question():
    connections = Connections(error=HostError("node1", "client version 1.41 is too old"))
    with pytest.raises(HostError) as caught:
        DockerEngine(_host(), connections).list_containers("shop")
    assert str(caught.value) == "node1: list containers of project shop: client version 1.41 is too old"


def test_hosts_with_a_docker_client_or_other_urls_list_through_docker_py():
    class Api:
        def containers(self, all, filters):
            return ROWS if all and filters == {"label": ["io.nap-compose.host"]} else []

    class TcpConnections(Connections):
        def lists_without_docker_py(self, host_name):
            return False

        def docker(self, host_name):
            return type("Client", (), {"api": Api()})()

    connections = TcpConnections()
    found = DockerEngine(_host("tcp://198.18.0.11:2376"), connections).list_containers()
    assert [c.name for c in found] == ["shop_web_1"] and connections.asked == []


def test_only_an_ssh_host_without_a_docker_client_yet_lists_without_docker_py(tmp_path):
    ssh = SshSpec(known_hosts=str(tmp_path / "known_hosts"))
    hosts = (Host(name="node1", address="198.18.0.11", docker_url="ssh://root@127.0.0.1:1", ssh=ssh),
             Host(name="node2", address="198.18.0.12", docker_url="tcp://198.18.0.12:2375", insecure_tcp=True))
    network = ClusterNetwork(name="nap", subnet="198.18.0.0/24", router="198.18.0.1", pools=("198.18.0.100/30",))
    connections = HostConnections(Cluster(hosts=hosts, network=network, store=StoreSpec(url="file:///tmp/x.json")))
    try:
        assert [connections.lists_without_docker_py(h) for h in ("node1", "node2")] == [True, False]
        connections.docker("node1")  # made, not connected: docker-py keeps its channels for what follows
        assert connections.lists_without_docker_py("node1") is False
    finally:
        connections.close()
