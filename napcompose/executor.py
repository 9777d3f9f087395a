"""A dependency-aware parallel runner: waves one after the other, the items of a wave in parallel.

An item whose dependency failed or was skipped is not run: it is skipped, naming that dependency.
Failures are collected, never raised, so independent work goes on. An exception that is not a
NapComposeError is a bug: the current wave is allowed to finish, then it is raised.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, Optional, Sequence, TypeVar

from napcompose.errors import NapComposeError
from napcompose.model import Outcome

T = TypeVar("T")
R = TypeVar("R")


def run_waves(waves: Sequence[Sequence[T]], func: Callable[[T], R], key: Callable[[T], str],
              depends: Callable[[T], Iterable[str]], max_workers: int = 16) -> Dict[str, Outcome]:
    """Run ``func`` on every item, wave after wave; return each item's Outcome by its key.

    Args:
        waves: items grouped so that an item only depends on items of earlier waves.
        func: the work; a NapComposeError it raises becomes the item's error.
        key: a unique name for an item (the Outcome's subject).
        depends: the keys an item needs to have succeeded.
        max_workers: at most this many items run at once.
    """
    outcomes: Dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        for wave in waves:
            futures = {}
            for item in wave:
                name = key(item)
                blocker = _failed_dependency(depends(item), outcomes)
                if blocker is not None:
                    outcomes[name] = Outcome(name, error=f"dependency {blocker} failed", skipped=True)
                else:
                    futures[name] = pool.submit(func, item)
            bug: Optional[BaseException] = None
            for name, future in futures.items():
                try:
                    future.result()
                    outcomes[name] = Outcome(name)
                except NapComposeError as exc:
                    outcomes[name] = Outcome(name, error=str(exc))
                except Exception as exc:  # a bug: keep the others' results, then surface it
                    outcomes[name] = Outcome(name, error=f"{type(exc).__name__}: {exc}")
                    bug = bug or exc
            if bug is not None:
                raise bug
    return outcomes


def _failed_dependency(names: Iterable[str], outcomes: Dict[str, Outcome]) -> Optional[str]:
    for name in sorted(set(names)):
        outcome = outcomes.get(name)
        if outcome is not None and outcome.error is not None:
            return name
    return None
