"""The KeyValueStore on etcd's v2 keys API through python-etcd.

Every read is a quorum read (a decision depends on each of them). Writes are conditional:
create = ``prevExist=false``, swap and delete = ``prevIndex``. python-etcd with ``allow_reconnect``
sends a write again to the next member when a reply is lost, so a write that landed comes back as
"already exists" / "compare failed"; such an answer is checked by reading the key back and comparing
the value with what was sent.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Dict, List, Optional, Sequence, Tuple

import etcd
import urllib3

from napcompose.errors import StoreError

# python-etcd logs every failed request at ERROR; the errors reach the user as StoreError instead.
logging.getLogger("etcd").addHandler(logging.NullHandler())
logging.getLogger("etcd").propagate = False

V2_HINT = "start etcd with --enable-v2=true (etcd 3.4/3.5; 3.6 removed the v2 API)"


def parse_endpoints(url: str, scheme: str = "etcd", what: str = "an etcd store URL") -> List[Tuple[str, int]]:
    """``etcd://h:p[,h:p]`` (or ``scheme://``) as (host, port) pairs."""
    prefix = f"{scheme}://"
    if not url.startswith(prefix):
        raise StoreError(f"'{url}' is not {what} ({prefix}host:port[,host:port])")
    endpoints = []
    for part in url[len(prefix):].rstrip("/").split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise StoreError(f"'{url}': endpoint '{part}' must be host:port")
        endpoints.append((host.strip("[]"), int(port)))
    return endpoints


class EtcdStore:
    def __init__(self, endpoints: Sequence[Tuple[str, int]], timeout_s: float = 5.0, ca_cert=None,
                 cert=None, key=None, username=None, password=None):
        self.endpoints = list(endpoints)
        self.where = ",".join(f"{h}:{p}" for h, p in self.endpoints)
        self._protocol = "https" if (ca_cert or cert) else "http"
        self._options = dict(read_timeout=timeout_s, protocol=self._protocol, ca_cert=ca_cert,
                             cert=(cert, key) if cert and key else cert, username=username, password=password)
        self._probe(timeout_s)
        try:
            self._client = etcd.Client(host=tuple(self.endpoints), allow_reconnect=True, **self._options)
        except (etcd.EtcdException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreError(f"cannot reach etcd at {self.where}: {exc}") from exc

    def _probe(self, timeout_s: float) -> None:
        """Fail clearly when no member answers, or when the v2 API is switched off."""
        reasons = []
        for host, port in self.endpoints:
            probe = etcd.Client(host=host, port=port, allow_reconnect=False, **self._options)
            base = f"{self._protocol}://{host}:{port}"
            try:
                version = probe.http.request("GET", base + "/version", timeout=timeout_s, retries=False,
                                             headers=probe._get_headers())
                keys = probe.http.request("GET", base + "/v2/keys/", timeout=timeout_s, retries=False,
                                          headers=probe._get_headers())
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                reasons.append(f"{host}:{port}: {_reason(exc)}")
                continue
            finally:
                probe.http.clear()
            if version.status != 200 or b"etcdserver" not in version.data:
                reasons.append(f"{host}:{port}: not an etcd server (GET /version answered {version.status})")
                continue
            if keys.status == 404:
                server = json.loads(version.data.decode()).get("etcdserver", "?")
                raise StoreError(f"etcd {server} at {host}:{port} does not serve the v2 API: {V2_HINT}")
            return
        raise StoreError(f"cannot reach etcd at {self.where}: " + "; ".join(reasons))

    def __repr__(self) -> str:
        return f"EtcdStore({self.where})"

    # ------------------------------------------------------------------ the port

    def get(self, key: str) -> Optional[Tuple[str, int]]:
        try:
            result = self._call(self._client.read, key, quorum=True)
        except etcd.EtcdKeyNotFound:
            return None
        return result.value, result.modifiedIndex

    def create(self, key: str, value: str) -> Optional[int]:
        try:
            return self._call(self._client.write, key, value, prevExist=False).modifiedIndex
        except etcd.EtcdAlreadyExist:
            return self._landed(key, value)
        except StoreError:
            landed = self._landed(key, value, quiet=True)  # a timeout may hide a create that landed
            if landed is not None:
                return landed
            raise

    def compare_and_swap(self, key: str, value: str, version: int) -> Optional[int]:
        if not version or version <= 0:  # prevIndex=0 always passes in etcd v2: never send it
            raise StoreError(f"refusing a compare-and-swap of {key} without a version")
        try:
            return self._call(self._client.write, key, value, prevIndex=version).modifiedIndex
        except (etcd.EtcdCompareFailed, etcd.EtcdKeyNotFound):
            landed = self._landed(key, value)
            return landed if landed is not None and landed > version else None

    def compare_and_delete(self, key: str, version: int) -> bool:
        if not version or version <= 0:
            raise StoreError(f"refusing a compare-and-delete of {key} without a version")
        try:
            self._call(self._client.delete, key, prevIndex=version)
            return True
        except (etcd.EtcdCompareFailed, etcd.EtcdKeyNotFound):
            return False

    def list(self, prefix: str) -> Dict[str, Tuple[str, int]]:
        try:
            result = self._call(self._client.read, prefix.rstrip("/") or "/", recursive=True, quorum=True)
        except etcd.EtcdKeyNotFound:
            return {}
        out = {}
        for node in result.leaves:
            if not node.dir and node.key.startswith(prefix):
                out[node.key] = (node.value, node.modifiedIndex)
        return out

    def close(self) -> None:
        try:
            self._client.http.clear()
        except Exception:  # nothing useful to report while closing
            pass

    # ------------------------------------------------------------------ helpers

    def _landed(self, key: str, value: str, quiet: bool = False) -> Optional[int]:
        """The key's version if it now holds exactly ``value`` (our write landed), else None."""
        try:
            current = self.get(key)
        except StoreError:
            if quiet:
                return None
            raise
        return current[1] if current is not None and current[0] == value else None

    def _call(self, method, *args, **kwargs):
        for delay in (0.2, 0.5, 1.0):
            try:
                return self._call_once(method, *args, **kwargs)
            except etcd.EtcdLeaderElectionInProgress:
                # Nothing was applied; the conditional write is safe to send again once a leader is up.
                time.sleep(delay)
        try:
            return self._call_once(method, *args, **kwargs)
        except etcd.EtcdLeaderElectionInProgress as exc:
            raise StoreError(f"etcd at {self.where} has no leader (election in progress) for "
                             f"{args[0]}; try again shortly") from exc

    def _call_once(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (etcd.EtcdKeyNotFound, etcd.EtcdAlreadyExist, etcd.EtcdCompareFailed,
                etcd.EtcdLeaderElectionInProgress):
            raise
        except etcd.EtcdInsufficientPermissions as exc:
            raise StoreError(f"etcd at {self.where} refused access to {args[0]}: check store.username "
                             "and store.password") from exc
        except (etcd.EtcdException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise StoreError(f"etcd at {self.where} failed on {args[0]}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None) or getattr(exc, "cause", None)
    text = str(inner or exc)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "SSL" in text or "certificate" in text.lower():
        return f"TLS handshake failed ({text}); check store.ca_cert, store.cert and store.key"
    if "RemoteDisconnected" in text or "closed connection without response" in text:
        # a plain-HTTP request to an etcd that speaks TLS only: it closes the connection unanswered
        return ("the connection was closed without an answer (if etcd serves TLS, give store.ca_cert, "
                "store.cert and store.key)")
    return text
