"""The handlers of rolling updates and rollbacks, stop-first and start-first.

A batch goes like this: every consumer's hosts block moves the link aliases off the batch's
replicas (written in place; a short drain lets requests already on their way finish); each old
container is stopped and renamed ``<name>-previous`` (kept, with its image, config and address);
a new one is created at the same address and must pass the gate (its healthcheck healthy, or
running for ``monitor`` when it has none). When every replica passed, the kept containers are
removed. A failed gate applies ``failure_action``: ``pause`` stops the update (the replicas not
reached stay on the old version), ``rollback`` puts the kept containers of the replicas already
touched back, ``continue`` goes on. The hosts blocks written at the end of the run settle every
alias on the lowest-numbered healthy replica.

Start-first: two containers of one replica run at once, so they cannot share an address. The old
copy's address is handed to the owner ``project/service/N@genG`` (G: its generation), the same kind
of owner a copy left on a lost host gets; the replica's own owner then reserves a new address from
the pool, and the new container (generation G+1, under the replica's name: the old one was renamed
``<name>-previous``) binds it. Once the new copy passed the gate, every consumer's hosts block moves
to the new address, a drain lets requests on their way finish, and the old container is stopped and
kept, still holding its address, until every replica of the update passed: then it is removed and
its address released. A rollback starts it again beside the new copy, moves the consumers back once
it passed its gate, then removes the new copy, releases the new address and gives the old one back
to the replica. A new copy that fails (creation or gate) is removed and its address released; the
old address goes back to the replica's owner and the old container gets its name back: it never
stopped. If the run dies in the middle, the next ``up`` sees an old copy older than its replica's
current generation (``superseded``): it removes it and then releases its kept address.

How the executor runs a batch: the handler's loop makes each batch's per-replica steps and runs
them with ``parallel.fan_out`` on the run's own RunState, through the functions the container
handlers use (``create_container``, the same ``live``, the same hosts-writes serialiser). A
sub-plan of waves cannot say this: whether the next batch runs, and whether the update pauses or
rolls back, depends on how many replicas of the batches so far failed their gate, and a replica
that fails must not skip its siblings the way a failed action skips its dependents.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import List, Sequence, Tuple

from napcompose.errors import HostError, NapComposeError
from napcompose.execute.batches import move_consumers, run_batch
from napcompose.execute.containers import create_container
from napcompose.execute.gate import gate
from napcompose.execute.isolation import join_groups
from napcompose.execute.kept import drop_kept, left_owner, remove_kept
from napcompose.execute.state import RunState
from napcompose.model import RUNNING_STATES, FailureAction, ObservedContainer, Outcome, UpdateConfig
from napcompose.planner import Create, Recreate, RemovePrevious, RollBack, RollbackStep, RollingUpdate, RollStep
from napcompose.planner.rolling_actions import current_name, previous_name


class UpdateFailed(NapComposeError):
    """A rolling update or rollback stopped on a failed gate; the message says what stays where."""


# ---------------------------------------------------------------------- update
def rolling_update(state: RunState, action: RollingUpdate) -> List[Outcome]:
    config, service = action.config, action.service
    total = len(action.steps)
    failures: List[Tuple[str, str]] = []  # (replica label, error)
    touched: List[Tuple[RollStep, ObservedContainer]] = []  # (step, its kept container)
    guard = threading.Lock()

    def replace_one(step: RollStep) -> None:
        if step.start_first:  # the old copy serves until the new one passed, then stops and is kept
            kept = _start_first(state, step, action.reason, config, action.gate)
            with guard:
                touched.append((step, kept))
            return
        kept = _keep_old(state, step)
        with guard:
            touched.append((step, kept))
        try:
            state.core.step(step.replica.label, "Recreating", step.host, step.address,
                            lambda: create_container(state, Recreate(step.replica, step.host, action.reason,
                                                                     address=step.address,
                                                                     generation=step.container.generation)))
        except NapComposeError as exc:
            # No new container to judge: the replica must not stay down, the old one runs again.
            with guard:
                touched.remove((step, kept))
            back = RollbackStep(step.replica, step.host, kept, state.live_of(step.replica, None))
            try:
                _restore(state, back, action.rollback_config, action.gate)
            except NapComposeError as again:
                raise HostError(step.host, f"{step.replica.label}: the new container failed ({exc}) and "
                                           f"the old one did not come back ({again})") from exc
            raise HostError(step.host, f"{step.replica.label}: the new container failed ({exc}); "
                                       "the old one runs again") from exc
        gate(state, step.replica, step.host, config, action.gate)

    for number, batch in enumerate(action.batches, 1):
        if number > 1 and config.delay_s:
            state.core.clock.sleep(config.delay_s)
        errors = run_batch(state, service, "Updating", number, len(action.batches), action.gate,
                           [(s.replica, s.host, None if s.start_first else s.container) for s in batch],
                           batch, replace_one)
        failures += errors
        if (not errors or len(failures) / total <= config.max_failure_ratio
                or config.failure_action is FailureAction.CONTINUE):
            continue
        said = "; ".join(error for _, error in failures)
        reached = {s.replica for b in action.batches[:number] for s in b}
        untouched = [s.replica.label for s in action.steps if s.replica not in reached]
        if config.failure_action is FailureAction.ROLLBACK:
            steps = [RollbackStep(s.replica, s.host, kept, state.live_of(s.replica, kept))
                     for s, kept in sorted(touched, key=lambda t: t[0].replica)]
            back = _restore_all(state, service, steps, action.rollback_config, action.gate)
            raise UpdateFailed(f"update of {service} failed and was rolled back: {said}"
                               + (f"; the rollback failed too: {'; '.join(e for _, e in back)}" if back else ""))
        stay = ", ".join(untouched) if untouched else "no other replica"
        hint = (f"; `nap-compose rollback {service}` returns the updated replicas to their kept containers"
                if touched else "")
        raise UpdateFailed(f"update of {service} paused: {said}; {stay} stay on the old version{hint}")
    failed = {label for label, _ in failures}
    drop_kept(state, [(s, kept) for s, kept in touched if s.replica.label not in failed])
    if failures:
        why = ("failure_action continue" if config.failure_action is FailureAction.CONTINUE
               else f"within max_failure_ratio {config.max_failure_ratio:g}")
        raise UpdateFailed(f"update of {service} went on past failures ({why}): "
                           + "; ".join(error for _, error in failures))
    return [Outcome(s.replica.label, "Recreating", s.host) for s in action.steps]


def _keep_old(state: RunState, step: RollStep) -> ObservedContainer:
    """Stop the old container and rename it ``<name>-previous``: kept, with its address, for a rollback."""
    engine = state.core.engines[step.host]
    old = step.container
    kept = replace(old, name=previous_name(old.name), state="exited")

    def work():
        if step.previous is not None:  # kept by an earlier update: this update keeps another
            remove_kept(state, step.host, step.replica, step.previous)
        if old.state in RUNNING_STATES:
            engine.stop_container(old.id, state.options.timeout)
        engine.rename_container(old.id, kept.name)
        state.set_live(step.replica, replace(old, state="exited"))

    state.core.step(step.replica.label, "Keeping the old container of", step.host, step.address, work)
    return kept


def _start_first(state: RunState, step: RollStep, reason: str, config: UpdateConfig, gate_name: str
                 ) -> ObservedContainer:
    """Replace ``step``'s replica start-first; the old container, stopped and kept. HostError (old
    copy still serving) when the new one fails."""
    core = state.core
    engine, book = core.engines[step.host], core.book
    old, label, owner = step.container, step.replica.label, step.replica.owner
    generation = max(old.generation, 1)
    left = left_owner(step.replica, old)
    kept = replace(old, name=previous_name(old.name))

    def keep():
        if step.previous is not None:  # kept by an earlier update
            remove_kept(state, step.host, step.replica, step.previous)
        engine.rename_container(old.id, kept.name)
        book.strand(owner, left, step.host, step.address)

    core.step(label, "Keeping the old container beside the new one of", step.host, step.address, keep)
    # Until the new copy passed, the old one is what the replica's name and its aliases reach: a
    # neighbour of the same batch that passes first rewrites the blocks from ``live``.
    state.set_live(step.replica, old)
    made = []
    try:
        [allocation] = book.ensure_many([(owner, step.host, None)], None)
        state.allocations[step.replica] = allocation
        # the new address reaches and is reached by its groups before its process starts
        join_groups(state, allocation.ip)
        create = Create(step.replica, step.host, reason, address=allocation.ip, generation=generation + 1)
        core.step(label, "Starting beside the old one", step.host, allocation.ip,
                  lambda: made.append(create_container(state, create, publish=False)))
        gate(state, step.replica, step.host, config, gate_name, container=made[0])
    except NapComposeError as exc:
        try:
            _back_to_old(state, step, kept, left)
        except NapComposeError as again:
            raise HostError(step.host, f"{label}: the new container failed ({exc}) and the old one could "
                                       f"not take its address {step.address} back ({again})") from exc
        said = str(exc).removeprefix(f"{step.host}: ")
        said = said if said.startswith(f"{label} ") else f"{label}: {said}"
        raise HostError(step.host, f"{said}; the new container was removed and its address "
                                   f"released, the old one still runs at {step.address}") from exc
    # Passed: consumers move to the new address, then the old copy stops; it is kept, with its
    # address, until the whole update passed, so a rollback can still return to it.
    state.set_live(step.replica, replace(made[0], health="healthy"))
    move_consumers(state)
    core.step(kept.name, "Stopping and keeping", step.host, step.address,
              lambda: engine.stop_container(old.id, state.options.timeout))
    return replace(kept, state="exited")


def _back_to_old(state: RunState, step: RollStep, kept: ObservedContainer, left: str) -> None:
    """Remove the failed new copy, release its address, give the old one its address and name back."""
    engine, book = state.core.engines[step.host], state.core.book

    def work():
        # Found by name, not remembered: a creation that failed halfway may still have left one.
        for found in engine.list_containers(step.replica.project):
            if found.name == step.container.name and found.id != step.container.id:
                engine.remove_container(found.id, force=True)
        book.release_owner(step.replica.owner)
        state.allocations[step.replica] = book.unstrand(left, step.replica.owner, step.host, step.address)
        engine.rename_container(step.container.id, current_name(kept.name))
        state.set_live(step.replica, step.container)

    state.core.step(step.replica.label, "Returning to the old container of", step.host, step.address, work)


# ---------------------------------------------------------------------- rollback
def roll_back(state: RunState, action: RollBack) -> List[Outcome]:
    steps = [s for batch in action.batches for s in batch]
    failures = _restore_all(state, action.service, steps, action.config, action.gate)
    if failures:
        raise UpdateFailed(f"rollback of {action.service}: {'; '.join(e for _, e in failures)}")
    return [Outcome(s.replica.label, action.verb, s.host) for s in steps]


def _restore_all(state: RunState, service: str, steps: Sequence[RollbackStep], config: UpdateConfig,
                 gate_name: str) -> List[Tuple[str, str]]:
    """Every step back to its kept container, ``config.parallelism`` at a time; the failures."""
    size = config.parallelism or len(steps) or 1
    batches = [steps[i:i + size] for i in range(0, len(steps), size)]
    failures: List[Tuple[str, str]] = []
    for number, batch in enumerate(batches, 1):
        if number > 1 and config.delay_s:
            state.core.clock.sleep(config.delay_s)
        errors = run_batch(state, service, "Rolling back", number, len(batches), gate_name,
                           [(s.replica, s.host, None if s.beside else s.current) for s in batch], batch,
                           lambda s: _restore(state, s, config, gate_name))
        failures += errors
        if errors and config.failure_action is FailureAction.PAUSE:
            break
    return failures


def _restore(state: RunState, step: RollbackStep, config: UpdateConfig, gate_name: str) -> None:
    if step.beside:
        _restore_beside(state, step, config, gate_name)
        return
    engine = state.core.engines[step.host]
    name = current_name(step.previous.name)

    def work():
        if step.current is not None and step.current.id != step.previous.id:
            if step.current.state in RUNNING_STATES:
                engine.stop_container(step.current.id, state.options.timeout)
            engine.remove_container(step.current.id, force=True)
        engine.rename_container(step.previous.id, name)
        engine.start_container(step.previous.id)
        state.set_live(step.replica, replace(step.previous, name=name, state="running", health=None))

    state.core.step(step.replica.label, "Restoring", step.host, step.previous.ip, work)
    gate(state, step.replica, step.host, config, gate_name)


def _restore_beside(state: RunState, step: RollbackStep, config: UpdateConfig, gate_name: str) -> None:
    """Roll ``step``'s replica back to the copy a start-first update kept: it starts at its own
    address beside the new copy, and only once it passed its gate do the consumers move to it
    and the new copy go."""
    core = state.core
    engine, book = core.engines[step.host], core.book
    old, new, label, owner = step.previous, step.current, step.replica.label, step.replica.owner
    left = left_owner(step.replica, old)
    core.step(label, "Starting the kept container beside the new one of", step.host, old.ip,
              lambda: engine.start_container(old.id))
    woken = replace(old, state="running", health=None)
    gate(state, step.replica, step.host, config, gate_name, container=woken)
    state.set_live(step.replica, replace(woken, name=current_name(old.name), health="healthy"))
    move_consumers(state)

    def swap():
        if new.state in RUNNING_STATES:
            engine.stop_container(new.id, state.options.timeout)
        engine.remove_container(new.id, force=True)
        book.release_owner(owner)
        state.allocations[step.replica] = book.unstrand(left, owner, step.host, old.ip)
        engine.rename_container(old.id, current_name(old.name))

    core.step(label, "Returning to the kept container of", step.host, old.ip, swap)


def remove_previous(state: RunState, action: RemovePrevious) -> None:
    state.core.step(action.subject, action.verb, action.host, action.container.ip,
                    lambda: remove_kept(state, action.host, action.replica, action.container))
