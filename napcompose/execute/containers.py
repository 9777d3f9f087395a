"""The handlers of the actions on containers: create, recreate, start, keep, stop, restart, remove, kill.

Besides the handlers, the steps a rolling update shares with them: ``create_container`` (a new
container, bound to its address, started and waited for) and ``remove_container``. Every stop waits
``options.timeout`` seconds before Docker kills the container.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Union

from napcompose.errors import AddressFencedError, ConfigError, HostError
from napcompose.execute.readiness import wait_completed
from napcompose.execute.state import RunState
from napcompose.model import RUNNING_STATES, ObservedContainer, Replica
from napcompose.names.records import Lookup, project_domain
from napcompose.planner import Create, Keep, Kill, Recreate, Remove, Restart, Start, Stop, build_request


def _planned_ip(state: RunState, replica: Replica):
    return state.allocations[replica].ip if replica in state.allocations else None


def resolver_of(state: RunState, host: str):
    """How the host's containers ask its resolver (its address, the project's domain, whether names
    are scoped by isolation group) when the cluster runs resolvers, else None."""
    network = state.core.cluster.network
    if network.resolver is None:
        return None
    return Lookup(state.core.cluster.host(host).address, project_domain(state.project.name, network.resolver.domain),
                  network.resolver.domain, network.isolation)


def note_started(state: RunState, host: str, container_id: str) -> None:
    """Tell the bridge filter (where the cluster isolates) that ``container_id`` runs now: it may find
    the container's port beside the run rather than at the filters' load after it."""
    if state.core.bridge_filter is not None and state.core.cluster.network.isolation:
        state.core.bridge_filter.started(host, container_id)


def create(state: RunState, action: Create) -> None:
    state.core.step(action.subject, action.verb, action.host, _planned_ip(state, action.replica),
                    lambda: create_container(state, action))


def request_for(state: RunState, action: Union[Create, Recreate], generation: int):
    """The create request of ``action``'s container, copy number ``generation``."""
    return build_request(state.project, action.replica, action.host, state.allocations,
                         state.plan.placement.replicas, state.core.cluster.network.name, generation=generation,
                         names=state.start_names(), dns=resolver_of(state, action.host))


def make_bound(state: RunState, action: Union[Create, Recreate], request, generation: int) -> str:
    """Create the container of ``request`` and record its address bound to its host; its id. A
    reservation moved to another host meanwhile (AddressFencedError) removes it unstarted."""
    engine = state.core.engines[action.host]
    container_id = engine.create_container(request)
    try:
        state.core.book.mark_bound(action.replica.owner, action.host, generation)
    except AddressFencedError:
        engine.remove_container(container_id, force=True)  # never started: its address is elsewhere now
        raise
    return container_id


def create_container(state: RunState, action: Union[Create, Recreate], publish: bool = True) -> ObservedContainer:
    """Create (and start) ``action``'s container; the container made. ``publish=False`` keeps it out
    of ``live``, so no hosts block names it until the caller says it may serve."""
    core = state.core
    generation = action.generation
    if isinstance(action, Recreate) and action.container is not None:
        generation = max(generation, action.container.generation)  # a recreated copy stays current
    engine = core.engines[action.host]
    made = state.ahead.take(action) if publish and state.ahead is not None and isinstance(action, Create) else None
    if made is not None:  # created and bound while the wave before ran (execute/ahead.py)
        request, container_id = made
    else:
        request = request_for(state, action, generation)
        container_id = make_bound(state, action, request, generation)
    created = ObservedContainer(host=action.host, id=container_id, name=request.name,
                                replica=action.replica, config_hash=request.config_hash,
                                state="created", ip=request.ip, alloc_id=request.alloc_id,
                                image=request.image, generation=generation)
    if publish:
        state.set_live(action.replica, created)
    if state.options.start:
        engine.start_container(container_id)
        note_started(state, action.host, container_id)
        created = replace(created, state="running")
        if publish:
            state.set_live(action.replica, created)
        if action.completed:
            wait_completed(state, action.replica, action.host, created)
        else:
            wait_health(state, action.replica, action.host, container_id, action.healthy)
    return created


def recreate(state: RunState, action: Recreate) -> None:
    def work():
        # The new container takes the old one's name and address, so the old one must go first.
        remove_container(state, action.host, action.container, stop=True)
        state.set_live(action.replica, None)
        create_container(state, action)

    state.core.step(action.subject, action.verb, action.host, _planned_ip(state, action.replica), work)


