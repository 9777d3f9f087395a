"""Carrying out a plan's actions on the engines, keeping track of which containers exist afterwards."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Dict, Mapping, Optional, Set

from napcompose.errors import AddressFencedError, ConfigError, HostError, NapComposeError
from napcompose.model import ObservedContainer, Project, Replica
from napcompose.orchestrator.base import Core, label
from napcompose.planner import Action, PlanOptions

VERBS = {"create": "Creating", "recreate": "Recreating", "start": "Starting", "remove": "Removing",
         "noop": "Keeping"}


def healthy_needed(project: Project, selected: Set[str]) -> Set[str]:
    """Services some selected service waits on with ``condition: service_healthy``."""
    return {dep.service for spec in project.services if spec.name in selected
            for dep in spec.depends_on if dep.condition == "service_healthy"}


class Steps:
    """Runs single actions; ``live`` is every container of the project as it stands after each step."""

    def __init__(self, core: Core, project: Project, options: PlanOptions,
                 current: Mapping[Replica, ObservedContainer], down: Mapping[str, str],
                 wait_healthy: Set[str], timeout: Optional[float] = None):
        self.core = core
        self.project = project
        self.options = options
        self.down = down
        self.wait_healthy = wait_healthy
        self.timeout = timeout
        self.live: Dict[Replica, ObservedContainer] = dict(current)
        self._lock = threading.Lock()

    def _set(self, replica: Replica, container: Optional[ObservedContainer]) -> None:
        with self._lock:
            if container is None:
                self.live.pop(replica, None)
            else:
                self.live[replica] = container

    def _reachable(self, host: str) -> None:
        if host in self.down:
            raise self.core.unreachable_error(host, self.down[host])

    # ------------------------------------------------------------------ one action
    def run(self, action: Action) -> None:
        verb = VERBS[action.kind]
        ip = action.request.ip if action.request else (action.container.ip if action.container else None)

        def work():
            self._reachable(action.host)
            getattr(self, "_" + action.kind)(action)

        if action.kind == "noop":
            detail = self.core.detail(action.host, ip)
            try:
                work()
            except NapComposeError:
                self.core.reporter.progress(action.subject, verb, "error", detail)
                raise
            self.core.reporter.progress(action.subject, verb, "up-to-date", detail)
            return
        self.core.step(action.subject, verb, action.host, ip, work)

    def _noop(self, action: Action) -> None:
        if action.container is not None and action.container.state == "running":
            self._wait_health(action.replica, action.host, action.container.id)

    def _start(self, action: Action) -> None:
        container = action.container
        self.core.engines[action.host].start_container(container.id)
        self._set(action.replica, _with_state(container, "running"))
        self._wait_health(action.replica, action.host, container.id)

    def _create(self, action: Action) -> None:
        request = action.request
        engine = self.core.engines[action.host]
        container_id = engine.create_container(request)
        created = ObservedContainer(host=action.host, id=container_id, name=request.name,
                                    replica=action.replica, config_hash=request.config_hash,
                                    state="created", ip=request.ip, alloc_id=request.alloc_id,
                                    image=request.image)
        try:
            self.core.ipam_call("mark_bound", action.replica.owner, action.host)
        except AddressFencedError:
            engine.remove_container(container_id, force=True)  # never started: its address is elsewhere now
            raise
        self._set(action.replica, created)
        if self.options.start:
            engine.start_container(container_id)
            self._set(action.replica, _with_state(created, "running"))
            self._wait_health(action.replica, action.host, container_id)

    def _recreate(self, action: Action) -> None:
        # The new container takes the old one's name and address, so the old one must go first.
        self._remove_container(action.host, action.container)
        self._set(action.replica, None)
        self._create(action)

    def _remove(self, action: Action) -> None:
        self._remove_container(action.host, action.container)
        if self.live.get(action.replica) is action.container:
            self._set(action.replica, None)
        if not action.reason.startswith("duplicate"):
            self.core.ipam_call("release_owner", action.replica.owner)

    def _remove_container(self, host: str, container: ObservedContainer) -> None:
        engine = self.core.engines[host]
        if container.state in ("running", "restarting", "paused"):
            engine.stop_container(container.id, self.timeout)
        engine.remove_container(container.id)

    # ------------------------------------------------------------------ health
    def _wait_health(self, replica: Replica, host: str, container_id: str) -> None:
        if replica.service not in self.wait_healthy:
            return
        engine = self.core.engines[host]
        deadline = self.core.clock.now() + self.core.health_timeout
        while True:
            health = engine.health(container_id)
            if health == "healthy":
                return
            if health is None:
                raise ConfigError(f"service {replica.service}: a dependent waits for service_healthy, "
                                  "but it has no healthcheck")
            if health == "unhealthy":
                raise HostError(host, f"{label(replica)} is unhealthy")
            if self.core.clock.now() >= deadline:
                raise HostError(host, f"{label(replica)} did not become healthy within "
                                      f"{self.core.health_timeout:g}s (health: {health})")
            self.core.clock.sleep(self.core.health_interval)


def _with_state(container: ObservedContainer, state: str) -> ObservedContainer:
    return replace(container, state=state)
