"""Rolling updates in the plan: a changed service's Recreates become one RollingUpdate in batches.

``roll`` takes the container waves ``converge`` made and, per service whose update is rolling
(``update_config`` given or a healthcheck, ``parallelism`` > 0, no ``--no-rolling``), replaces that
service's Recreate actions by one RollingUpdate: the replicas by index, ``parallelism`` per batch. Actions that
waited for one of those Recreates wait for the RollingUpdate instead. ``plan_rollback`` returns
replicas to the containers an update kept. Pure, like every planner.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.errors import UsageError
from napcompose.graph import start_waves
from napcompose.model import ObservedContainer, Project, Replica, ServiceSpec, UpdateConfig, UpdateOrder
from napcompose.planner.actions import Plan, Recreate, WriteHosts, names_writes
from napcompose.observe.observation import Observation
from napcompose.planner.options import Options
from napcompose.observe.copies import is_previous
from napcompose.planner.rolling_actions import (RemovePrevious, RollBack, RollbackStep, RollingUpdate, RollStep,
                                                current_name)


def split_previous(containers: Sequence[ObservedContainer]) -> Tuple[tuple, tuple]:
    """(the containers that are replicas, the ones kept by updates for a rollback)."""
    replicas, kept = [], []
    for c in containers:  # one pass: a large project's containers are read once
        (kept if is_previous(c) else replicas).append(c)
    return tuple(replicas), tuple(kept)


def has_healthcheck(spec: ServiceSpec) -> bool:
    check = spec.healthcheck
    return check is not None and not check.disable and tuple(check.test[:1]) != ("NONE",)


def gate_of(spec: ServiceSpec, config: UpdateConfig) -> str:
    """What a new container must do to count as updated, in the words plans and errors use."""
    if has_healthcheck(spec):
        return "healthcheck healthy"
    return f"running for {config.monitor_s:g}s"


def fixed_host_ports(spec: ServiceSpec) -> Tuple[str, ...]:
    """The published host ports an old container holds on its host (``8080/tcp``): a new copy there
    cannot bind them while the old one runs, so they force stop-first."""
    return tuple(sorted({f"{p.host_port}/{p.protocol}" for p in spec.ports if p.host_port}))


def _batches(steps: List, parallelism: int) -> Tuple[tuple, ...]:
    size = parallelism or len(steps)
    return tuple(tuple(steps[i:i + size]) for i in range(0, len(steps), size))


def rolls_by_default(spec: ServiceSpec) -> bool:
    """Whether a changed ``spec`` is updated batch by batch unless ``--no-rolling``: when its file
    asks for it (``update_config``) or it has a healthcheck to gate on. Otherwise there is nothing
    to wait for, and its replicas are recreated at once, as docker-compose does."""
    return spec.update.parallelism > 0 and (spec.update.given or has_healthcheck(spec))


def _rolls(action, spec: ServiceSpec, options: Options, down) -> bool:
    # A replica on a host that did not answer stays a Recreate, which reports that host. A job that
    # dependents need completed exits by design: a gate would read that as a failed update.
    return (options.rolling and not getattr(action, "completed", False) and action.host not in down
            and rolls_by_default(spec) and isinstance(action, Recreate)
            and action.container is not None and action.container.host == action.host
            and isinstance(action.address, str) and action.address == action.container.ip)


def roll(project: Project, waves: Sequence[tuple], kept: Sequence[ObservedContainer],
         options: Options, down=()) -> List[tuple]:
    """``waves`` with each rolling service's Recreates replaced by one RollingUpdate in their place."""
    previous: Dict[Tuple[Replica, str], ObservedContainer] = {(c.replica, c.host): c for c in kept}
    renamed: Dict[str, str] = {}
    out: List[tuple] = []
    for wave in waves:
        steps: Dict[str, List] = {}
        for action in wave:
            spec = project.service(action.replica.service)
            if _rolls(action, spec, options, down):
                steps.setdefault(spec.name, []).append(action)
        rolled: Dict[str, RollingUpdate] = {}
        for service, actions in steps.items():
            spec = project.service(service)
            actions.sort(key=lambda a: a.replica.index)
            clash = fixed_host_ports(spec) if spec.update.order is UpdateOrder.START_FIRST else ()
            made = [RollStep(a.replica, a.host, a.address, a.container, previous.get((a.replica, a.host)),
                             start_first=spec.update.order is UpdateOrder.START_FIRST and not clash, port_clash=clash)
                    for a in actions]
            after = tuple(dict.fromkeys(k for a in actions for k in a.after))
            reasons = ", ".join(sorted({a.reason for a in actions}))
            rolled[service] = RollingUpdate(service, _batches(made, spec.update.parallelism), spec.update,
                                            spec.rollback, gate_of(spec, spec.update), reasons, after,
                                            healthy=any(a.healthy for a in actions))
            for a in actions:
                renamed[a.key] = rolled[service].key
        new_wave = []
        for action in wave:
            if action.key in renamed and isinstance(action, Recreate):
                update = rolled[action.replica.service]
                if update not in new_wave:
                    new_wave.append(update)
                continue
            waits = tuple(dict.fromkeys(renamed.get(k, k) for k in action.after))
            new_wave.append(replace(action, after=waits) if waits != action.after else action)
        out.append(tuple(new_wave))
    return out


def prunes(kept: Sequence[ObservedContainer], selected, down) -> Tuple[RemovePrevious, ...]:
    """``--prune-previous``: every kept container of the selected services on a host that answers."""
    return tuple(RemovePrevious(c.replica, c.host, c) for c in sorted(kept, key=lambda c: (c.replica, c.host))
                 if c.replica.service in selected and c.host not in down)


