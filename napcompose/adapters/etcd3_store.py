"""The KeyValueStore on etcd's v3 API through etcd3gw (HTTP/JSON over etcd's gRPC gateway).

A key's ``version`` is its ``mod_revision``. Every write is one transaction with a compare:
create = ``create_revision == 0``, swap and delete = ``mod_revision == version`` (a version of 0 is
refused: ``mod_revision == 0`` holds for an absent key, so such a "swap" would create it).
``create_all`` creates several keys in one transaction, all or none. Reads are linearizable (the
gateway's default, the v3 form of a quorum read).

etcd3gw talks to one endpoint per client, so failover is done here: a request that cannot reach its
member, times out, or is refused while the members elect a leader (HTTP 503) is sent again to the
next endpoint after a short pause. Such a request may have been applied before its reply was lost;
since every write is conditional, the resend is then refused, and a refused write that followed a
lost reply is settled by reading the keys back and comparing the values sent (the IPAM's values
carry a unique allocation id).
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import etcd3gw
import requests
from etcd3gw import exceptions as gw

from napcompose.adapters.etcd_store import parse_endpoints
from napcompose.errors import StoreError

PAGE = 5000  # keys per range request when listing a prefix
_RETRY_DELAYS = (0.05, 0.2, 0.4, 0.8, 1.2, 1.6, 2.0, 2.0)  # about 8 s: a leader election takes 1-3 s


def parse_endpoints3(url: str) -> List[Tuple[str, int]]:
    """``etcd3://h:p[,h:p]`` as (host, port) pairs."""
    return parse_endpoints(url, "etcd3", "an etcd v3 store URL")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(b64: str) -> str:
    return base64.b64decode(b64 or "").decode()


def _after(prefix: str) -> str:
    """The first key after every key that starts with ``prefix`` (a range's end)."""
    raw = bytearray(prefix.encode())
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return "\0"
    raw[-1] += 1
    return raw.decode(errors="surrogateescape")


