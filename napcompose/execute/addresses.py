"""The handlers of the actions on addresses: Reserve (every entry of the plan at once) and Release."""

from __future__ import annotations

from typing import List

from napcompose.errors import NapComposeError
from napcompose.execute.state import RunState
from napcompose.model import Outcome
from napcompose.planner import Release, Reserve


def reserve(state: RunState, action: Reserve) -> List[Outcome]:
    """All entries at once, all or none. No outcome and no terminal line of its own: the address
    shows on each container's line, and a failure here raises before any step."""
    core = state.core
    for entry in action.entries:
        core.reporter.progress(entry.replica.label, action.verb, "started", core.detail(entry.host, entry.fixed))
    for entry in action.entries:
        if entry.strand is not None:  # the copy left on a lost host keeps its address
            kept = entry.strand
            core.book.strand(entry.replica.owner, kept.left_owner, kept.host, kept.ip)
            state.allocations.pop(entry.replica, None)
            core.reporter.warning(f"{entry.why}")
    got = core.book.ensure_many([(e.replica.owner, e.host, e.fixed) for e in action.entries], action.vacated)
    for entry, allocation in zip(action.entries, got):
        state.allocations[entry.replica] = allocation
    return []


def release(state: RunState, action: Release) -> None:
    core = state.core
    if action.host in state.down and not action.evicted:
        message = f"{action.host} did not answer; {action.ip} stays reserved"
        core.reporter.warning(f"{action.host} did not answer: the address {action.ip} "
                              f"of {action.subject} stays reserved")
        raise NapComposeError(message)
    if action.alloc_id is not None and not action.exact:
        owner = action.owner or action.replica.owner
        now = core.book.lookup(owner)
        if now is not None and now.alloc_id != action.alloc_id:
            core.reporter.warning(f"{action.subject}: {owner} holds {now.ip} under another allocation than the one "
                                  f"this run saw ({action.ip}); left as it is")
            return
    core.step(action.subject, action.verb, action.host or "-", action.ip,
              lambda: core.book.release(action.ip, action.owner) if action.exact else
              core.book.release_owner(action.owner or action.replica.owner))
