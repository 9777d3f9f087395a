"""Running work in parallel with one result type: ``fan_out`` over hosts, ``run_waves`` over a plan,
``in_lanes`` over the many small round trips of one host.

Every parallel call in nap-compose goes through these three functions, and every one of them answers
with ``HostResult``: per item (a host, an action), either the value or the error, never an exception.
``run_waves`` adds dependencies: waves one after the other, the items of a wave in parallel, and an
item whose dependency failed or was skipped is not run but skipped, naming that dependency.
An exception that is not a NapComposeError is a bug: the current wave finishes, then it is raised.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, Generic, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from napcompose.errors import NapComposeError
from napcompose.model import SLOTS

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, **SLOTS)
class HostResult(Generic[R]):
    """What one item of a fan-out gave: its ``value``, or the ``error`` it ended with.

    ``key`` names the item (a host name, an action's key). ``skipped``: never run, because a
    dependency failed; ``error`` then names that dependency.
    """

    key: str
    value: Optional[R] = None
    error: Optional[str] = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def _settle(key: str, future, bugs: list) -> HostResult:
    return _outcome(key, future.result, bugs)


def _outcome(key: str, call: Callable[[], R], bugs: list) -> HostResult:
    try:
        return HostResult(key, value=call())
    except NapComposeError as exc:
        return HostResult(key, error=str(exc))
    except Exception as exc:  # a bug: keep the others' results, then surface it
        bugs.append(exc)
        return HostResult(key, error=f"{type(exc).__name__}: {exc}")


def fan_out(items: Sequence[T], func: Callable[[T], R], key: Callable[[T], str] = str,
            max_workers: int = 16) -> Tuple[HostResult[R], ...]:
    """``func`` on every item at once (at most ``max_workers`` together); results in ``items`` order."""
    items = list(items)
    if not items:
        return ()
    bugs: list = []
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), max_workers))) as pool:
        futures = [(key(item), pool.submit(func, item)) for item in items]
        results = tuple(_settle(name, future, bugs) for name, future in futures)
    if bugs:
        raise bugs[0]
    return results


# The lanes of every ``in_lanes`` call of the process: threads kept between calls, as a pass over
# hundreds of hosts would otherwise start and end a few threads for each host.
LANE_THREADS = 64
_lanes_made = threading.Lock()
_lanes: list = []


def _lane_pool() -> ThreadPoolExecutor:
    with _lanes_made:
        if not _lanes:
            _lanes.append(ThreadPoolExecutor(max_workers=LANE_THREADS, thread_name_prefix="nap-lane"))
        return _lanes[0]


def in_lanes(items: Sequence[T], func: Callable[[T], R], key: Callable[[T], str], width: int) -> List[HostResult[R]]:
    """``func`` on every item, ``width`` at a time: each lane takes the next item when it is done with
    one, so the items cost as many hand-overs between threads as there are lanes, not one each. The
    calling thread is one of the lanes; the others come from threads the process keeps. A lane never
    waits on another, so callers sharing those threads only queue. Results in ``items`` order."""
    items = list(items)
    results: List[Optional[HostResult[R]]] = [None] * len(items)
    queue = iter(enumerate(items))
    taking = threading.Lock()
    bugs: list = []

    def lane() -> None:
        while True:
            with taking:
                index, item = next(queue, (None, None))
            if index is None:
                return
            results[index] = _outcome(key(item), lambda: func(item), bugs)

    others = [_lane_pool().submit(lane) for _ in range(min(len(items), max(1, width)) - 1)]
    lane()
    for other in others:
        other.result()
    if bugs:
        raise bugs[0]
    return results


def run_waves(waves: Sequence[Sequence[T]], func: Callable[[T], R], key: Callable[[T], str],
              depends: Callable[[T], Iterable[str]], max_workers: int = 16,
              inline: Optional[Callable[[T], bool]] = None,
              under_way: Optional[Callable[[int, Dict[str, HostResult[R]]], None]] = None
              ) -> Dict[str, HostResult[R]]:
    """Run ``func`` on every item, wave after wave; return each item's HostResult by its key.

    Args:
        waves: items grouped so that an item only depends on items of earlier waves.
        func: the work; a NapComposeError it raises becomes the item's error.
        key: a unique name for an item.
        depends: the keys an item needs to have succeeded (keys outside the run are ignored).
        max_workers: at most this many items run at once.
        inline: the items that are only bookkeeping (no round trip, no wait): run in the calling
            thread while the wave's others run in the pool, as a hand-over to a worker would cost
            more than the item itself (a large project's re-run is thousands of such items).
        under_way: called with a wave's index and the results of the waves before it once the wave's
            items are handed out, before they are waited for: the caller may prepare the next wave
            beside it (it must return at once).
    """
    results: Dict[str, HostResult[R]] = {}
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        for index, wave in enumerate(waves):
            futures, here = [], []
            for item in wave:
                name = key(item)
                blocker = failed_dependency(depends(item), results)
                if blocker is not None:
                    results[name] = HostResult(name, error=f"dependency {blocker} failed", skipped=True)
                elif inline is not None and inline(item):
                    here.append((name, item))
                else:
                    futures.append((name, pool.submit(func, item)))
            if under_way is not None:
                under_way(index, results)
            bugs: list = []
            for name, item in here:
                results[name] = _outcome(name, lambda: func(item), bugs)
            for name, future in futures:
                results[name] = _settle(name, future, bugs)
            if bugs:
                raise bugs[0]
    return results


def failed_dependency(names: Iterable[str], results: Mapping[str, HostResult]) -> Optional[str]:
    """The first of ``names`` (sorted) whose result is an error or a skip; None when none is."""
    for name in sorted(set(names)):
        result = results.get(name)
        if result is not None and result.error is not None:
            return name
    return None