class Etcd3Store:
    def __init__(self, endpoints: Sequence[Tuple[str, int]], timeout_s: float = 5.0, ca_cert=None,
                 cert=None, key=None, username=None, password=None):
        self.endpoints = list(endpoints)
        self.where = ",".join(f"{h}:{p}" for h, p in self.endpoints)
        self._timeout = timeout_s
        self._protocol = "https" if (ca_cert or cert) else "http"
        self._credentials = (username, password) if username else None
        self._clients = [etcd3gw.Etcd3Client(host=h, port=p, protocol=self._protocol, timeout=timeout_s,
                                             api_path="/v3/", session=_session(ca_cert, cert, key))
                         for h, p in self.endpoints]
        self._current = 0
        self._token_lock = threading.Lock()
        self._probe()
        if self._credentials:
            self._authenticate()

    def __repr__(self) -> str:
        return f"Etcd3Store({self.where})"

    # ------------------------------------------------------------------ start

    def _probe(self) -> None:
        """Start on the first member that answers; fail clearly when none does."""
        reasons = []
        for index, client in enumerate(self._clients):
            name = f"{client.host}:{client.port}"
            try:
                reply = client.session.get(client.base_url + "/version", timeout=self._timeout)
                server = reply.json().get("etcdserver") if reply.status_code == 200 else None
            except (requests.RequestException, ValueError, AttributeError) as exc:
                reasons.append(f"{name}: {_reason(exc)}")
                continue
            if not server:
                reasons.append(f"{name}: not an etcd server (GET /version answered {reply.status_code})")
                continue
            parts = tuple(int(p) for p in server.split(".")[:2] if p.isdigit())
            if parts < (3, 4):
                raise StoreError(f"etcd {server} at {name} is too old for etcd3:// (the v3 gateway path "
                                 "/v3/ needs etcd 3.4 or later); use etcd:// or upgrade etcd")
            self._current = index
            return
        raise StoreError(f"cannot reach etcd at {self.where}: " + "; ".join(reasons))

    def _authenticate(self) -> None:
        """A v3 auth token for every member's session (simple tokens are agreed through raft)."""
        name, password = self._credentials
        reply = self._post("/auth/authenticate", {"name": name, "password": password or ""}, "authentication",
                           authenticate=False)
        token = reply.get("token")
        if not token:
            raise StoreError(f"etcd at {self.where} gave no auth token for user {name}: is auth enabled?")
        for client in self._clients:
            client.session.headers["Authorization"] = token

    # ------------------------------------------------------------------ the port

    def get(self, key: str) -> Optional[Tuple[str, int]]:
        reply = self._post("/kv/range", {"key": _b64(key)}, key)
        kvs = reply.get("kvs") or []
        if not kvs:
            return None
        return _text(kvs[0].get("value", "")), int(kvs[0]["mod_revision"])

    def create(self, key: str, value: str) -> Optional[int]:
        return self.create_all([(key, value)])

    def create_all(self, pairs: Sequence[Tuple[str, str]]) -> Optional[int]:
        """Create every key, all in one transaction, only if none exists; the version they share, or None."""
        pairs = list(pairs)
        txn = {"compare": [{"key": _b64(k), "result": "EQUAL", "target": "CREATE", "create_revision": 0}
                           for k, _ in pairs],
               "success": [{"request_put": {"key": _b64(k), "value": _b64(v)}} for k, v in pairs]}
        what = pairs[0][0] if len(pairs) == 1 else f"{pairs[0][0]} (and {len(pairs) - 1} more)"
        try:
            reply, ambiguous = self._txn(txn, what)
        except StoreError:
            landed = self._landed(pairs, quiet=True)  # a lost reply may hide a transaction that committed
            if landed is not None:
                return landed
            raise
        if reply.get("succeeded"):  # etcd leaves the field out when it is false
            return int(reply["header"]["revision"])
        return self._landed(pairs) if ambiguous else None

    def compare_and_swap(self, key: str, value: str, version: int) -> Optional[int]:
        if not version or version <= 0:  # mod_revision == 0 matches an absent key: never send it
            raise StoreError(f"refusing a compare-and-swap of {key} without a version")
        txn = {"compare": [{"key": _b64(key), "result": "EQUAL", "target": "MOD", "mod_revision": version}],
               "success": [{"request_put": {"key": _b64(key), "value": _b64(value)}}]}
        reply, ambiguous = self._txn(txn, key)
        if reply.get("succeeded"):
            return int(reply["header"]["revision"])
        if ambiguous:
            landed = self._landed([(key, value)])
            return landed if landed is not None and landed > version else None
        return None

    def compare_and_delete(self, key: str, version: int) -> bool:
        if not version or version <= 0:
            raise StoreError(f"refusing a compare-and-delete of {key} without a version")
        txn = {"compare": [{"key": _b64(key), "result": "EQUAL", "target": "MOD", "mod_revision": version}],
               "success": [{"request_delete_range": {"key": _b64(key)}}]}
        reply, _ = self._txn(txn, key)
        # A delete whose reply was lost and whose resend found the key gone reads as False ("gone"),
        # as the port says; the IPAM looks again in that case.
        return bool(reply.get("succeeded"))

    def list(self, prefix: str) -> Dict[str, Tuple[str, int]]:
        """Every key under ``prefix``, in pages read at one revision (one consistent snapshot)."""
        out: Dict[str, Tuple[str, int]] = {}
        start, end, revision = prefix, _after(prefix), None
        while True:
            payload = {"key": _b64(start), "range_end": _b64(end), "limit": PAGE, "sort_order": 1,
                       "sort_target": 0}
            if revision is not None:
                payload["revision"] = revision
            reply = self._post("/kv/range", payload, prefix)
            revision = revision or int(reply["header"]["revision"])
            kvs = reply.get("kvs") or []
            for kv in kvs:
                out[_text(kv["key"])] = (_text(kv.get("value", "")), int(kv["mod_revision"]))
            if not reply.get("more") or not kvs:
                return out
            start = _text(kvs[-1]["key"]) + "\0"

    def close(self) -> None:
        for client in self._clients:
            try:
                client.session.close()
            except Exception:  # nothing useful to report while closing
                pass

    # ------------------------------------------------------------------ helpers

    def _landed(self, pairs: Sequence[Tuple[str, str]], quiet: bool = False) -> Optional[int]:
        """The version of the keys if every one now holds exactly the value sent (our write landed)."""
        versions = set()
        for key, value in pairs:
            try:
                current = self.get(key)
            except StoreError:
                if quiet:
                    return None
                raise
            if current is None or current[0] != value:
                return None
            versions.add(current[1])
        return versions.pop() if len(versions) == 1 else None

    def _txn(self, txn: dict, what: str) -> Tuple[dict, bool]:
        txn.setdefault("failure", [])
        ambiguous = []
        reply = self._post("/kv/txn", txn, what, ambiguous=ambiguous)
        return reply, bool(ambiguous)

    def _post(self, path: str, payload: dict, what: str, ambiguous: Optional[list] = None,
              authenticate: bool = True) -> dict:
        """POST to the current member, failing over to the next one on a lost or refused request.

        ``ambiguous`` gets an entry whenever an attempt may have been applied without our hearing it.
        """
        last: Optional[BaseException] = None
        reauthenticated = False
        for attempt, delay in enumerate((0.0,) + _RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            index = self._current
            client = self._clients[index]
            try:
                return client.post(client.base_url + "/v3" + path, json=payload)
            except (gw.ConnectionFailedError, gw.ConnectionTimeoutError) as exc:
                # Unreachable, timed out, or 503 (no leader / leader changed / request timed out): the
                # request may or may not have been applied. Try the next member.
                last = exc
                if ambiguous is not None and not _refused_before_sending(exc):
                    ambiguous.append(attempt)
                self._current = (index + 1) % len(self._clients)
            except gw.Etcd3Exception as exc:
                body = _detail(exc)
                if "auth token" in body and authenticate and self._credentials and not reauthenticated:
                    with self._token_lock:  # a token expires after a while without use: get a new one
                        self._authenticate()
                    reauthenticated = True
                    continue
                if "permission denied" in body or "user name is empty" in body or "authentication failed" in body \
                        or "auth token" in body:
                    raise StoreError(f"etcd at {self.where} refused access to {what}: check store.username "
                                     "and store.password") from exc
                raise StoreError(f"etcd at {self.where} failed on {what}: {body or exc}") from exc
            except (requests.RequestException, OSError, ValueError) as exc:
                raise StoreError(f"etcd at {self.where} failed on {what}: {_reason(exc)}") from exc
        body = _detail(last)
        if "leader" in body:
            raise StoreError(f"etcd at {self.where} has no leader (election in progress) for {what}; try again "
                             "shortly") from last
        raise StoreError(f"etcd at {self.where} failed on {what}: {_reason(last)}") from last


def _session(ca_cert, cert, key) -> requests.Session:
    """One HTTP session per member. It ignores the environment: REQUESTS_CA_BUNDLE would silently replace
    store.ca_cert (requests prefers it), and a proxy variable must never carry the store's traffic."""
    session = requests.Session()
    session.trust_env = False
    if ca_cert:
        session.verify = ca_cert
    if cert:
        session.cert = (cert, key) if key else cert
    return session


def _detail(exc: Optional[BaseException]) -> str:
    text = getattr(exc, "detail_text", None) or ""
    return text if isinstance(text, str) else str(text)


def _refused_before_sending(exc: BaseException) -> bool:
    """A connection refused: the request never reached a member, so it cannot have been applied."""
    return "Connection refused" in str(exc) or "Connection refused" in _detail(exc)


def _reason(exc: Optional[BaseException]) -> str:
    text = f"{exc} {_detail(exc)}"
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower() or isinstance(exc, (gw.ConnectionTimeoutError, requests.Timeout)):
        return "timed out"
    if "SSL" in text or "certificate" in text.lower():
        return f"TLS handshake failed ({str(exc).strip()}); check store.ca_cert, store.cert and store.key"
    if "leader" in text:
        return "no leader (election in progress)"
    if "RemoteDisconnected" in text or "closed connection without response" in text:
        # a plain-HTTP request to an etcd that speaks TLS only: it closes the connection unanswered
        return ("the connection was closed without an answer (if etcd serves TLS, give store.ca_cert, "
                "store.cert and store.key)")
    return (_detail(exc) or str(exc)).strip()
