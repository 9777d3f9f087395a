"""Plans of the commands that act on containers that exist: down, stop, start, restart, rm, kill,
pause, unpause.

Stops go in reverse dependency waves (consumers first), starts in dependency waves. A container on
a host that does not answer is never assumed gone: its address stays reserved and the host is
reported. Pure, like every planner.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from napcompose.errors import UsageError
from napcompose.graph import direct_dependencies, start_waves, stop_waves
from napcompose.model import RUNNING_STATES, ObservedContainer, Project
from napcompose.ipam.stranding import STRANDED
from napcompose.planner.actions import (Kill, Plan, Release, Remove, RemoveFiles, Restart, Start, Stop,
                                        WriteHosts, names_writes)
from napcompose.planner.isolation_actions import isolation_applies
from napcompose.planner.daytwo_actions import Pause, Unpause
from napcompose.planner.volumes import volume_removals
from napcompose.planner.containers import completed_needed, healthy_needed
from napcompose.planner.hostloss import sort_out
from napcompose.observe.observation import Addresses, Observation, stranded_owner
from napcompose.planner.options import Options
from napcompose.observe.copies import is_previous
from napcompose.planner.run import ended_runs, removals as run_removals
from napcompose.planner.waits import await_ready


def _chosen(project: Project, observation: Observation, options: Options) -> List[ObservedContainer]:
    for name in options.services:
        if name not in project.service_names:
            raise UsageError(f"no such service: {name}")
    chosen = set(options.services or project.service_names)
    down = observation.down
    # A container kept by an update for a rollback holds its replica's address: starting it beside
    # the replica would clash, removing it would lose the rollback. Only down, rollback and
    # up --prune-previous touch it.
    return [c for c in observation.mine if not c.one_off and c.replica.service in chosen
            and not _stand_in(c, down) and not is_previous(c)]


def _stand_in(container: ObservedContainer, down) -> bool:
    """A container an unreachable host may hold, known only from the address book."""
    return container.host in down and container.state in ("unknown", STRANDED)


def _waves(order, containers) -> List[List[ObservedContainer]]:
    grouped = []
    for wave in order:
        names = set(wave)
        items = sorted((c for c in containers if c.replica.service in names), key=lambda c: (c.replica, c.host))
        if items:
            grouped.append(items)
    return grouped


def _after(project: Project, actions) -> Dict[str, List[str]]:
    """Each service's action keys, for dependents to wait on."""
    keys: Dict[str, List[str]] = {}
    for action in actions:
        keys.setdefault(action.replica.service, []).append(action.key)
    return keys


def _needs(project: Project, service: str, keys) -> tuple:
    return tuple(k for dep in sorted(direct_dependencies(project.service(service))) for k in keys.get(dep, ()))


def _plan(observation: Observation, waves, current=None, **extra) -> Plan:
    return Plan(observation.project, tuple(tuple(w) for w in waves if w),
                current=tuple(observation.mine if current is None else current), hosts=observation.hosts, **extra)


def _hosts_writes(observation: Observation) -> tuple:
    """One hosts-file pass per host that holds the project's containers (Docker rebuilt them on start)."""
    hosts = sorted({c.host for c in observation.mine if c.host not in observation.down})
    return tuple(WriteHosts(h, tuple(sorted(c.replica for c in observation.mine if c.host == h)))
                 for h in hosts) + names_writes(observation)


