"""The reconcilers' leader lease: several may run, one leads, and a deposed leader changes nothing.

The key ``<prefix>/reconciler/leader`` holds the leader's record (the project lock's record: a token
unique to this run, who, since when, until when). It is taken with create-if-absent and renewed with
a compare-and-swap on its version every quarter of the lease. Like the project lock, a lease is judged
to have run out by the clock of the one who reads it, never by comparing two machines' clocks: a
candidate takes the key over (compare-and-swap on the version it read) only once that version has
stood still for a whole lease by its own clock.

The leader stops acting before any candidate may take over: it counts itself leader only while its
last successful renewal, timed from when that renewal was SENT, is younger than half a lease. Its
fence (``check``, called before every step of a pass) reads the key with quorum and refuses when
the token is not its own, when that read fails, or when its renewal is too old: with the store
unreachable the leader is unsure, and an unsure leader changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from napcompose.errors import LeadershipLostError, StoreError
from napcompose.lock import Holder, LockRecord, describe

DEFAULT_LEASE_S = 5.0


def _who(record: LockRecord) -> str:
    """The holder without times: a follower says it once, not once a beat with a new age."""
    h = record.holder
    return f"{h.user}@{h.machine} (pid {h.pid}, `{h.command}`)"


def leader_key(prefix: str) -> str:
    return f"{prefix.rstrip('/')}/reconciler/leader"


@dataclass(frozen=True)
class LeaseState:
    """Where this reconciler stands: ``leading``, ``following`` (another leads) or ``unsure``."""

    status: str
    why: str

    @property
    def leading(self) -> bool:
        return self.status == "leading"


class Leadership:
    """This reconciler's part in the election. Not thread-safe except ``check`` (read-only here)."""

    def __init__(self, store, prefix: str, holder: Holder, clock, new_id: Callable[[], str],
                 lease_s: float = DEFAULT_LEASE_S):
        if lease_s <= 0:
            raise ValueError("the lease must be a positive number of seconds")
        self.key = leader_key(prefix)
        self.lease_s = float(lease_s)
        self._store = store
        self._clock = clock
        self._holder = holder
        self._token = new_id()
        self._version: Optional[int] = None
        self._renewed_at: Optional[float] = None  # when the last successful write was sent
        self._watch: Optional[Tuple[int, float]] = None  # (version seen, first seen at) of another's lease
        # the leaders this one took the lease from: fenced out by the lease, so a project lock one of
        # them still holds (it stalled mid-pass) may be taken over at once (``deposed``)
        self._deposed: set = set()
        self.state = LeaseState("following", "not started")

    @property
    def renew_every_s(self) -> float:
        return self.lease_s / 4  # two renewals fit in the half lease the leader trusts

    def _fresh(self, now: float) -> bool:
        return self._renewed_at is not None and now - self._renewed_at < self.lease_s / 2

    def step(self) -> LeaseState:
        """Renew the lease when leading, try to take it otherwise; the state that results."""
        sent = self._clock.now()
        try:
            self.state = self._renew(sent) if self._version is not None else self._take(sent)
        except StoreError as exc:
            if self._version is not None and self._fresh(self._clock.now()):
                self.state = LeaseState("leading", f"could not renew the lease ({exc}); it still runs")
            else:
                self.state = LeaseState("unsure", f"cannot reach the store: {exc}")
        return self.state

    def _record(self, now: float) -> LockRecord:
        return LockRecord(self._token, self._holder, now, now + self.lease_s)

    def _renew(self, sent: float) -> LeaseState:
        version = self._store.compare_and_swap(self.key, self._record(sent).dump(), self._version)
        if version is None:
            found = self._store.get(self.key)
            current = LockRecord.load(found[0]) if found else None
            if current is None or current.token != self._token:
                self._version, self._renewed_at = None, None
                who = _who(current) if current else "nobody (the key is gone)"
                return LeaseState("following", f"lost the lease: {who} holds it")
            version = found[1]  # our earlier write landed after all
        self._version, self._renewed_at = version, sent
        return LeaseState("leading", "holds the lease")

    def _take(self, sent: float) -> LeaseState:
        version = self._store.create(self.key, self._record(sent).dump())
        if version is not None:
            self._version, self._renewed_at = version, sent
            return LeaseState("leading", "took the free lease")
        found = self._store.get(self.key)
        if found is None:
            return LeaseState("following", "the lease was given back meanwhile; trying again")
        current = LockRecord.load(found[0])
        if current is not None and current.token == self._token:
            self._version, self._renewed_at = found[1], sent
            return LeaseState("leading", "took the free lease")
        if self._watch is None or self._watch[0] != found[1]:
            self._watch = (found[1], sent)
        if current is not None and sent - self._watch[1] < self.lease_s:
            return LeaseState("following", f"{_who(current)} leads")
        version = self._store.compare_and_swap(self.key, self._record(sent).dump(), found[1])
        if version is None:
            return LeaseState("following", "another reconciler took the lease meanwhile")
        self._version, self._renewed_at, self._watch = version, sent, None
        if current is not None:
            self._deposed.add(current.holder)
        who = describe(current, sent) if current else "an unreadable record"
        return LeaseState("leading", f"took over the lease of {who}: not renewed for {self.lease_s:g} s")

    def deposed(self, holder: Holder) -> bool:
        """True for a reconciler this one took the lease over from: every step it might still take
        fails its own fence (it no longer holds the lease), so what it holds need not be waited out."""
        return self._version is not None and holder in self._deposed

    def check(self) -> None:
        """The fence before every step of a pass: LeadershipLostError unless this run leads now."""
        version = self._version
        if version is None:
            raise LeadershipLostError("this reconciler does not lead: it changes nothing")
        if not self._fresh(self._clock.now()):
            raise LeadershipLostError(f"the leader's lease was not renewed in the last {self.lease_s / 2:g} s: "
                                      "unsure whether it still leads, it changes nothing")
        try:
            found = self._store.get(self.key)
        except StoreError as exc:
            raise LeadershipLostError(f"cannot confirm the lease ({exc}): changing nothing") from None
        current = LockRecord.load(found[0]) if found else None
        if current is None or current.token != self._token:
            raise LeadershipLostError("another reconciler took the lease over: changing nothing")

    def resign(self) -> None:
        """Give the lease back (a clean stop), so another takes over at once."""
        version, self._version, self._renewed_at = self._version, None, None
        if version is not None:
            try:
                self._store.compare_and_delete(self.key, version)
            except StoreError:
                pass  # it runs out by itself
        self.state = LeaseState("following", "resigned")
