"""One watcher per host: its container events as they come, and whether it answers.

Each host is asked for the events stamped since its last answer (``ContainerEngine.events``, a
window that overlaps the last one by a second, its repeats dropped) a few times a second. A call
that returns is the host's heartbeat; a call that fails or hangs is not, and the next one connects
again, so a host that comes back is heard from without anything restarted. Each watcher is a
daemon thread; ``stop`` ends them all.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Set, Tuple

from napcompose.errors import NapComposeError

OVERLAP_S = 1.0


class HostWatchers:
    """``on_event(event)`` for every new container event of every host; ``on_answer(host, ok, now, error)``
    after every call."""

    def __init__(self, engines: Dict[str, object], clock, on_event: Callable, on_answer: Callable,
                 every_s: float = 0.25):
        self._engines = engines
        self._clock = clock
        self._on_event = on_event
        self._on_answer = on_answer
        self._every_s = every_s
        self._stop = threading.Event()
        self._threads = []

    def start(self) -> None:
        for host, engine in sorted(self._engines.items()):
            thread = threading.Thread(target=self._watch, args=(host, engine), name=f"watch-{host}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()

    def _watch(self, host: str, engine) -> None:
        since = self._clock.now()
        seen: Set[Tuple[float, str, str]] = set()
        while not self._stop.is_set():
            until = self._clock.now()
            try:
                events = engine.events(since - OVERLAP_S, until)
            except NapComposeError as exc:
                self._on_answer(host, False, self._clock.now(), str(exc))
            except Exception as exc:  # a library error the adapter did not translate: keep watching
                self._on_answer(host, False, self._clock.now(), f"{type(exc).__name__}: {exc}")
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
