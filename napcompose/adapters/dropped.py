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

A container create is not harmless to run twice: the first may have landed with only its answer
lost, and a second would meet the name taken. ``once_more_unless_landed`` asks first, by the
container's own name, whether it is there.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

from napcompose.errors import HostError

T = TypeVar("T")

SETTLE_S = 1.0
# paramiko fails a dead connection's channels a moment before it calls the connection inactive; a
# second call made at once could still be handed that connection
IN_TRANSIT_PAUSE_S = 0.2


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


def once_more_unless_landed(operation: Callable[[], T], landed: Callable[[], Optional[T]],
                            in_transit: Callable[[BaseException], bool],
                            pause: Callable[[float], None] = time.sleep) -> T:
    """``operation()``; when it failed in transit (``in_transit``: the connection ended or was
    refused under it, so whether the server acted is unknown), ``landed()`` says what the server
    did: the operation's result when it took effect, None when it did not, and then ``operation()``
    runs once more. ``landed`` is asked a second time, after ``IN_TRANSIT_PAUSE_S``, when its own
    call fails in transit too; when it cannot answer, the first failure is raised."""
    try:
        return operation()
    except Exception as exc:  # judged by in_transit; everything else goes on up as it was
        if not in_transit(exc):
            raise
        first = exc
    found = _NOT_ASKED
    for attempt in range(2):
        if attempt:
            pause(IN_TRANSIT_PAUSE_S)
        try:
            found = landed()
            break
        except Exception as exc:
            if not in_transit(exc):
                break
    if found is _NOT_ASKED:
        raise first
    if found is not None:
        return found
    return operation()


def once_more_if_in_transit(operation: Callable[[], T], in_transit: Callable[[BaseException], bool],
                            pause: Callable[[float], None] = time.sleep) -> T:
    """``operation()``, and once more after ``IN_TRANSIT_PAUSE_S`` when it failed in transit: for
    operations a second run of which does no harm (a start, a stop, a removal, an inspect)."""
    try:
        return operation()
    except Exception as exc:  # judged by in_transit; everything else goes on up as it was
        if not in_transit(exc):
            raise
    pause(IN_TRANSIT_PAUSE_S)
    return operation()


_NOT_ASKED = object()
