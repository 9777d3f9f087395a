"""Once more on a fresh connection, when a host's SSH connection died under an operation.

A connection can die in the middle of a run (sshd restarted, a reset on the way): every operation
then in flight on it fails at once, with the transport's words ("Server connection dropped",
"Unable to open channel"), and the next one reconnects. For operations whose second run is
harmless (a whole file put again, a table loaded again, a listing), one more try on the fresh
connection saves the run a failed step; an answer from the server (no such file, a refused
command) is never retried, and neither is a failure on a connection still alive.

The transport learns that the server closed the connection in its own thread: an operation can
fail with the end of the stream (EOFError, a reset, paramiko's own exception) a moment before the
transport says it is no longer active. A failure of that kind waits up to ``SETTLE_S`` for the
connection to say so; any other failure is judged at once.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from napcompose.errors import HostError

T = TypeVar("T")

SETTLE_S = 1.0


def once_more_if_dropped(alive: Callable[[], Callable[[], bool]], operation: Callable[[], T],
                         settle_s: float = SETTLE_S, clock: Callable[[], float] = time.monotonic,
                         pause: Callable[[float], None] = time.sleep) -> T:
    """``operation()``; when it raised HostError and the connection it ran on is no longer alive,
    ``operation()`` again. ``alive()`` is asked before the first run and names that connection
    (a callable telling whether it still is)."""
    still = alive()
    try:
        return operation()
    except HostError as exc:
        if still() and not (_stream_ended(exc) and _dies_within(still, settle_s, clock, pause)):
            raise
    return operation()


def _stream_ended(exc: HostError) -> bool:
    """Whether ``exc`` came from the connection itself ending, not from an answer of the server."""
    cause = exc.__cause__
    if isinstance(cause, (EOFError, ConnectionError)):
        return True
    import paramiko  # loaded already wherever a connection ran

    return isinstance(cause, paramiko.SSHException)


def _dies_within(still: Callable[[], bool], settle_s: float, clock: Callable[[], float],
                 pause: Callable[[float], None]) -> bool:
    deadline = clock() + settle_s
    while still():
        if clock() >= deadline:
            return False
        pause(0.01)
    return True
