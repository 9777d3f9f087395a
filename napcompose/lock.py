"""One writer per project: a lease in the store, taken by every command that changes the project.

The key ``<prefix>/locks/<project>`` holds who took it (user@machine, pid, command), since when, and
until when the lease runs. It is taken with create-if-absent; its holder renews the lease with a
compare-and-swap on the key's version (``refresh``, every third of the lease) and gives it back with a
compare-and-delete, so nobody ever removes or renews a lock that is not theirs. A lease that ran out
(its holder crashed or stalled) is taken over with a compare-and-swap on the version that was read, so
of two runs that find it expired only one wins.

Whether a lease ran out is never judged by comparing clocks of two machines (a clock 60 s ahead
would take a live lock): a run takes a lock over only when the record's version has stood still for
a whole lease by its own clock, that is when nobody renewed it for that long, or when its holder's
process is known to be gone. The ``expires`` written in the record only tells a run that the lock
looks stale and is worth watching for one lease rather than refusing at once.

A holder checks the record before each step that changes the project (``check``, the run's fence):
once another run took the lock over, the stale holder's next step stops with LockLostError (exit 10)
instead of undoing the new holder's work. Within half a lease of its last write that landed (taking
or renewing), a holder needs no read for that: another run can take the lock only after seeing the
record unchanged for a whole lease on its own clock, and it cannot have seen this write before it
was sent, so nobody can hold the lock yet (a clock that stepped back, or jumped ahead, makes the next
check read the record). The renewal every third of a lease keeps a healthy run inside that window;
a run stalled past it reads the record at its next step.

The lock keeps honest operators from colliding; it is not what keeps addresses unique: the IPAM's
own fencing does that whatever the callers do.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, replace
from typing import Callable, Optional, Tuple

from napcompose.errors import LockLostError, ProjectLockedError, StoreError, UsageError

DEFAULT_TTL_S = 30.0
TRUSTED_PART = 0.5  # of a lease after our last write that landed, the fence needs no read
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_COMMAND = 300


@dataclass(frozen=True)
class Holder:
    """Who runs a command: shown to anyone who finds the project locked."""

    user: str
    machine: str
    pid: int
    command: str
    # Which process table ``pid`` belongs to (the kernel's boot id and the pid namespace) and when that
    # process started: enough for a later run on the same machine to tell that the holder is gone,
    # even if its pid was given to another process since. Empty when unknown (other machines).
    process_table: str = ""
    started: str = ""


@dataclass(frozen=True)
class LockRecord:
    token: str  # unique per acquisition: tells our own lease from a later holder's
    holder: Holder
    since: float
    expires: float

    def dump(self) -> str:
        h = self.holder
        return json.dumps({"token": self.token, "user": h.user, "machine": h.machine, "pid": h.pid,
                           "command": h.command, "process_table": h.process_table, "started": h.started,
                           "since": self.since, "expires": self.expires}, sort_keys=True)

    @staticmethod
    def load(text: str) -> Optional["LockRecord"]:
        """The record, or None when the value is not one (a stray write): such a lock counts as expired."""
        try:
            data = json.loads(text)
            return LockRecord(str(data["token"]),
                              Holder(str(data["user"]), str(data["machine"]), int(data["pid"]),
                                     str(data["command"]), str(data.get("process_table") or ""),
                                     str(data.get("started") or "")),
                              float(data["since"]), float(data["expires"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _clock_text(seconds: float) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SS UTC``, by arithmetic: the core reads no clock or
    calendar module (the time itself always comes from the Clock port)."""
    days, rest = divmod(int(seconds), 86400)
    # days since 1970-01-01 -> civil date (proleptic Gregorian), counted in 400-year eras from 0000-03-01
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return f"{year:04d}-{month:02d}-{day:02d} {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d} UTC"


def describe(record: LockRecord, now: float) -> str:
    """``root@ws1 (pid 4242, `nap-compose up -d`) since 2026-12-01 18:40:03 UTC (12 s ago)``."""
    h = record.holder
    age = max(0, int(now - record.since))
    return f"{h.user}@{h.machine} (pid {h.pid}, `{h.command}`) since {_clock_text(record.since)} ({age} s ago)"


