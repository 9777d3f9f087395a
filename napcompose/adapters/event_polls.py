"""One watcher per host: its container events as they come, and whether it answers.

Each host is asked for the events stamped since its last answer (``ContainerEngine.events``, a
window that overlaps the last one by a second, its repeats dropped) a few times a second. A call
that returns is the host's heartbeat; a call that fails or hangs is not. Each watcher has a
connection of its own (a pass's calls never wait behind a heartbeat stuck on a lost host), dropped
after a failure and made again for the next call, so a host that comes back is heard from at once.
Each watcher is a daemon thread; ``stop`` ends them all.
"""

from __future__ import annotations

import threading
from typing import Callable, Set, Tuple

from napcompose.errors import NapComposeError

OVERLAP_S = 1.0


class HostWatchers:
    """``on_event(event)`` for every new container event of every host; ``on_answer(host, ok, now, error)``
    after every call."""

    def __init__(self, hosts, connect: Callable[[str], Tuple[object, Callable[[], None]]], clock,
                 on_event: Callable, on_answer: Callable, every_s: float = 0.25):
        """``connect(host)``: a new (ContainerEngine, close) for ``host``."""
        self._hosts = sorted(hosts)
        self._connect = connect
        self._clock = clock
        self._on_event = on_event
        self._on_answer = on_answer
        self._every_s = every_s
        self._stop = threading.Event()
        self._threads = []

    def start(self) -> None:
        for host in self._hosts:
            thread = threading.Thread(target=self._watch, args=(host,), name=f"watch-{host}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, wait_s: float = 3.0) -> None:
        """End every watcher; wait a little for each to close its connection (a call under way ends
        at its timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=wait_s / max(1, len(self._threads)))

    def _watch(self, host: str) -> None:
        since = self._clock.now()
        seen: Set[Tuple[float, str, str]] = set()
        link = None
        while not self._stop.is_set():
            until = self._clock.now()
            try:
                if link is None:
                    link = self._connect(host)
                events = link[0].events(since - OVERLAP_S, until)
            except Exception as exc:  # any failure is a missed beat; a library error too: keep watching
                why = str(exc) if isinstance(exc, NapComposeError) else f"{type(exc).__name__}: {exc}"
                self._on_answer(host, False, self._clock.now(), why)
                link = self._drop(link)
            else:
                self._on_answer(host, True, until, "")
                for event in events:
                    key = (event.time, event.container_id, event.action)
                    if key not in seen:
                        seen.add(key)
                        self._on_event(event)
                seen = {k for k in seen if k[0] >= until - 2 * OVERLAP_S}
                since = until
            self._stop.wait(self._every_s)
        self._drop(link)

    @staticmethod
    def _drop(link):
        if link is not None:
            try:
                link[1]()
            except Exception:  # closing a dead connection may fail: it is gone either way
                pass
        return None
