"""TCP connections to the hosts begun before the SSH and Docker libraries are even loaded.

Loading paramiko and docker-py takes most of a second; a host that is cut off costs its whole
``ssh.connect_timeout``. Begun together, the two overlap: a command that is about to talk to every
host (``ps``, ``up``, ...) starts one TCP connection per SSH host on a thread right away, and the SSH
connection later takes the socket (or the connect's error, as the connect itself would have raised
it) instead of connecting again. A socket nobody takes is closed with the connections, and one taken
long after it connected (a command that waited for the project lock first) is closed and replaced by a
fresh connection: sshd drops connections that do not log in soon, and a host may have come back.

The TCP connection alone decides whether a host is there: the host's kernel answers a SYN within a
millisecond on a LAN however loaded its processes are, so its deadline (``ssh.connect_timeout``) is
short. A lost SYN or SYN-ACK would otherwise cost the kernel's one-second retransmission, so while no
answer came a fresh SYN goes out on a new socket at each of ``SYN_AT``; the first socket that connects
wins. The SSH handshake that follows gets a long deadline of its own (ssh.py): a loaded host is slow,
not gone.

SSH over these sockets is a conversation of small messages, each waiting for the other side's answer,
so a socket sends every segment at once and acknowledges every one it reads at once (``PromptSocket``):
otherwise sshd, which sends two messages back to back after the login (the second held by Nagle's
algorithm until the first is acknowledged), waits for this machine's delayed ACK, 40 ms, before it
confirms the channel to the Docker socket.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import time
import urllib.parse
from typing import Callable, Dict, Iterable, List, Optional, Tuple

Target = Tuple[str, int]
FRESH_S = 10.0  # an attempt that ended longer ago than this is not used
# When each SYN of one connection goes out, in seconds after the first, while none was answered;
# later ones are the kernel's own retransmissions (1 s, 3 s, ... after each socket's first SYN).
SYN_AT = (0.0, 0.25, 0.5)
# clustermodel.SshSpec's default connect timeout (a unit test keeps the two equal): that module and
# the domain model it imports are not loaded for it, the connections begin first.
DEFAULT_TIMEOUT_S = 1.0


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux's; elsewhere ACKs are the kernel's to delay


class PromptSocket(socket.socket):
    """A TCP socket that sends without Nagle's delay (TCP_NODELAY, set by ``connect_tcp``) and, after
    every read, acknowledges what it read at once (TCP_QUICKACK: the kernel leaves that mode by itself,
    so it is asked again each time) instead of after the delayed-ACK timer."""

    __slots__ = ()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if _QUICKACK is not None:
            try:
                self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:  # closed meanwhile: the next call says so
                pass
        return data


def syn_times(deadline_s: float, syn_at: Tuple[float, ...] = SYN_AT) -> Tuple[float, ...]:
    """The moments (seconds after the start) a connection with ``deadline_s`` sends a fresh SYN:
    those of ``syn_at`` before the deadline, the first always."""
    return (syn_at[0],) + tuple(t for t in syn_at[1:] if t < deadline_s)


def connect_tcp(target: Target, deadline_s: float, syn_at: Tuple[float, ...] = SYN_AT,
                clock: Callable[[], float] = time.monotonic) -> socket.socket:
    """A TCP connection to ``target`` (address, port), in blocking mode, made within ``deadline_s``: a
    PromptSocket.

    A fresh SYN goes out on a new socket at each of ``syn_times`` while no socket connected; the
    first that connects is returned, the others closed. An answer that refuses (connection refused,
    no route to the host) is raised at once as the OSError it is; no answer at all by the deadline
    raises ``socket.timeout``, as ``socket.create_connection`` would."""
    family, kind, proto, _, address = socket.getaddrinfo(target[0], target[1], type=socket.SOCK_STREAM)[0]
    start = clock()
    due = list(syn_times(deadline_s, syn_at))
    pending: List[socket.socket] = []
    winner = None
    selector = selectors.DefaultSelector()
    try:
        while True:
            elapsed = clock() - start
            while due and due[0] <= elapsed:
                due.pop(0)
                sock = PromptSocket(family, kind, proto)
                pending.append(sock)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                code = sock.connect_ex(address)
                if code == 0:
                    winner = sock
                    break
                if code not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                    raise OSError(code, os.strerror(code))
                selector.register(sock, selectors.EVENT_WRITE)
            if winner is not None:
                break
            wait = min(due[0] if due else deadline_s, deadline_s) - elapsed
            # Looked at even when the deadline has passed: a process that got no CPU for a while
            # finds a connection the kernel made meanwhile, instead of calling a live host dead.
            for key, _ in selector.select(max(wait, 0)):
                code = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                winner = key.fileobj
                break
            if winner is not None:
                break
            if wait <= 0:
                raise socket.timeout("timed out")
    finally:
        selector.close()
        for sock in pending:
            if sock is not winner:
                sock.close()
    winner.setblocking(True)
    return winner


def ssh_target(host) -> Tuple[str, int, str]:
    """(address, port, user) to reach ``host`` over SSH: the ssh:// URL's parts, else the host's."""
    address, port, user = host.address, host.ssh.port, host.ssh.user
    if host.docker_url.startswith("ssh://"):
        url = urllib.parse.urlsplit(host.docker_url)
        address = url.hostname or address
        port = url.port or port
        user = url.username or user
    return address, port, user


