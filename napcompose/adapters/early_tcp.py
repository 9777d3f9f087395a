"""TCP connections to the hosts begun before the SSH and Docker libraries are even loaded.

Loading paramiko and docker-py takes most of a second; a host that is cut off costs its whole
``ssh.connect_timeout``. Begun together, the two overlap: a command that is about to talk to every
host (``ps``, ``up``, ...) starts one TCP connection per SSH host on a thread right away, and the SSH
connection later takes the socket (or the connect's error, as the connect itself would have raised
it) instead of connecting again. A socket nobody takes is closed with the connections, and one taken
long after it connected (a command that waited for the project lock first) is closed and replaced by a
fresh connection: sshd drops connections that do not log in soon, and a host may have come back.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from typing import Dict, Iterable, Optional, Tuple

Target = Tuple[str, int]
FRESH_S = 10.0  # an attempt that ended longer ago than this is not used


def ssh_target(host) -> Tuple[str, int, str]:
    """(address, port, user) to reach ``host`` over SSH: the ssh:// URL's parts, else the host's."""
    address, port, user = host.address, host.ssh.port, host.ssh.user
    if host.docker_url.startswith("ssh://"):
        url = urllib.parse.urlsplit(host.docker_url)
        address = url.hostname or address
        port = url.port or port
        user = url.username or user
    return address, port, user


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
            self.sock = socket.create_connection(target, timeout=timeout)
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
