"""Log lines from many containers on many hosts, merged into one stream.

One reader thread per container pulls that container's log lines and puts them, prefixed, on a
shared queue; the consumer drains the queue in arrival order. Readers are daemon threads: a follow
stream only ends when its container stops, so the consumer may simply walk away from them.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional, Sequence

_DONE = object()


@dataclass(frozen=True)
class LogSource:
    """One container to read: ``lines`` opens its line iterator (engine.logs bound to an id)."""

    prefix: str  # e.g. "web_2@node3"
    lines: Callable[[], Iterable[str]]


class LogMux:
    """Merge the lines of several sources; ``width`` pads prefixes so the bars line up."""

    def __init__(self, sources: Sequence[LogSource], prefixed: bool = True):
        self._sources = list(sources)
        self._prefixed = prefixed  # False: the lines alone (``logs --no-log-prefix``)
        self._queue: "queue.Queue" = queue.Queue(maxsize=10000)
        self._width = max((len(s.prefix) for s in self._sources), default=0)
        self._started = False

    def _read(self, source: LogSource) -> None:
        prefix = source.prefix.ljust(self._width) + " | " if self._prefixed else ""
        try:
            for line in source.lines():
                self._queue.put(prefix + line)
        except Exception as exc:  # a dead host ends its own stream, not the others
            self._queue.put(f"{prefix}(log stream ended: {exc})")
        finally:
            self._queue.put(_DONE)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for source in self._sources:
            thread = threading.Thread(target=self._read, args=(source,), daemon=True,
                                      name=f"logs-{source.prefix}")
            thread.start()

    def lines(self, poll: float = 0.2, stop: Optional[threading.Event] = None) -> Iterator[str]:
        """Every line as it arrives, until all sources ended or ``stop`` is set."""
        self.start()
        remaining = len(self._sources)
        while remaining:
            if stop is not None and stop.is_set():
                return
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                continue
            if item is _DONE:
                remaining -= 1
                continue
            yield item
