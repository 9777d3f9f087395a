"""Waiting on a container's own course: a one-shot job's exit, and ``--wait``'s running-and-healthy.

``wait_completed`` serves ``condition: service_completed_successfully``: the job's container must exit
with code 0 before its dependents start; another code fails the job's action, so the dependents are
skipped naming it. ``wait_ready`` serves ``up --wait`` and ``start --wait``. Both read the container
through the engine's list view (state, health in its status, exit code), one call per poll.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from napcompose.errors import HostError
from napcompose.execute.state import RunState
from napcompose.model import ObservedContainer, Replica


def observe_one(engine, container_id: str) -> Optional[ObservedContainer]:
    """The container as its engine lists it now; None when it is gone."""
    return next((c for c in engine.list_containers() if c.id == container_id), None)


def _ended(state: RunState, replica: Replica, container: ObservedContainer, found: ObservedContainer) -> None:
    """Record in ``live`` that the job ended: no hosts block names a container that does not run."""
    now = state.live_of(replica, container) or container
    state.set_live(replica, replace(now, state=found.state, exit_code=found.exit_code, status=found.status))


def wait_completed(state: RunState, replica: Replica, host: str, container: ObservedContainer) -> None:
    """Wait until ``replica``'s job container exits; any code but 0 is a HostError naming it and its host.

    No time limit, as docker compose sets none: a migration takes what it takes, and Ctrl-C ends the
    wait. A container restarted by its restart policy is still running its job."""
    core = state.core
    engine = core.engines[host]
    while True:
        found = observe_one(engine, container.id)
        if found is None:
            raise HostError(host, f"{replica.label} was removed before it completed "
                                  "(its dependents wait for service_completed_successfully)")
        if found.state in ("exited", "dead"):
            _ended(state, replica, container, found)
            if found.exit_code == 0:
                return
            code = "an unknown code" if found.exit_code is None else f"code {found.exit_code}"
            raise HostError(host, f"{replica.label} exited with {code} "
                                  "(its dependents wait for service_completed_successfully)")
        core.clock.sleep(core.health_interval)
