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
from napcompose.planner import AwaitReady


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


def wait_ready(state: RunState, action: AwaitReady) -> None:
    """The AwaitReady handler (``--wait``): a HostError naming the replica, its host and what it is
    instead (unhealthy, exited with its code, still starting when ``--wait-timeout`` ran out)."""
    container = state.live_of(action.replica, None)
    state.core.step(action.subject, action.verb, action.host, container.ip if container else None,
                    lambda: _until_ready(state, action, container))


def _until_ready(state: RunState, action: AwaitReady, container: Optional[ObservedContainer]) -> None:
    core = state.core
    label, host = action.replica.label, action.host
    if container is None or container.host != host or not container.id:
        raise HostError(host, f"{label} has no container to wait for")
    engine = core.engines[host]
    limit = state.options.wait_timeout
    deadline = None if limit is None else core.clock.now() + limit
    while True:
        found = observe_one(engine, container.id)
        if found is None:
            raise HostError(host, f"{label} was removed while waiting for it to be {action.goal}")
        health = None
        if found.state in ("exited", "dead"):
            if action.completed and found.exit_code == 0:
                return
            code = "an unknown code" if found.exit_code is None else f"code {found.exit_code}"
            raise HostError(host, f"{label} exited with {code} instead of being {action.goal}")
        if found.state == "running" and not action.completed:
            if not action.healthcheck:
                return
            health = engine.health(container.id)
            if health == "healthy":
                return
            if health == "unhealthy":
                raise HostError(host, f"{label} is unhealthy (its healthcheck fails)")
        if deadline is not None and core.clock.now() >= deadline:
            seen = found.state + (f", health: {health}" if health else "")
            raise HostError(host, f"{label} is not {action.goal} within the --wait-timeout of {limit:g} s "
                                  f"({seen})")
        core.clock.sleep(core.health_interval)
