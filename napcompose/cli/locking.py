"""The project lock on the command line: ``--lock-wait[=SECONDS]`` and one guard every changing command holds.

``--wait`` was the lock wait's first name. ``up`` and ``start`` now give ``--wait`` docker compose's
meaning (wait until the services run and are healthy, ``cli.compose_wait``); every other changing
command still takes ``--wait[=SECONDS]`` for the lock, with a warning that names the new spelling.

Every step of a run that changes the project passes the session's fence first (the executor calls it; it calls ``check`` here): it
reads the lock's record and stops the run with exit 10 once another command took the lock over.

A handler takes the lock with one line, ``hold_project_lock(ctx, project.name, cluster, store)``, after
it has checked its arguments and before it observes or changes anything. The guard renews the lease
from a background thread every third of the lease, and gives the lock back when the command ends
(``ctx.on_close``) or earlier through ``release()``. Read-only commands never call it.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import shlex
import socket
import threading
from typing import TYPE_CHECKING, Optional

from napcompose.errors import LockLostError, NapComposeError, StoreError

if TYPE_CHECKING:
    from napcompose.lock import Holder, LockRecord, ProjectLock

# The lock itself (napcompose.lock, the process table) is imported when a command takes it: a command
# line that only registers ``--lock-wait`` (``ps`` registers its neighbours') does not load it.


def _seconds(spelling: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not (value >= 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a number of seconds (write {spelling}=SECONDS, or {spelling} alone to wait "
                "as long as it takes)")
        return value

    return parse


wait_seconds = _seconds("--lock-wait")


def add_wait_option(parser, old_spelling: bool = True) -> None:
    """``--lock-wait`` (as long as it takes) or ``--lock-wait=SECONDS`` for a command that takes the
    project lock; ``old_spelling``: ``--wait[=SECONDS]`` too, the option's first name, with a warning
    (False where ``--wait`` has docker compose's meaning: ``up``, ``start``)."""
    parser.add_argument("--lock-wait", nargs="?", type=wait_seconds, const=math.inf, default=0.0,
                        metavar="SECONDS",
                        help="when another command holds the project's lock, wait for it (at most SECONDS) "
                             "instead of failing")
    if old_spelling:
        # A separate dest, so the guard can tell which spelling was used and say the new one.
        parser.add_argument("--wait", dest="old_lock_wait", nargs="?", type=_seconds("--wait"),
                            const=math.inf, default=None, metavar="SECONDS", help=argparse.SUPPRESS)


def identity(ctx) -> Holder:
    """Who this run is, as other writers will read it."""
    from napcompose.adapters.processes import process_table, start_time
    from napcompose.lock import Holder

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid{os.getuid()}"
    argv = getattr(ctx, "argv", None)
    command = "nap-compose " + (shlex.join(argv) if argv else getattr(ctx.args, "command", "") or "")
    pid = os.getpid()
    return Holder(user, socket.gethostname(), pid, command.strip(), process_table(), start_time(pid) or "")


class ProjectLockGuard:
    """Holds one project's lock for one command: takes it, keeps renewing it, gives it back."""

    def __init__(self, ctx, lock: ProjectLock, wait_s: Optional[float]):
        self._ctx = ctx
        self.lock = lock
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.lost: Optional[LockLostError] = None

    def __enter__(self) -> "ProjectLockGuard":
        from napcompose.lock import describe

        def waiting(record: LockRecord) -> None:
            if self.lock.confirming is not None and not self._wait_s:
                self._ctx.err(f"The lock of project {self.lock.project}, held by {describe(record, self.lock.now())}, "
                              f"looks stale: watching it for up to {self.lock.ttl_s:g} s, and taking it over "
                              f"if nobody renews it meanwhile")
                return
            limit = "as long as it takes" if self._wait_s is None else f"at most {self._wait_s:g} s"
            self._ctx.err(f"Waiting for the lock of project {self.lock.project}, held by "
                          f"{describe(record, self.lock.now())} ({limit})")

        self.lock.acquire(self._wait_s, on_wait=waiting)
        if self.lock.taken_over is not None:
            old = self.lock.taken_over
            why = ("its process is gone (that command crashed)" if self.lock.holder_gone else
                   "its lease ran out (that command crashed or stalled)")
            self._ctx.err(f"WARNING: took over the lock of project {self.lock.project} from "
                          f"{describe(old, self.lock.now())}: {why}; check the project with `nap-compose ps`")
        self._thread = threading.Thread(target=self._renew, name=f"lock-{self.lock.project}", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.lock.refresh_every_s):
            try:
                self.lock.refresh()
            except LockLostError as exc:
                self.lost = exc
                self._ctx.err(f"WARNING: {exc}")
                return
            except StoreError as exc:  # try again at the next beat; the lease covers two missed ones
                self._ctx.err(f"WARNING: could not renew the lock of project {self.lock.project}: {exc}")

    def check(self) -> None:
        """The fence before each step that changes the project: LockLostError (exit 10) once the
        lock was taken over, so a stalled run that wakes up changes nothing more."""
        if self.lost is not None:
            raise LockLostError(str(self.lost))
        try:
            self.lock.check()
        except LockLostError as exc:
            self.lost = self.lost or exc
            raise

    def release(self) -> None:
        """Stop renewing and give the lock back. Raises LockLostError if it was taken over meanwhile."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self.lock.release()
        except LockLostError as exc:
            self.lost = self.lost or exc
        except StoreError as exc:  # the work is done; the lease runs out by itself
            self._ctx.err(f"WARNING: could not give back the lock of project {self.lock.project} ({exc}); "
                          f"it runs out by itself within {self.lock.ttl_s:g} s")
        if self.lost is not None:
            lost, self.lost = self.lost, None
            raise lost

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is None:
            self.release()
            return
        try:
            self.release()
        except NapComposeError:
            pass  # the command's own error is the one to report

    def close(self) -> Optional[NapComposeError]:
        """For ``ctx.on_close``: release, and hand a lost lock back as the command's failure."""
        try:
            self.release()
        except NapComposeError as exc:
            return exc
        return None


def hold_project_lock(ctx, project_name: str, cluster, store=None) -> ProjectLockGuard:
    """Take ``project_name``'s lock until the command ends (``--lock-wait`` from the command line).

    Taking it twice in one command returns the guard already held.
    """
    held = getattr(ctx, "project_lock", None)
    if held is not None and held.lock.held:
        return held
    if store is None:
        from napcompose.cli.session import session_of

        # the session registers its store's closer now, before the guard's: closers run last-in
        # first-out, so the store closes after the guard gave the lock back
        store = session_of(ctx, cluster).store
    import uuid

    from napcompose.adapters.processes import holder_gone
    from napcompose.lock import ProjectLock

    new_id = getattr(ctx.wiring, "new_id", None) or (lambda: uuid.uuid4().hex)
    lock = ProjectLock(store, cluster.store.prefix, project_name, identity(ctx), ctx.wiring.clock(),
                       new_id, ttl_s=cluster.lock_ttl_s, gone=holder_gone)
    wait = getattr(ctx.args, "lock_wait", 0.0) or 0.0
    old = getattr(ctx.args, "old_lock_wait", None)
    if old is not None:
        ctx.err("WARNING: --wait here waits for the project's lock: its name is now --lock-wait "
                "(docker compose's --wait, wait until the services run, belongs to up and start)")
        wait = max(wait, old)
    guard = ProjectLockGuard(ctx, lock, None if math.isinf(wait) else wait)
    guard.__enter__()
    ctx.project_lock = guard
    ctx.on_close(guard.close)
    return guard

