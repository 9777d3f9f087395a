"""Once more on a fresh connection, when a host's SSH connection died under an operation.

A connection can die in the middle of a run (sshd restarted, a reset on the way): every operation
then in flight on it fails at once, with the transport's words ("Server connection dropped",
"Unable to open channel"), and the next one reconnects. For operations whose second run is
harmless (a whole file put again, a table loaded again, a listing), one more try on the fresh
connection saves the run a failed step; an answer from the server (no such file, a refused
command) is never retried, and neither is a failure on a connection still alive. Pure.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from napcompose.errors import HostError

T = TypeVar("T")


def once_more_if_dropped(alive: Callable[[], Callable[[], bool]], operation: Callable[[], T]) -> T:
    """``operation()``; when it raised HostError and the connection it ran on is no longer alive,
    ``operation()`` again. ``alive()`` is asked before the first run and names that connection
    (a callable telling whether it still is)."""
    still = alive()
    try:
        return operation()
    except HostError:
        if still():
            raise
    return operation()
