"""The handler of CreateOneOff: a ``run``'s one-off container made at its reserved address.

Like a replica's create (execute/containers.py): the request is built when the action runs, from
the address the run's Reserve took and every peer's name; the address is recorded as bound once the
container exists (refused, and the container removed, when it went elsewhere meanwhile). It is not
one of the project's replicas, so no hosts block names it.
"""

from __future__ import annotations

from napcompose.errors import AddressFencedError
from napcompose.execute.containers import resolver_of
from napcompose.execute.state import RunState
from napcompose.planner import CreateOneOff
from napcompose.planner.run import one_off_request


def create_one_off(state: RunState, action: CreateOneOff) -> None:
    core = state.core
    allocation = state.allocations[action.replica]

    def work() -> None:
        request = one_off_request(state.project, action, allocation, state.start_names(),
                                  core.cluster.network.name, resolver_of(state, action.host))
        engine = core.engines[action.host]
        container_id = engine.create_container(request)
        try:
            core.book.mark_bound(action.replica.owner, action.host)
        except AddressFencedError:
            engine.remove_container(container_id, force=True)  # never started: its address is elsewhere now
            raise
        if action.start:
            engine.start_container(container_id)

    core.step(action.subject, action.verb, action.host, allocation.ip, work)