def targets_of_cluster_file(raw) -> Dict[Target, float]:
    """{(address, port): connect timeout} of the ssh:// hosts a cluster file's YAML (``raw``, as
    loaded) names, read the way cluster.py reads them (the top-level ``ssh``, each host's own, the
    ssh:// URL's host and port), without the whole of its checks: a command begins connecting while
    that module and the compose pipeline load. A host this cannot read is left out (the command
    connects to it when it needs it, and cluster.py says what is wrong)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("hosts"), list):
        return {}
    top = raw.get("ssh") if isinstance(raw.get("ssh"), dict) else {}
    targets: Dict[Target, float] = {}
    for host in raw["hosts"]:
        try:
            ssh = dict(top, **(host.get("ssh") or {}))
            port = int(ssh.get("port", 22))
            timeout = float(ssh.get("connect_timeout", DEFAULT_TIMEOUT_S))
            address = str(host["address"])
            url = str(host.get("docker_url", f"ssh://{ssh.get('user', 'root')}@{address}"))
            if not url.startswith("ssh://") or not 0.1 <= timeout <= 600:
                continue
            parts = urllib.parse.urlsplit(url)
            targets[(parts.hostname or address, parts.port or port)] = timeout
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    return targets


class _Attempt:
    def __init__(self, target: Target, timeout: float):
        self.sock: Optional[socket.socket] = None
        self.error: Optional[BaseException] = None
        self.ended = 0.0
        self.thread = threading.Thread(target=self._run, args=(target, timeout), daemon=True,
                                       name=f"connect-{target[0]}")
        self.thread.start()

    def _run(self, target: Target, timeout: float) -> None:
        try:
            self.sock = connect_tcp(target, timeout)
        except (OSError, ValueError) as exc:
            self.error = exc
        self.ended = time.monotonic()


class EarlyConnections:
    """One TCP connection attempt per target, begun at construction; each taken at most once."""

    def __init__(self, targets: Dict[Target, float]):
        self._lock = threading.Lock()
        self._attempts = {target: _Attempt(target, timeout) for target, timeout in targets.items()}

    @classmethod
    def to_ssh_hosts(cls, hosts: Iterable) -> "EarlyConnections":
        """Begin connecting to every host whose Docker API rides its SSH connection (ssh:// hosts)."""
        return cls({ssh_target(h)[:2]: h.ssh.connect_timeout_s for h in hosts if h.docker_url.startswith("ssh://")})

    def take(self, target: Target) -> Optional[socket.socket]:
        """The connected socket to ``target`` once its attempt ends, or None when none was begun, it was
        taken already or it ended too long ago. Raises the attempt's error (``socket.timeout``, ...)."""
        with self._lock:
            attempt = self._attempts.pop(target, None)
        if attempt is None:
            return None
        attempt.thread.join()  # bounded by the attempt's own timeout
        if time.monotonic() - attempt.ended > FRESH_S:
            if attempt.sock is not None:
                attempt.sock.close()
            return None
        if attempt.error is not None:
            raise attempt.error
        return attempt.sock

    def close(self) -> None:
        with self._lock:
            attempts, self._attempts = list(self._attempts.values()), {}
        for attempt in attempts:
            if not attempt.thread.is_alive() and attempt.sock is not None:
                attempt.sock.close()
