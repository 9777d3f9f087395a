"""Creating the next wave's containers while this wave starts its own.

A dependency order binds starts, not creates: a container may exist, created and not started,
before the ones it links to run (docker compose v2 creates every container first). A start is the
long part of a wave (hundreds of milliseconds in the engine, against tens for a create and the
store's round trips that bind its address), so while a wave runs, the Creates of the next one are
made and bound beside it, and each Create then only starts its container: the creates leave the
run's critical path, and the first wave's go beside the names and filters loaded before any start.

Only when nothing in the wave running could stand in the way: every action of it is one that
removes no container and frees no name or address (a create, a start, a keep, names, filters) and
none waits for a healthcheck or a job's end, and every dependency of the Create that already ran
succeeded. A Create whose dependency then fails is skipped, as before, and the container made for
it is removed and its address unbound again: a skipped Create leaves nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from napcompose.errors import LockLostError, NapComposeError
from napcompose.execute.containers import make_bound, request_for
from napcompose.execute.state import RunState
from napcompose.parallel import HostResult, failed_dependency
from napcompose.planner import ApplyIsolation, Create, Keep, Start, WriteNames

# what may run beside a create made ahead: none of these removes a container or frees a name or address
_BESIDE = (Create, Start, Keep, WriteNames, ApplyIsolation)

Made = Tuple[object, str]  # (the create request, the new container's id)


def _waits(action) -> bool:
    """Whether ``action`` waits for its container's health or end: its dependents are created only
    once that is met (a job's dependents never exist beside a job that failed)."""
    return bool(getattr(action, "healthy", False) or getattr(action, "completed", False))


class CreatesAhead:
    """The Creates of the wave after the running one, made in a pool of their own.

    ``prepare(index, results)`` is called once wave ``index`` is under way (``results``: every
    earlier action's); ``take(action)`` hands the Create's handler what was made for it (None: make it
    now); ``discard()`` removes what was made for Creates that never ran."""

    def __init__(self, state: RunState, waves: Sequence[Sequence[object]], workers: int):
        self._state = state
        self._waves = waves
        self._workers = max(1, workers)
        self._pool: Optional[ThreadPoolExecutor] = None
        self._made: Dict[str, Tuple[Create, Future]] = {}
        self._lock = threading.Lock()

    def prepare(self, index: int, results: Mapping[str, HostResult]) -> None:
        state = self._state
        if not state.options.start or index + 1 >= len(self._waves):
            return
        if not all(isinstance(action, _BESIDE) and not _waits(action) for action in self._waves[index]):
            return
        for action in self._waves[index + 1]:
            if self._eligible(action, results):
                future = self._executor().submit(self._create, action)
                with self._lock:
                    self._made[action.key] = (action, future)

    def _eligible(self, action, results: Mapping[str, HostResult]) -> bool:
        state = self._state
        if type(action) is not Create or action.host in state.down or action.replica not in state.allocations:
            return False
        # what already ran must have succeeded; the rest runs in this wave
        return failed_dependency(action.after, results) is None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="ahead")
        return self._pool

    def _create(self, action: Create) -> Optional[Made]:
        state = self._state
        try:
            state.core.fence()
        except LockLostError:
            return None  # the action's own fence ends the run; nothing is made for it
        request = request_for(state, action, action.generation)
        return request, make_bound(state, action, request, action.generation)

    def take(self, action) -> Optional[Made]:
        """What was made ahead for ``action`` (None: nothing, make it now); its error if the create failed."""
        with self._lock:
            entry = self._made.pop(action.key, None)
        return None if entry is None else entry[1].result()

    def discard(self) -> List[str]:
        """Remove every container made ahead for a Create that did not run; a warning per one left."""
        with self._lock:
            left, self._made = list(self._made.values()), {}
        warnings = []
        for action, future in left:
            try:
                made = future.result()
            except NapComposeError:
                continue  # nothing was made
            if made is None:
                continue
            try:
                self._state.core.engines[action.host].remove_container(made[1], force=True)
                # gone from the host again: the address stays the replica's, reserved, as before its create
                self._state.core.book.mark_unbound(action.replica.owner, action.host, action.generation)
            except NapComposeError as exc:
                warnings.append(f"{action.replica.label} on {action.host}: created ahead for a create "
                                f"that did not run, and not removed: {exc}")
        return warnings

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