def lock_key(prefix: str, project: str) -> str:
    if not _PROJECT.match(project or ""):
        raise UsageError(f"invalid project name '{project}' for a lock: use a-z, 0-9, '-' and '_'")
    return f"{prefix.rstrip('/')}/locks/{project}"


class ProjectLock:
    """The lock of one project, held by one command run. Thread-safe (a refresher runs beside the work)."""

    POLL_S = 0.5  # how often a waiting run looks again
    MAX_ROUNDS = 100

    def __init__(self, store, prefix: str, project: str, holder: Holder, clock, new_id: Callable[[], str],
                 ttl_s: float = DEFAULT_TTL_S, gone: Callable[[Holder], bool] = lambda holder: False):
        if ttl_s <= 0:
            raise UsageError(f"the lock's lease must be a positive number of seconds, not {ttl_s!r}")
        self.project = project
        self.key = lock_key(prefix, project)
        self.ttl_s = float(ttl_s)
        self._store = store
        self._clock = clock
        self._holder = replace(holder, command=holder.command[:MAX_COMMAND])
        self._token = new_id()
        self._mutex = threading.Lock()
        self._record: Optional[LockRecord] = None
        self._version: Optional[int] = None
        self.taken_over: Optional[LockRecord] = None  # the expired lease this run took over, if any
        # ``gone(holder)`` is True only when the holder's process is known to have ended (it ran on this
        # machine and its process is not there any more): its lease need not be waited out.
        self._gone = gone
        self.holder_gone = False  # the lock taken over was a dead process's, before its lease ran out
        # (version, when this run first saw it): a version unchanged for a whole lease was not renewed
        self._watch: Optional[Tuple[int, float]] = None
        self.confirming: Optional[LockRecord] = None  # a stale-looking lock being watched for one lease
        self._lost: Optional[str] = None  # why the lock is no longer ours, once a step found out
        self._written_at: Optional[float] = None  # this clock just before our last write that landed

    @property
    def held(self) -> bool:
        return self._version is not None

    def now(self) -> float:
        return self._clock.now()

    @property
    def refresh_every_s(self) -> float:
        return self.ttl_s / 3

    # ------------------------------------------------------------------ taking it

    def acquire(self, wait_s: Optional[float] = 0.0,
                on_wait: Callable[[LockRecord], None] = lambda record: None) -> None:
        """Take the lock. ``wait_s``: 0 fails at once when it is held, None waits as long as it takes,
        a number waits at most that many seconds. A lock whose record says its lease ran out is
        watched for up to one lease whatever ``wait_s`` says (``confirming`` is set then): it is
        taken over only if nobody renews it meanwhile. Raises ProjectLockedError naming the holder."""
        start = self._clock.now()
        told = False
        confirm_until: Optional[float] = None
        while True:
            holder = self._try()
            if holder is None:
                self.confirming = None
                return
            now = self._clock.now()
            waited = now - start
            if self.confirming is not None and holder != self.confirming:
                # renewed or taken by another while watched: it is alive, the watching is over
                confirm_until, self.confirming = None, None
            elif confirm_until is None and wait_s is not None and now >= holder.expires and not told:
                # stale by its own record: confirm it by watching for one lease, on this clock alone
                confirm_until = now + self.ttl_s + self.POLL_S
                self.confirming = holder
            limit = wait_s if confirm_until is None else max(wait_s, confirm_until - start)
            if limit is not None and waited >= limit:
                self.confirming = None
                raise ProjectLockedError(self._held_message(holder, now, waited if wait_s else None))
            if not told:
                on_wait(holder)
                told = True
            pause = self.POLL_S if limit is None else min(self.POLL_S, limit - waited)
            self._clock.sleep(max(0.01, pause))

    def _try(self) -> Optional[LockRecord]:
        """Take the lock if it is free or expired; otherwise return the holder's record."""
        with self._mutex:
            if self._version is not None:
                return None
            for _ in range(self.MAX_ROUNDS):
                now = self._clock.now()
                mine = LockRecord(self._token, self._holder, now, now + self.ttl_s)
                version = self._store.create(self.key, mine.dump())
                if version is not None:
                    self._record, self._version, self._written_at = mine, version, now
                    return None
                found = self._store.get(self.key)
                if found is None:
                    continue  # released between our create and our read: try again
                current = LockRecord.load(found[0])
                if current is not None and current.token == self._token:
                    self._record, self._version = current, found[1]  # our create landed after all
                    self._written_at = now
                    return None
                dead = current is not None and self._gone(current.holder)
                if current is not None and not dead and not self._stood_still(found[1], now):
                    return current
                version = self._store.compare_and_swap(self.key, mine.dump(), found[1])
                if version is not None:
                    self._record, self._version, self.taken_over = mine, version, current
                    self.holder_gone, self._written_at = dead, now
                    return None
                # someone renewed, released or took it over meanwhile: look again
            raise StoreError(f"the lock {self.key} kept changing while being taken; run it again")

    def _stood_still(self, version: int, now: float) -> bool:
        """True once ``version`` of the record has been seen unchanged for a whole lease."""
        if self._watch is None or self._watch[0] != version:
            self._watch = (version, now)
            return False
        return now - self._watch[1] >= self.ttl_s

    def _held_message(self, holder: LockRecord, now: float, waited: Optional[float]) -> str:
        after = f" (still, after waiting {waited:.0f} s)" if waited is not None else ""
        if now >= holder.expires:  # its record says the lease ran out, yet it was renewed meanwhile
            lease = ("its holder keeps renewing it although its record's lease ended at "
                     f"{_clock_text(holder.expires)} by this machine's clock: the two clocks differ")
        else:
            lease = f"a crashed holder's lock runs out by itself at {_clock_text(holder.expires)}"
        return (f"project {self.project} is locked by {describe(holder, now)}{after}: another command is "
                f"changing it. Run this again once it is done, or pass --lock-wait[=SECONDS] to wait for it "
                f"({lease})")

    # ------------------------------------------------------------------ holding it

    def refresh(self) -> None:
        """Renew the lease. Raises LockLostError when someone took the lock over; StoreError passes."""
        with self._mutex:
            if self._version is None:
                return
            sent = self._clock.now()
            renewed = replace(self._record, expires=sent + self.ttl_s)
            version = self._store.compare_and_swap(self.key, renewed.dump(), self._version)
            if version is None:
                found = self._store.get(self.key)
                current = LockRecord.load(found[0]) if found else None
                if current is None or current.token != self._token:
                    self._version = None
                    self._lost = self._lost_message(current)
                    raise LockLostError(self._lost)
                self._record, self._version = current, found[1]  # ours, written when we cannot tell
                return
            self._record, self._version, self._written_at = renewed, version, sent

    def check(self) -> None:
        """The fence before a step that changes the project: LockLostError when the record is no
        longer this run's (taken over while this run stalled), then and at every later call. A
        lock never taken (or given back) passes. StoreError passes: the step may not run."""
        with self._mutex:
            if self._lost is not None:
                raise LockLostError(self._lost)
            if self._version is None:
                return
            if self._written_at is not None and 0 <= self._clock.now() - self._written_at < self.ttl_s * TRUSTED_PART:
                return  # nobody can have taken it over yet (module docstring)
        found = self._store.get(self.key)  # outside the mutex: steps running at once check at once
        current = LockRecord.load(found[0]) if found else None
        with self._mutex:
            if self._lost is not None:
                raise LockLostError(self._lost)
            if self._version is None:
                return
            if current is None or current.token != self._token:
                self._version = None
                self._lost = self._lost_message(current)
                raise LockLostError(self._lost)

    def release(self) -> None:
        """Give the lock back if it is still ours. Raises LockLostError when it was taken over."""
        with self._mutex:
            if self._version is None:
                return
            version, self._version = self._version, None
            if self._store.compare_and_delete(self.key, version):
                return
            found = self._store.get(self.key)
            current = LockRecord.load(found[0]) if found else None
            if current is not None and current.token == self._token:
                self._store.compare_and_delete(self.key, found[1])  # an ambiguous renewal landed
                return
            if current is not None:
                raise LockLostError(self._lost_message(current))

    def _lost_message(self, current: Optional[LockRecord]) -> str:
        by = f"by {describe(current, self._clock.now())}" if current is not None else "(it is gone)"
        return (f"the lock of project {self.project} was taken over {by} while this command held it (its "
                f"lease of {self.ttl_s:g} s was not renewed in time); check the project with `nap-compose ps`")
