"""The gate a replica's new (or restored) container passes in a rolling update or rollback.

With a healthcheck: healthy within ``core.health_timeout`` (unhealthy, or a state other than running,
fails at once). Without one: running for the whole ``monitor`` of the update's config. A container
that fails is marked unhealthy in ``live``, so the hosts blocks move its aliases off it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from napcompose.errors import HostError
from napcompose.execute.state import RunState
from napcompose.model import ObservedContainer, Replica, UpdateConfig
from napcompose.planner.rolling import has_healthcheck


def gate(state: RunState, replica: Replica, host: str, config: UpdateConfig, name: str,
         container: Optional[ObservedContainer] = None) -> None:
    """Wait for the replica's new container (``container``, else the live one) to pass the gate
    ``name``; HostError naming replica, host and gate."""
    core = state.core
    container = container or state.live_of(replica, None)
    engine = core.engines[host]
    spec = state.project.service(replica.service)
    clock = core.clock

    def failed(why: str, now: str = "running"):
        state.set_live(replica, replace(container, state=now, health="unhealthy"), only_if=container)
        return HostError(host, f"{replica.label} failed its gate ({name}): {why}")

    if has_healthcheck(spec):
        deadline = clock.now() + core.health_timeout
        while True:
            health = engine.health(container.id)
            if health == "healthy":
                state.set_live(replica, replace(container, health="healthy"), only_if=container)
                return
            if health == "unhealthy":
                raise failed("its healthcheck reports unhealthy")
            now = container_state(engine, container.id)
            if now != "running":  # a crash leaves the health as it was: ask the state too
                raise failed(f"{now} before its healthcheck passed", now)
            if clock.now() >= deadline:
                raise failed(f"not healthy within {core.health_timeout:g}s (health: {health})")
            clock.sleep(core.health_interval)
    deadline = clock.now() + config.monitor_s
    while True:
        now = container_state(engine, container.id)
        if now not in ("running",):
            raise failed(f"{now} within the {config.monitor_s:g}s monitor", now)
        if clock.now() >= deadline:
            return
        clock.sleep(min(core.health_interval, max(deadline - clock.now(), 0.0)))


def container_state(engine, container_id: str) -> str:
    """The container's state as its engine lists it now; ``gone`` when it is not listed."""
    found = [c for c in engine.list_containers() if c.id == container_id]
    return found[0].state if found else "gone"