def plan_down(project: Optional[Project], observation: Observation, addresses: Addresses,
              options: Options) -> Plan:
    """Stop and remove the project's containers in reverse waves, then release their addresses."""
    down = observation.down
    # one-off containers go their own way (planner/run.py): every one with --remove-orphans (as
    # docker compose), else those of ended ``run --rm``; a one-off left keeps its address and files
    mine = [c for c in observation.mine if not _stand_in(c, down) and not c.one_off]
    run_removes, run_releases = run_removals(ended_runs(observation, everything=options.remove_orphans), "down")
    runs_left = {c.host for c in observation.mine if c.one_off and c.host not in down} - {
        a.host for a in run_removes}
    orphans: List[ObservedContainer] = []
    if project is not None:
        # A service whose profile is not active is still the project's: down removes its containers.
        disabled = [c for c in mine if c.replica.service in project.disabled_services]
        orphans = [c for c in mine if c.replica.service not in project.service_names and c not in disabled]
        targets = [c for c in mine if c not in orphans or options.remove_orphans]
        outside = [c for c in targets if c in orphans or c in disabled]
        groups = ([sorted(outside, key=lambda c: (c.replica, c.host))]
                  + _waves(stop_waves(project), [c for c in targets if c not in outside]))
    else:
        targets = mine
        groups = [sorted(targets, key=lambda c: (c.replica, c.host))]
    waves = [[Remove(c.replica, c.host, "down", container=c) for c in group] for group in groups]
    waves = ([list(run_removes)] if run_removes else []) + waves
    removing: Dict = {}
    for action in (a for wave in waves for a in wave):
        removing.setdefault(action.replica, []).append(action.key)
    kept = {c.replica for c in mine if c not in targets}
    releases = [Release(r, a.host, a.ip, "down", after=tuple(removing.get(r, ())), alloc_id=a.alloc_id or None)
                for r, a in addresses.allocations if r not in kept]
    # A stranded address goes once the copy left on its host is gone; on a host that still does not
    # answer it stays, since that copy may still run there.
    removal_at = {(a.replica, a.host): a.key for wave in waves for a in wave}
    kept_at = {(c.replica, c.host) for c in mine if c not in targets}
    releases += [Release(r, a.host, a.ip, "down", owner=stranded_owner(r, g),
                         after=(removal_at[(r, a.host)],) if (r, a.host) in removal_at else ())
                 for r, g, a in addresses.stranded if a.host not in down and (r, a.host) not in kept_at]
    # Shipped copies go from every host that answers and keeps none of the project's containers
    # (a host may hold copies with no container left, after rm), once its removals have succeeded.
    keeping = {c.host for c in mine if c not in targets} | runs_left
    on_host: Dict[str, List[str]] = {}
    for action in (a for wave in waves for a in wave):
        on_host.setdefault(action.host, []).append(action.key)
    removals = [RemoveFiles(h.name, observation.project, after=tuple(on_host.get(h.name, ())))
                for h in observation.cluster.hosts if h.name not in down and h.name not in keeping]
    volumes = volume_removals(project, observation, targets, on_host) if options.volumes else []
    # the names go from the resolvers before the containers stop
    last = releases + list(run_releases) + removals + volumes
    # the filters lose the addresses once they are released
    return _plan(observation, [names_writes(observation, "before")] + waves
                 + [last, isolation_applies(observation, "after")],
                 orphans=tuple(c for c in orphans if not options.remove_orphans))


def plan_stop(project: Project, observation: Observation, options: Options) -> Plan:
    running = [c for c in _chosen(project, observation, options) if c.state in RUNNING_STATES]
    return _plan(observation, [names_writes(observation, "before")]
                 + [[Stop(c.replica, c.host, c.state, container=c) for c in wave]
                    for wave in _waves(stop_waves(project), running)])


def plan_start(project: Project, observation: Observation, options: Options) -> Plan:
    """Start stopped containers in dependency waves, then rewrite hosts blocks (Docker rebuilt them)."""
    chosen = _chosen(project, observation, options)
    stopped = [c for c in chosen if c.state in ("exited", "created")]
    starts = _start_order(project, stopped, Start)
    waves = starts + [_hosts_writes(observation) + _bound(observation, starts)]
    if options.wait:  # every chosen container, the ones running already too, as docker compose waits
        started = {a.replica: a.key for wave in starts for a in wave}
        jobs = completed_needed(project, {c.replica.service for c in chosen})
        waves.append(sorted((await_ready(project, c.replica, c.host, started.get(c.replica), jobs)
                             for c in chosen), key=lambda w: (w.replica, w.host)))
    return _plan(observation, waves)


def plan_restart(project: Project, observation: Observation, options: Options) -> Plan:
    chosen = _chosen(project, observation, options)
    restarts = _start_order(project, chosen, Restart)
    return _plan(observation, restarts + [_hosts_writes(observation) + _bound(observation, restarts)])


def _bound(observation: Observation, waves) -> tuple:
    """The bridge filters with the new ports of the containers (re)started (Docker gave each a new
    veth), their addresses announced."""
    return isolation_applies(observation, "after", (a.replica for wave in waves for a in wave))


