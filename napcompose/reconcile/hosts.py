"""When is a host lost: a heartbeat nobody can fake, the leader's own reach.

Every host is asked something cheap once a second (``seen``). A host that has not answered for
``grace_s`` while at least one other host answered within that time is lost: the fault is that
host's or its link's, not the leader's. When no host answers, the leader itself is cut off: nobody is
lost and nothing moves. A host answering again is back at once. Until a silent host is lost it is
suspect, and a pass that would move its replicas waits. Pure: times are given by the caller.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

DEFAULT_GRACE_S = 4.0
SILENT_S = 1.5  # unanswered this long: a probe is late, not merely under way


@dataclass(frozen=True)
class Verdict:
    """The hosts as judged at one instant."""

    lost: Tuple[str, ...] = ()
    suspect: Tuple[Tuple[str, float], ...] = ()  # (host, seconds unanswered so far)
    cut_off: bool = False  # no host answers: the leader is the one cut off

    def why_waiting(self, grace_s: float) -> str:
        if self.cut_off:
            return "no host answers: this reconciler may be the one cut off, so nothing moves"
        return "; ".join(f"{h} unanswered for {s:.1f} s (lost after {grace_s:g} s while others answer)"
                         for h, s in self.suspect)


class HostJudge:
    """The last time each host answered, and what follows. Thread-safe: one prober per host feeds it."""

    def __init__(self, hosts: Iterable[str], grace_s: float = DEFAULT_GRACE_S, started: float = 0.0):
        self.grace_s = float(grace_s)
        # a host never heard from counts from the first answer of any host (connecting takes a while)
        self._last: Dict[str, float] = {h: started for h in hosts}
        self._heard: set = set()
        self._errors: Dict[str, str] = {}
        self._lost: Dict[str, bool] = {h: False for h in self._last}
        self._mutex = threading.Lock()

    def seen(self, host: str, ok: bool, now: float, error: str = "") -> None:
        if host not in self._last:
            return
        with self._mutex:
            if ok:
                if not self._heard:  # the first answer: the silence of the others counts from now
                    for other in self._last:
                        self._last[other] = max(self._last[other], now)
                self._heard.add(host)
                self._last[host] = max(self._last[host], now)
                self._errors.pop(host, None)
            else:
                self._errors[host] = error

    def error(self, host: str) -> str:
        return self._errors.get(host, "")

    def verdict(self, now: float) -> Verdict:
        with self._mutex:
            last = dict(self._last)
        silent = {h: now - t for h, t in last.items() if now - t >= SILENT_S}
        answering = [h for h in last if h not in silent]
        if not answering:
            return Verdict(cut_off=True, suspect=tuple(sorted(silent.items())))
        lost = tuple(sorted(h for h, s in silent.items() if s >= self.grace_s))
        suspect = tuple(sorted((h, s) for h, s in silent.items() if s < self.grace_s))
        return Verdict(lost, suspect)

    def changes(self, now: float) -> List[Tuple[str, bool]]:
        """(host, lost) for every host whose lost/back state changed since the last call."""
        verdict = self.verdict(now)
        changed = []
        for host in sorted(self._lost):
            lost = host in verdict.lost if not verdict.cut_off else self._lost[host]
            if lost != self._lost[host]:
                self._lost[host] = lost
                changed.append((host, lost))
        return changed

    def last_answer(self, host: str) -> Optional[float]:
        return self._last.get(host)
