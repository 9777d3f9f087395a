"""The dashboard's HTTP server on loopback: the token, the Host check, read-only, headers, assets."""

import http.client
import socket
import threading
import time

import pytest

from napcompose.dashboard.server import COOKIE, Access, DashboardServer, Refresher, loopback_hosts
from tests.unit.test_dashboard_render import snapshot

TOKEN = "s3cret-token-for-tests-0123456789"


class Served:
    def __init__(self, required, take=snapshot, interval=0.5, **limits):
        self.refresher = Refresher(take, interval, lambda line: None).start()
        self.server = DashboardServer(("127.0.0.1", 0), self.refresher, Access(TOKEN, required), **limits)
        self.port = self.server.server_address[1]
        self.server.access = Access(TOKEN, required, loopback_hosts("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def get(self, path, headers=None, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read().decode()
        finally:
            conn.close()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.refresher.stop()


@pytest.fixture
def guarded():
    served = Served(required=True)
    yield served
    served.close()


@pytest.fixture
def local():
    served = Served(required=False)
    yield served
    served.close()


@pytest.mark.parametrize("path", ["/containers", "/fragment/containers", "/api/state.json", "/static/app.js", "/"])
def test_without_the_token_nothing_is_shown(guarded, path):
    status, headers, body = guarded.get(path)
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert "gb_web_1" not in body and "node1" not in body and "Token required" in body


def test_a_wrong_token_is_refused_in_every_place_it_can_come(guarded):
    for headers in ({"Authorization": "Bearer nope"}, {"X-Nap-Token": TOKEN[:-1]},
                    {"Cookie": f"{COOKIE}=nope"}):
        assert guarded.get("/containers", headers)[0] == 401
    status, headers, body = guarded.get("/containers?token=nope")
    assert status == 401 and "Set-Cookie" not in headers


def test_the_token_as_a_query_parameter_becomes_a_cookie_and_leaves_the_address(guarded):
    status, headers, _ = guarded.get(f"/containers?project=gb&token={TOKEN}")
    assert status == 303 and headers["Location"] == "/containers?project=gb"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, body = guarded.get("/containers?project=gb", {"Cookie": f"{COOKIE}={TOKEN}"})
    assert status == 200 and "gb_web_1" in body and "other_web_1" not in body


def test_the_request_log_never_holds_the_token():
    lines = []
    served = Served(required=True)
    served.server._log = lines.append
    try:
        assert served.get(f"/containers?token={TOKEN}")[0] == 303
    finally:
        served.close()
    assert lines and all(TOKEN not in line for line in lines) and "token=(hidden)" in lines[0]


def test_the_token_as_a_header(guarded):
    assert guarded.get("/fragment/hosts", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert guarded.get("/api/state.json", {"X-Nap-Token": TOKEN})[0] == 200


def test_loopback_needs_no_token_but_the_right_host_header(local):
    status, headers, body = local.get("/containers")
    assert status == 200 and "gb_web_1" in body
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    # a page elsewhere that rebinds its own name to 127.0.0.1 sends its own name
    status, _, body = local.get("/containers", {"Host": "attacker.example:80"})
    assert status == 403 and "gb_web_1" not in body
    assert local.get("/containers", {"Host": f"localhost:{local.port}"})[0] == 200


def test_read_only_and_only_known_paths(local):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = local.get("/containers", method=method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
    for path in ("/static/../server.py", "/static/state.py", "/nope", "/fragment/secrets", "/fragment/x/hosts"):
        assert local.get(path)[0] == 404, path
    status, headers, body = local.get("/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and "fetch(" in body
    assert local.get("/", {})[1]["Location"] == "/containers"


def test_head_sends_no_body(local):
    status, headers, body = local.get("/containers", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 0 and body == ""


def test_requests_wait_for_the_first_snapshot_and_never_take_one():
    taken = []

    def take():
        taken.append(1)
        return snapshot()

    served = Served(required=False, take=take, interval=60)
    try:
        for _ in range(5):
            assert served.get("/fragment/containers")[0] == 200
        assert taken == [1]  # the refresh loop reads the cluster, requests only render
    finally:
        served.close()


def test_idle_connections_are_closed_and_their_number_is_capped():
    served = Served(required=False, read_timeout=0.5, max_connections=2)
    try:
        idle = [socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(2)]
        time.sleep(0.1)  # both accepted and waiting for a request line that never comes
        extra = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        assert extra.recv(1) == b""  # closed at once: no slot left
        extra.close()
        for sock in idle:  # the server gives up on each after its read timeout
            assert sock.recv(1) == b""
            sock.close()
        status, _, _ = served.get("/api/state.json", headers={"Host": f"127.0.0.1:{served.port}"})
        assert status == 200  # the slots came back
    finally:
        served.close()