def _start_order(project: Project, containers, action_type) -> List[List]:
    """``action_type`` (Start or Restart) for each container, in start waves, each after its dependencies'."""
    waves: List[List] = []
    keys: Dict[str, List[str]] = {}
    chosen = {c.replica.service for c in containers}
    healthy, jobs = healthy_needed(project, chosen), completed_needed(project, chosen)
    for wave in _waves(start_waves(project), containers):
        actions = [action_type(c.replica, c.host, c.state, _needs(project, c.replica.service, keys), container=c,
                               **_waits(action_type, c.replica.service, healthy, jobs))
                   for c in wave]
        keys.update(_after(project, actions))
        waves.append(actions)
    return waves


def _waits(action_type, service: str, healthy, jobs) -> Dict[str, bool]:
    """A Start waits as ``up`` does for what its dependents' conditions ask (a Restart does not)."""
    if action_type is not Start:
        return {}
    return dict(healthy=service in healthy, completed=service in jobs)


def plan_rm(project: Project, observation: Observation, options: Options) -> Plan:
    """Remove stopped containers (running ones too, stopped first, with ``stop_first``). Addresses stay."""
    chosen = _chosen(project, observation, options)
    stops = []
    if options.stop_first:
        stops = [[Stop(c.replica, c.host, c.state, container=c) for c in wave]
                 for wave in _waves(stop_waves(project), [c for c in chosen if c.state in RUNNING_STATES])]
    stopping = {a.container: a.key for wave in stops for a in wave}
    targets = [c for c in chosen if c.state not in RUNNING_STATES or c in stopping]
    removes = [[Remove(c.replica, c.host, "rm", (stopping[c],) if c in stopping else (), container=c,
                       stop=False, force=options.force, volumes=options.volumes) for c in wave]
               for wave in _waves(stop_waves(project), targets)]
    # with -s the names go from the resolvers before the containers stop, as with `stop`
    early = [names_writes(observation, "before")] if stopping else []
    return _plan(observation, early + stops + removes)


def plan_kill(project: Project, observation: Observation, options: Options) -> Plan:
    running = [c for c in _chosen(project, observation, options) if c.state in RUNNING_STATES]
    return _plan(observation, [names_writes(observation, "before"),
                               [Kill(c.replica, c.host, options.signal, container=c, signal=options.signal)
                                for c in running]])


def plan_pause(project: Project, observation: Observation, options: Options) -> Plan:
    """Pause the running containers of the chosen services, all at once (none waits for another)."""
    running = [c for c in _chosen(project, observation, options) if c.state == "running"]
    return _plan(observation, [[Pause(c.replica, c.host, "pause", container=c)
                                for c in sorted(running, key=lambda c: (c.replica, c.host))]])


def plan_unpause(project: Project, observation: Observation, options: Options) -> Plan:
    """Unpause the paused containers of the chosen services."""
    paused = [c for c in _chosen(project, observation, options) if c.state == "paused"]
    return _plan(observation, [[Unpause(c.replica, c.host, "unpause", container=c)
                                for c in sorted(paused, key=lambda c: (c.replica, c.host))]])


def plan_hosts_sync(project: Project, observation: Observation, options: Options,
                    addresses: Addresses = Addresses()) -> Plan:
    """Rewrite every managed hosts block that differs, one pass per host; first remove the copies
    that hosts answering again hold of replicas that moved on, and release their kept addresses."""
    loss = sort_out(project.name, observation, addresses, set(), {})
    gone = {(a.host, a.container.id) for a in loss.cleanup}
    current = tuple(c for c in observation.mine if (c.host, c.id) not in gone and c.state != STRANDED)
    hosts = sorted({c.host for c in current if c.host not in observation.down})
    writes = tuple(WriteHosts(h, tuple(sorted(c.replica for c in current if c.host == h))) for h in hosts)
    return _plan(observation, [loss.cleanup, loss.releases, writes + names_writes(observation)], current=current)


def doomed_by_rm(plan: Plan) -> Sequence[str]:
    """The names of the containers an rm plan removes (what ``rm`` asks the user to confirm)."""
    return [a.container.name for a in plan.actions if isinstance(a, Remove)]
