"""Running work in parallel with one result type: ``fan_out`` over hosts, ``run_waves`` over a plan.

Every parallel call in nap-compose goes through these two functions, and every one of them answers
with ``HostResult``: per item (a host, an action), either the value or the error, never an exception.
``run_waves`` adds dependencies: waves one after the other, the items of a wave in parallel, and an
item whose dependency failed or was skipped is not run but skipped, naming that dependency.
An exception that is not a NapComposeError is a bug: the current wave finishes, then it is raised.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, Generic, Iterable, Optional, Sequence, Tuple, TypeVar

from napcompose.errors import NapComposeError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
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
    try:
        return HostResult(key, value=future.result())
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


def run_waves(waves: Sequence[Sequence[T]], func: Callable[[T], R], key: Callable[[T], str],
              depends: Callable[[T], Iterable[str]], max_workers: int = 16) -> Dict[str, HostResult[R]]:
    """Run ``func`` on every item, wave after wave; return each item's HostResult by its key.

    Args:
        waves: items grouped so that an item only depends on items of earlier waves.
        func: the work; a NapComposeError it raises becomes the item's error.
        key: a unique name for an item.
        depends: the keys an item needs to have succeeded (keys outside the run are ignored).
        max_workers: at most this many items run at once.
    """
    results: Dict[str, HostResult[R]] = {}
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        for wave in waves:
            futures = []
            for item in wave:
                name = key(item)
                blocker = _failed_dependency(depends(item), results)
                if blocker is not None:
                    results[name] = HostResult(name, error=f"dependency {blocker} failed", skipped=True)
                else:
                    futures.append((name, pool.submit(func, item)))
            bugs: list = []
            for name, future in futures:
                results[name] = _settle(name, future, bugs)
            if bugs:
                raise bugs[0]
    return results


def _failed_dependency(names: Iterable[str], results: Dict[str, HostResult]) -> Optional[str]:
    for name in sorted(set(names)):
        result = results.get(name)
        if result is not None and result.error is not None:
            return name
    return None
