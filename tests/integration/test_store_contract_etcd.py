"""The store contract (tests/store_contract.py) on the lab's etcd through both APIs, and what only a real
etcd can show: a write whose reply is lost on the way back is recognised as ours after failover.

The lab's etcd speaks TLS and asks for a client certificate; every store here is opened with the
certificates the lab's cluster file names."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import uuid
from dataclasses import replace

import pytest

from napcompose.adapters.stores import open_store
from napcompose.lab import certs
from tests.store_contract import PROPERTIES

pytestmark = pytest.mark.integration


def _url(lab, api: str) -> str:
    endpoints = lab.cluster.store.url.split("://", 1)[1]
    return f"{api}://{endpoints}"


@pytest.fixture(params=["etcd", "etcd3"])
def store(request, lab):
    opened = open_store(replace(lab.cluster.store, url=_url(lab, request.param)))
    yield opened
    opened.close()


@pytest.mark.parametrize("check", PROPERTIES, ids=lambda fn: fn.__name__)
def test_contract(store, check):
    check(store, f"/contract-{uuid.uuid4().hex[:8]}/")


class ReplyDropper:
    """A loopback HTTPS relay in front of one etcd member that forwards every request but, for writes,
    closes the connection instead of passing the answer back: a reply lost after the write landed.

    It shows the store a certificate for 127.0.0.1 signed by the lab's CA (made in ``directory``) and
    forwards with the lab's client certificate."""

    def __init__(self, host: str, port: int, drops: tuple, tls: certs.StoreTls, directory: str):
        self.target, self.drops, self.dropped = (host, port), drops, []
        cert, key = os.path.join(directory, "relay.pem"), os.path.join(directory, "relay.key")
        certs.issue(tls.ca, tls.ca_key, cert, key, "relay", certs.SERVER, ["127.0.0.1"])
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.load_cert_chain(cert, key)
        self.upstream = tls.client_context()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, raw):
        try:
            conn = self.server.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with conn:
            reader = conn.makefile("rb")
            while True:
                request_line = reader.readline().decode()
                if not request_line.strip():
                    return
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in iter(reader.readline, b"\r\n"):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", 0) or 0))
                upstream = http.client.HTTPSConnection(*self.target, timeout=10, context=self.upstream)
                upstream.request(method, path, body=body, headers={
                    k: v for k, v in headers.items() if k in ("content-type", "authorization")})
                reply = upstream.getresponse()
                data = reply.read()
                upstream.close()
                if method in ("PUT", "POST") and path.startswith(self.drops):
                    self.dropped.append(path)
                    return  # applied upstream; the client never hears of it
                head = f"HTTP/1.1 {reply.status} {reply.reason}\r\nContent-Length: {len(data)}\r\n"
                head += f"Content-Type: {reply.getheader('Content-Type', 'application/json')}\r\n"
                for name in ("X-Etcd-Index", "X-Etcd-Cluster-Id", "X-Raft-Index", "X-Raft-Term"):
                    if reply.getheader(name):
                        head += f"{name}: {reply.getheader(name)}\r\n"
                conn.sendall(head.encode() + b"\r\n" + data)

    def close(self):
        self.listener.close()


@pytest.mark.parametrize("api,drops", [("etcd", ("/v2/keys/",)), ("etcd3", ("/v3/kv/txn",))])
def test_a_write_whose_reply_is_lost_is_recognised_as_ours_after_failover(lab, api, drops, tmp_path):
    host, port = lab.etcd_host, lab.etcd_port
    relay = ReplyDropper(host, port, drops, certs.StoreTls(os.path.dirname(lab.cluster.store.ca_cert)), str(tmp_path))
    try:
        store = open_store(replace(lab.cluster.store, url=f"{api}://127.0.0.1:{relay.port},{host}:{port}",
                                   timeout_s=3))
        prefix = f"/lost-{uuid.uuid4().hex[:8]}/"
        version = store.create(prefix + "a", "mine")
        assert relay.dropped  # the first send landed and its answer was lost
        assert version is not None and store.get(prefix + "a") == ("mine", version)
        assert store.create(prefix + "a", "mine-again") is None  # a plain refusal stays a refusal
        swapped = store.compare_and_swap(prefix + "a", "swapped", version)
        assert swapped is not None and store.get(prefix + "a") == ("swapped", swapped)
        store.close()
    finally:
        relay.close()
