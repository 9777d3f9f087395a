"""Serving the dashboard: the standard library's threading HTTP server, a token, a refresh loop.

Requests never reach the cluster: one background thread takes a Snapshot every few seconds and every
request renders the latest one, so a busy browser cannot flood the hosts. Read-only: GET and HEAD.
"""

from __future__ import annotations

import hmac
import os
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Optional, Tuple

from napcompose.dashboard.render import content, page, refused_page, state_json
from napcompose.dashboard.snapshot import Snapshot
from napcompose.dashboard.views import FILTERS, VIEWS

COOKIE = "nap_dashboard_token"
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
          "icon.svg": "image/svg+xml"}
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)
FIRST_SNAPSHOT_WAIT_S = 60.0
_TOKEN_IN_QUERY = re.compile(r"token=[^&\s]*")


class Refresher:
    """Keeps the latest Snapshot, taking a new one every ``interval`` seconds in a thread of its own."""

    def __init__(self, take: Callable[[], Snapshot], interval: float, log: Callable[[str], None]):
        self._take = take
        self._interval = interval
        self._log = log
        self._current: Optional[Snapshot] = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-refresh", daemon=True)

    def start(self) -> "Refresher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def current(self, wait: float = FIRST_SNAPSHOT_WAIT_S) -> Optional[Snapshot]:
        self._ready.wait(wait)
        return self._current

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._current = self._take()
                self._ready.set()
            except Exception as exc:  # keep serving the last snapshot; say why it is not newer
                self._log(f"could not read the cluster: {exc}")
            self._stop.wait(self._interval)


@dataclass(frozen=True)
class Access:
    """Who may read: with ``required``, only requests carrying ``token``; without, only requests
    addressed to one of ``hosts`` (a page elsewhere cannot rebind its own name to our loopback)."""

    token: str
    required: bool
    hosts: Tuple[str, ...] = ()

    def valid(self, given: Optional[str]) -> bool:
        return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("utf-8"))


def read_static() -> Dict[str, bytes]:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
    files = {}
    for name in STATIC:
        with open(os.path.join(here, name), "rb") as fh:
            files[name] = fh.read()
    return files


class _Handler(BaseHTTPRequestHandler):
    server_version = "nap-compose-dashboard"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.timeout = self.server.read_timeout  # the socket's timeout: an idle peer is dropped
        super().setup()

    # ------------------------------------------------------------------ methods
    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _read_only(self):
        self._send(405, "text/plain; charset=utf-8", b"the dashboard is read-only\n", [("Allow", "GET, HEAD")])

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _read_only

    def log_message(self, format, *args):
        self.server.log_request_line(self.address_string(), format % args)

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, kind: str, body: bytes, headers=(), send_body: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS + tuple(headers):
            self.send_header(name, value)
        self.end_headers()
        if send_body and self.command != "HEAD":
            self.wfile.write(body)

    def _html(self, status: int, text: str, send_body: bool, headers=()) -> None:
        self._send(status, "text/html; charset=utf-8", text.encode("utf-8"), headers, send_body)

    def _presented_token(self) -> Optional[str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer "):].strip()
        if self.headers.get("X-Nap-Token"):
            return self.headers["X-Nap-Token"].strip()
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except Exception:  # a malformed cookie header is as good as none
            return None
        return cookie[COOKIE].value if COOKIE in cookie else None

    # ------------------------------------------------------------------ routing
    def _serve(self, send_body: bool) -> None:
        access: Access = self.server.access
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if access.required:
            if "token" in query:
                # the link printed at start: trade the token for a cookie, and drop it from the address
                if not access.valid(query["token"][0]):
                    return self._html(401, refused_page("That token is not this dashboard's."), send_body)
                rest = urllib.parse.urlencode([(k, v) for k, vs in query.items() if k != "token" for v in vs])
                target = (url.path or "/") + (f"?{rest}" if rest else "")
                cookie = f"{COOKIE}={access.token}; Path=/; HttpOnly; SameSite=Strict"
                return self._send(303, "text/plain; charset=utf-8", b"", [("Location", target),
                                                                          ("Set-Cookie", cookie)], send_body)
            if not access.valid(self._presented_token()):
                return self._html(401, refused_page(
                    "This dashboard listens beyond loopback, so every request needs its token: open the "
                    "address nap-compose printed at start, or send the header Authorization: Bearer TOKEN."),
                    send_body, [("WWW-Authenticate", "Bearer")])
        elif self.headers.get("Host", "") not in access.hosts:
            return self._html(403, refused_page("Unexpected Host header."), send_body)
        self._route(url.path, query, send_body)

    def _route(self, path: str, query, send_body: bool) -> None:
        filters = {k: query[k][0] for k in FILTERS if query.get(k) and query[k][0]}
        if path in ("", "/"):
            return self._send(303, "text/plain; charset=utf-8", b"", [("Location", "/containers")], send_body)
        if path.startswith("/static/") or path == "/favicon.ico":
            name = "icon.svg" if path == "/favicon.ico" else path[len("/static/"):]
            if name not in STATIC:
                return self._send(404, "text/plain; charset=utf-8", b"not found\n", (), send_body)
            return self._send(200, STATIC[name], self.server.static[name], (), send_body)
        parts = path.strip("/").split("/")
        view = parts[-1]
        if not ((len(parts) == 1 and view in VIEWS) or (len(parts) == 2 and parts[0] == "fragment"
                                                           and view in VIEWS) or path == "/api/state.json"):
            return self._send(404, "text/plain; charset=utf-8", b"not found\n", (), send_body)
        snapshot = self.server.refresher.current()
        if snapshot is None:
            return self._send(503, "text/plain; charset=utf-8", b"still reading the cluster; try again\n",
                              [("Retry-After", "2")], send_body)
        if path == "/api/state.json":
            return self._send(200, "application/json", state_json(snapshot).encode("utf-8"), (), send_body)
        if parts[0] == "fragment":
            return self._html(200, content(snapshot, view, filters), send_body)
        return self._html(200, page(snapshot, view, filters), send_body)


# Any peer on the LAN can connect: an idle connection is closed after READ_TIMEOUT_S without a
# request, and beyond MAX_CONNECTIONS at once a new one is closed at once, so idle sockets opened by
# one peer can neither hold a thread each forever nor exhaust the server.
READ_TIMEOUT_S = 15.0
MAX_CONNECTIONS = 64


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], refresher: Refresher, access: Access,
                 log: Callable[[str], None] = lambda line: None, read_timeout: float = READ_TIMEOUT_S,
                 max_connections: int = MAX_CONNECTIONS):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.refresher = refresher
        self.access = access
        self.static = read_static()
        self._log = log
        self.read_timeout = read_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self._log(f"{client_address[0]} refused: too many connections open")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def log_request_line(self, client: str, line: str) -> None:
        # the first request of a browser carries the token in its query: never write it out
        self._log(client + " " + _TOKEN_IN_QUERY.sub("token=(hidden)", line))


def loopback_hosts(host: str, port: int) -> Tuple[str, ...]:
    """The Host headers a browser sends to a loopback listener."""
    shown = f"[{host}]" if ":" in host else host
    names = {shown, "localhost", "127.0.0.1", "[::1]"}
    return tuple(sorted(f"{n}:{port}" for n in names))
