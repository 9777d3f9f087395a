"""Containers kept for a rollback (``<name>-previous``): who holds their address, and their removal."""

from __future__ import annotations

from typing import Sequence, Tuple

from napcompose.execute.state import RunState
from napcompose.model import ObservedContainer, Replica
from napcompose.observe.observation import stranded_owner
from napcompose.parallel import fan_out
from napcompose.planner import RollStep


def left_owner(replica: Replica, old: ObservedContainer) -> str:
    """The owner that holds the address of ``replica``'s old copy while a new one runs beside it."""
    return stranded_owner(replica, max(old.generation, 1))


def remove_kept(state: RunState, host: str, replica: Replica, kept: ObservedContainer) -> None:
    """Remove a container kept for a rollback; one kept by a start-first update also gives its address
    back to the pool (only when its owner holds that very address: a stop-first copy shares the
    replica's)."""
    book = state.core.book
    state.core.engines[host].remove_container(kept.id, force=True)
    left = left_owner(replica, kept)
    held = book.lookup(left)
    if held is not None and held.ip == kept.ip:
        book.release_owner(left)


def drop_kept(state: RunState, touched: Sequence[Tuple[RollStep, ObservedContainer]]) -> None:
    """The update passed: the kept containers go (a failure to remove one is only a warning)."""
    core = state.core

    def drop(item):
        step, kept = item
        core.step(kept.name, "Removing", step.host, kept.ip, lambda: remove_kept(state, step.host, step.replica, kept))

    for result in fan_out(list(touched), drop, key=lambda item: item[1].name, max_workers=core.max_workers):
        if not result.ok:
            core.reporter.warning(f"could not remove the kept container {result.key}: {result.error}; "
                                  "up --prune-previous removes it later")