def plan_rollback(project: Project, observation: Observation, options: Options) -> Plan:
    """Return the named services' replicas to the containers their last update kept, batch by batch
    per ``rollback_config``; then rewrite the hosts blocks. A service with nothing kept is an error."""
    for name in options.services:
        if name not in project.service_names:
            raise UsageError(f"no such service: {name}")
    chosen = options.services or project.service_names
    mine = [c for c in observation.mine if not c.one_off]
    current, kept = split_previous(mine)
    by_replica = {(c.replica, c.host): c for c in current}
    down = observation.down
    waves: List[List] = []
    found = False
    for wave in start_waves(project):
        actions = []
        for service in sorted(s for s in wave if s in chosen):
            spec = project.service(service)
            mine_kept = sorted((c for c in kept if c.replica.service == service), key=lambda c: (c.replica, c.host))
            if not mine_kept:
                if options.services:
                    raise UsageError(f"service {service} has no container kept by an update to roll back to")
                continue
            unreachable = sorted({c.host for c in mine_kept if c.host in down})
            if unreachable:
                raise UsageError(f"cannot roll back {service}: {', '.join(unreachable)} did not answer")
            # A replica that moved off a lost host since: its kept container there is no way back.
            elsewhere = {c: sorted(r.host for r in current if r.replica == c.replica and r.host != c.host)
                         for c in mine_kept}
            moved = [f"{c.replica.label} moved to {', '.join(elsewhere[c])} after {c.name} was kept on {c.host}"
                     for c in mine_kept if elsewhere[c]]
            if moved:
                raise UsageError(f"cannot roll back {service}: {'; '.join(moved)}; `up --prune-previous` removes "
                                 "the kept containers")
            steps = [RollbackStep(c.replica, c.host, c, by_replica.get((c.replica, c.host))) for c in mine_kept]
            actions.append(RollBack(service, _batches(steps, spec.rollback.parallelism), spec.rollback,
                                    gate_of(spec, spec.rollback), "back to the containers the update kept"))
            found = True
        if actions:
            waves.append(actions)
    if not found:
        raise UsageError(f"nothing to roll back in project {project.name}: no container kept by an update")
    hosts = sorted({c.host for c in mine if c.host not in down})
    writes = [WriteHosts(h, tuple(sorted({c.replica for c in mine if c.host == h}))) for h in hosts]
    writes += names_writes(observation)
    return Plan(observation.project, tuple(tuple(w) for w in waves + [writes] if w), current=tuple(current),
                hosts=observation.hosts)


def _step_text(s: RollStep) -> str:
    kept = f" (replaces the kept {s.previous.name})" if s.previous else ""
    if s.start_first:
        return (f"{s.replica.label} on {s.host} (address changes: {s.address} -> a new address from the pool): "
                f"a new container starts beside the old one, which is renamed {s.container.name}-previous and "
                f"keeps {s.address}; once the new one passed the gate, links move to the new address and the "
                f"old container is stopped and kept with {s.address} until every replica passed, then removed "
                f"and {s.address} released" + kept)
    forced = (f"start-first impossible: the old container holds host port(s) {', '.join(s.port_clash)} on "
              f"{s.host}, so stop-first: " if s.port_clash else "")
    return (f"{s.replica.label} on {s.host} ({s.address}): {forced}links move to another replica when one is up, "
            f"the old container is stopped and kept as {s.container.name}-previous, a new one keeps the address"
            + kept)


def _back_text(s: RollbackStep) -> str:
    if s.beside:  # kept by a start-first update: it has its own address, and starts before the new one goes
        return (f"{s.replica.label} on {s.host} (address changes: {s.current.ip} -> {s.previous.ip}): start "
                f"{s.previous.name} beside {s.current.name}; once it passed the gate, links move back to "
                f"{s.previous.ip}, {s.current.name} is removed and {s.current.ip} released, and "
                f"{s.previous.name} is renamed {current_name(s.previous.name)}")
    return (f"{s.replica.label} on {s.host} ({s.previous.ip or '-'}): "
            f"{'remove ' + s.current.name + ', ' if s.current else ''}"
            f"start {s.previous.name} as {current_name(s.previous.name)}")


def render_rolling(action, peers: Optional[Dict] = None) -> List[str]:
    """The plan lines of a RollingUpdate, RollBack or RemovePrevious: the batches, one line each."""
    if isinstance(action, RemovePrevious):
        return [f"{action.container.name} on {action.host} ({action.container.ip or '-'}): remove the container "
                f"kept for a rollback ({action.reason})"]
    config = action.config
    count = sum(len(b) for b in action.batches)
    pause = f", {config.delay_s:g}s between batches" if config.delay_s else ""
    if isinstance(action, RollBack):
        lines = [f"{action.service}: roll back {count} replica(s) in {len(action.batches)} batch(es) "
                 f"(gate: {action.gate}{pause})"]
        for n, batch in enumerate(action.batches, 1):
            lines.append(f"    batch {n}: " + "; ".join(_back_text(s) for s in batch))
        return lines
    lines = [f"{action.service}: rolling update of {count} replica(s) in {len(action.batches)} batch(es) of "
             f"{len(action.batches[0])}, {config.order}, gate: {action.gate}, on failure: {config.failure_action}"
             f"{pause} ({action.reason})"]
    for n, batch in enumerate(action.batches, 1):
        lines.append(f"    batch {n}: " + "; ".join(_step_text(s) for s in batch))
        for step in batch:
            lines.extend("        " + line for line in (peers or {}).get(step.replica, ()))
    lines.append(f"    then: the kept containers of {action.service} are removed once every replica passed")
    return lines