def start(state: RunState, action: Start) -> None:
    container = action.container

    def work():
        bind_found(state, action.replica, action.host)
        state.core.engines[action.host].start_container(container.id)
        note_started(state, action.host, container.id)
        started = replace(container, state="running", exit_code=None)
        state.set_live(action.replica, started)
        if action.completed:
            wait_completed(state, action.replica, action.host, started)
        else:
            wait_health(state, action.replica, action.host, container.id, action.healthy)

    state.core.step(action.subject, action.verb, action.host, container.ip, work)


def quiet_keep(state: RunState, action) -> bool:
    """Whether ``action`` is a Keep with nothing to do: its container found on a host that answers,
    its address bound there already, nobody waiting on its health or its end. Such a Keep changes
    nothing, so it passes no fence (a store read each) and needs no worker thread: a re-run of a
    project that changed nothing is all such Keeps."""
    if not isinstance(action, Keep) or action.container is None or action.host in state.down:
        return False
    if action.container.state == "running" and (action.completed or action.healthy):
        return False
    allocation = state.allocations.get(action.replica)
    return allocation is None or (allocation.state == "bound" and allocation.host == action.host)


def keep_quietly(state: RunState, action: Keep) -> None:
    """A Keep for which ``quiet_keep`` holds: its progress lines, nothing else."""
    state.core.unchanged(action.subject, action.verb, action.host, action.container.ip, "up-to-date")


def keep(state: RunState, action: Keep) -> None:
    container = action.container

    def work():
        if container is not None:
            bind_found(state, action.replica, action.host)
        if container is not None and container.state == "running":
            if action.completed:
                wait_completed(state, action.replica, action.host, container)
            else:
                wait_health(state, action.replica, action.host, container.id, action.healthy)

    state.core.step(action.subject, action.verb, action.host, container.ip if container else None, work,
                    done="up-to-date")


def stop(state: RunState, action: Stop) -> None:
    container = action.container

    def work():
        state.core.engines[action.host].stop_container(container.id, state.options.timeout)
        state.set_live(action.replica, replace(container, state="exited"), only_if=container)

    state.core.step(action.subject, action.verb, action.host, container.ip, work)


def restart(state: RunState, action: Restart) -> None:
    container = action.container

    def work():
        engine = state.core.engines[action.host]
        if container.state in RUNNING_STATES:
            engine.stop_container(container.id, state.options.timeout)
        engine.start_container(container.id)
        note_started(state, action.host, container.id)
        state.set_live(action.replica, replace(container, state="running"), only_if=container)

    state.core.step(action.subject, action.verb, action.host, container.ip, work)


def remove(state: RunState, action: Remove) -> None:
    container = action.container

    def work():
        remove_container(state, action.host, container, stop=action.stop, force=action.force,
                         volumes=action.volumes)
        state.set_live(action.replica, None, only_if=container)
        if container.replica is not None:
            # gone from this host: the address may follow the replica wherever it lands next
            state.core.book.mark_unbound(container.replica.owner, action.host, container.generation)

    state.core.step(action.subject, action.verb, action.host, container.ip, work)


def kill(state: RunState, action: Kill) -> None:
    container = action.container
    state.core.step(action.subject, action.verb, action.host, container.ip,
                    lambda: state.core.engines[action.host].kill_container(container.id, action.signal))


def bind_found(state: RunState, replica: Replica, host: str) -> None:
    """Record as bound the address of a container found on ``host`` when the record says otherwise.

    A run that died between creating a container and binding its address left it ``reserved``;
    a reserved record may be moved by another run, so it is bound before the container starts
    (refused, and the container not started, when the address went to another host meanwhile).
    """
    allocation = state.allocations.get(replica)
    if allocation is None or (allocation.state == "bound" and allocation.host == host):
        return
    state.allocations[replica] = state.core.book.mark_bound(replica.owner, host)


def remove_container(state: RunState, host: str, container: ObservedContainer, stop: bool,
                     force: bool = False, volumes: bool = False) -> None:
    engine = state.core.engines[host]
    if stop and container.state in RUNNING_STATES:
        engine.stop_container(container.id, state.options.timeout)
    if volumes:  # rm -v: its anonymous volumes go with it
        engine.remove_container(container.id, force=force, volumes=True)
    else:
        engine.remove_container(container.id, force=force)


def wait_health(state: RunState, replica: Replica, host: str, container_id: str, needed: bool) -> None:
    """Wait until a dependent's ``service_healthy`` is met: healthy, or a HostError/ConfigError."""
    if not needed:
        return
    core = state.core
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
