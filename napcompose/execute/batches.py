"""One batch of a rolling update or rollback, and the move of consumers' aliases around it.

A batch: every consumer's hosts block moves the link aliases off the batch's replicas (written in
place, then a short drain lets requests already on their way finish); then the batch's work runs
on each of its replicas at once, through ``parallel.fan_out`` like every other fan-out of a run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, List, Optional, Sequence, Tuple

from napcompose.execute.hosts import sync_hosts
from napcompose.execute.names import sync_names
from napcompose.execute.state import RunState
from napcompose.model import ObservedContainer, Replica
from napcompose.parallel import fan_out

DRAIN_S = 1.0  # after an alias moved, before its old replica stops: requests on their way finish


def run_batch(state: RunState, service: str, verb: str, number: int, count: int, gate: str,
              leaving: Sequence[Tuple[Replica, str, Optional[ObservedContainer]]], items,
              work: Callable) -> List[Tuple[str, str]]:
    """One batch: aliases off its replicas, then ``work`` on each item in parallel; (label, error) of
    each item that failed."""
    core = state.core
    names = ", ".join(f"{replica.label} on {host}" for replica, host, _ in leaving)
    progress = f"{verb} batch {number}/{count} of"
    core.reporter.progress(service, progress, "started", f"{names}; waiting for {gate}")
    began = core.clock.now()
    leave(state, [(replica, container) for replica, _, container in leaving if container is not None])
    results = fan_out(items, work, key=lambda item: item.replica.label, max_workers=core.max_workers)
    errors = [(r.key, r.error) for r in results if not r.ok]
    took = f"{names} in {core.clock.now() - began:.1f}s"
    core.reporter.progress(service, progress, "error" if errors else "done", took)
    return errors


def leave(state: RunState, pairs: Sequence[Tuple[Replica, ObservedContainer]]) -> None:
    """Move the aliases off replicas about to stop: every consumer's block, in place, then a drain."""
    for replica, container in pairs:
        state.set_live(replica, replace(container, state="stopping"), only_if=state.live_of(replica, container))
    move_consumers(state)


def move_consumers(state: RunState) -> None:
    """Bring every consumer's block and the resolvers' files to ``live``; when one was written, wait the drain."""
    blocks = sync_hosts(state)
    if sync_names(state) or blocks:
        state.core.clock.sleep(DRAIN_S)
