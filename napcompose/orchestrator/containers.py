"""The handlers of the actions on containers: create, recreate, start, keep, stop, restart, remove, kill.

Mixed into the Executor, which holds ``core`` (the ports), ``project``, ``options``, ``plan``,
``allocations`` (the addresses, completed by Reserve) and ``live`` (the containers as they stand).
Every stop waits ``options.timeout`` seconds before Docker kills the container.
"""

from __future__ import annotations

from dataclasses import replace

from napcompose.errors import AddressFencedError, ConfigError, HostError
from napcompose.model import RUNNING_STATES, ObservedContainer, Replica
from napcompose.planner import (Create, Keep, Kill, Recreate, Remove, Restart, Start, Stop, build_request)



class ContainerHandlers:
    def create(self, action: Create) -> None:
        ip = self.allocations[action.replica].ip if action.replica in self.allocations else None
        self.core.step(action.subject, action.verb, action.host, ip, lambda: self._create(action))

    def _create(self, action, publish: bool = True) -> ObservedContainer:
        """Create (and start) ``action``'s container; the container made. ``publish=False`` keeps it out
        of ``live``, so no hosts block names it until the caller says it may serve."""
        generation = action.generation
        if isinstance(action, Recreate) and action.container is not None:
            generation = max(generation, action.container.generation)  # a recreated copy stays current
        request = build_request(self.project, action.replica, action.host, self.allocations,
                                self.plan.placement.replicas, self.core.cluster.network.name,
                                generation=generation)
        engine = self.core.engines[action.host]
        container_id = engine.create_container(request)
        created = ObservedContainer(host=action.host, id=container_id, name=request.name,
                                    replica=action.replica, config_hash=request.config_hash,
                                    state="created", ip=request.ip, alloc_id=request.alloc_id,
                                    image=request.image, generation=generation)
        try:
            self.core.book.mark_bound(action.replica.owner, action.host, generation)
        except AddressFencedError:
            engine.remove_container(container_id, force=True)  # never started: its address is elsewhere now
            raise
        if publish:
            self.set_live(action.replica, created)
        if self.options.start:
            engine.start_container(container_id)
            created = replace(created, state="running")
            if publish:
                self.set_live(action.replica, created)
            self._wait_health(action.replica, action.host, container_id, action.healthy)
        return created

    def recreate(self, action: Recreate) -> None:
        ip = self.allocations[action.replica].ip if action.replica in self.allocations else None

        def work():
            # The new container takes the old one's name and address, so the old one must go first.
            self._remove_container(action.host, action.container, stop=True)
            self.set_live(action.replica, None)
            self._create(action)

        self.core.step(action.subject, action.verb, action.host, ip, work)

    def start(self, action: Start) -> None:
        container = action.container

        def work():
            self._bind_found(action.replica, action.host)
            self.core.engines[action.host].start_container(container.id)
            self.set_live(action.replica, replace(container, state="running"))
            self._wait_health(action.replica, action.host, container.id, action.healthy)

        self.core.step(action.subject, action.verb, action.host, container.ip, work)

    def keep(self, action: Keep) -> None:
        container = action.container

        def work():
            if container is not None:
                self._bind_found(action.replica, action.host)
            if container is not None and container.state == "running":
                self._wait_health(action.replica, action.host, container.id, action.healthy)

        self.core.step(action.subject, action.verb, action.host, container.ip if container else None, work,
                       done="up-to-date")

    def stop(self, action: Stop) -> None:
        container = action.container

        def work():
            self.core.engines[action.host].stop_container(container.id, self.options.timeout)
            self.set_live(action.replica, replace(container, state="exited"), only_if=container)

        self.core.step(action.subject, action.verb, action.host, container.ip, work)

    def restart(self, action: Restart) -> None:
        container = action.container

        def work():
            engine = self.core.engines[action.host]
            if container.state in RUNNING_STATES:
                engine.stop_container(container.id, self.options.timeout)
            engine.start_container(container.id)
            self.set_live(action.replica, replace(container, state="running"), only_if=container)

        self.core.step(action.subject, action.verb, action.host, container.ip, work)

    def remove(self, action: Remove) -> None:
        container = action.container

        def work():
            self._remove_container(action.host, container, stop=action.stop, force=action.force)
            self.set_live(action.replica, None, only_if=container)
            if container.replica is not None:
                # gone from this host: the address may follow the replica wherever it lands next
                self.core.book.mark_unbound(container.replica.owner, action.host, container.generation)

        self.core.step(action.subject, action.verb, action.host, container.ip, work)

    def kill(self, action: Kill) -> None:
        container = action.container
        self.core.step(action.subject, action.verb, action.host, container.ip,
                       lambda: self.core.engines[action.host].kill_container(container.id, action.signal))

    def _bind_found(self, replica: Replica, host: str) -> None:
        """Record as bound the address of a container found on ``host`` when the record says otherwise.

        A run that died between creating a container and binding its address left it ``reserved``;
        a reserved record may be moved by another run, so it is bound before the container starts
        (refused, and the container not started, when the address went to another host meanwhile).
        """
        allocation = self.allocations.get(replica)
        if allocation is None or (allocation.state == "bound" and allocation.host == host):
            return
        self.allocations[replica] = self.core.book.mark_bound(replica.owner, host)

    def _remove_container(self, host: str, container: ObservedContainer, stop: bool, force: bool = False) -> None:
        engine = self.core.engines[host]
        if stop and container.state in RUNNING_STATES:
            engine.stop_container(container.id, self.options.timeout)
        engine.remove_container(container.id, force=force)

    # ------------------------------------------------------------------ health
    def _wait_health(self, replica: Replica, host: str, container_id: str, needed: bool) -> None:
        if not needed:
            return
        core = self.core
        engine = core.engines[host]
        deadline = core.clock.now() + core.health_timeout
        while True:
            health = engine.health(container_id)
            if health == "healthy":
                return
            if health is None:
                raise ConfigError(f"service {replica.service}: a dependent waits for service_healthy, "
                                  "but it has no healthcheck")
            if health == "unhealthy":
                raise HostError(host, f"{replica.label} is unhealthy")
            if core.clock.now() >= deadline:
                raise HostError(host, f"{replica.label} did not become healthy within "
                                      f"{core.health_timeout:g}s (health: {health})")
            core.clock.sleep(core.health_interval)
