"""The one executor: runs a Plan's waves, each action by the handler its type picks in ``HANDLERS``.

Waves run one after the other; the actions of a wave run in parallel across hosts. An action whose
dependency (``after``) failed or was skipped is skipped, naming it. Failures are collected into the
RunReport, never raised, except a failed Reserve or ReserveBlocks: nothing has changed then, so the
run stops with its error. An action on a host that did not answer fails as unreachable (a Release still runs: it
decides itself). ``live`` follows the project's containers as each action changes them; the hosts
blocks written last are computed from it.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Mapping, Optional

from napcompose.errors import LockLostError, NapComposeError
from napcompose.execute import (addresses, containers, daytwo, files, hosts, images, isolation, names, network,
                               oneoff, readiness, rolling)
from napcompose.execute.ahead import CreatesAhead
from napcompose.execute.state import Core, RunState
from napcompose.model import Outcome, Project, RunReport
from napcompose.observe.pins import pinned
from napcompose.parallel import run_waves
from napcompose.planner.network_actions import (CreateNetwork, LoadResolverImage, RecreateNetwork, ReleaseBlock,
                                                RemoveNetwork, ReserveBlocks, RunResolver, StartResolver)
from napcompose.planner import (ACTION_TYPES, Addresses, ApplyIsolation, AwaitReady, BuildImage, CopyImage, Create, CreateOneOff, Keep,
                                Kill,
                                Options, Plan, Pull, PushImage, Recreate, Release, Remove, RemoveFiles, RemovePrevious,
                                Reserve, Restart, RollBack, RollingUpdate, ShipFiles, Start, Stop, WriteHosts,
                                WriteNames)
from napcompose.planner.daytwo_actions import Pause, RemoveVolume, Unpause

Handler = Callable[[RunState, object], Optional[List[Outcome]]]

# One handler per action type: a new capability is a new action type and its handler here.
HANDLERS: Dict[type, Handler] = {
    Reserve: addresses.reserve, Release: addresses.release,
    BuildImage: images.build_image, CopyImage: images.copy_image, Pull: images.pull,
    PushImage: images.push_image,
    Create: containers.create, Recreate: containers.recreate, Start: containers.start, Keep: containers.keep,
    Stop: containers.stop, Restart: containers.restart, Remove: containers.remove, Kill: containers.kill,
    WriteHosts: hosts.write_hosts, WriteNames: names.write_names,
    ShipFiles: files.ship_files, RemoveFiles: files.remove_files,
    RollingUpdate: rolling.rolling_update, RollBack: rolling.roll_back, RemovePrevious: rolling.remove_previous,
    AwaitReady: readiness.wait_ready,
    Pause: daytwo.pause, Unpause: daytwo.unpause, RemoveVolume: daytwo.remove_volume,
    ReserveBlocks: network.reserve_blocks, ReleaseBlock: network.release_block,
    CreateNetwork: network.create_network, RecreateNetwork: network.recreate_network,
    RemoveNetwork: network.remove_network, LoadResolverImage: network.load_resolver_image,
    StartResolver: network.start_resolver, RunResolver: network.run_resolver,
    CreateOneOff: oneoff.create_one_off,
    ApplyIsolation: isolation.apply_isolation,
}


def check_handlers(handlers: Mapping[type, Handler], action_types: Iterable[type]) -> None:
    """TypeError naming every action type without a handler, and every handler of no action type."""
    wanted, have = set(action_types), set(handlers)
    missing = sorted(t.__name__ for t in wanted - have)
    extra = sorted(t.__name__ for t in have - wanted)
    if missing or extra:
        raise TypeError("every action type needs exactly one handler: "
                        + "; ".join(part for part in (f"no handler for {', '.join(missing)}" if missing else "",
                                                      f"no action type {', '.join(extra)}" if extra else "")
                                    if part))


check_handlers(HANDLERS, ACTION_TYPES)


class _Abort(Exception):
    """Carries the error of an action that ends the run (not a NapComposeError, so it is not collected)."""

    def __init__(self, error: NapComposeError):
        super().__init__(str(error))
        self.error = error


def run_plan(core: Core, project: Project, options: Options, plan: Plan, addresses: Addresses) -> RunReport:
    """Run ``plan`` of ``project`` with ``core``'s ports and the run's ``options``; every outcome."""
    # The registry images run as the digests the plan was made with, as the plan's config hashes say.
    state = RunState.of(core, pinned(files.with_planned_copies(project, plan), plan.pins), options, plan, addresses)
    outcomes: List[Outcome] = [Outcome(host, "Observing", host, reason) for host, reason in plan.down]
    for orphan in plan.orphans:
        core.reporter.warning(f"found orphan container {orphan.name} on {orphan.host} (service "
                              f"{orphan.replica.service} is not in the project); "
                              "pass --remove-orphans to remove it")
    state.ahead = ahead = CreatesAhead(state, plan.waves, core.max_workers)
    state.listings = listings = names.ListingsAhead(state)
    try:
        results = run_waves(plan.waves, lambda action: _run_one(state, action), lambda a: a.key, lambda a: a.after,
                            core.max_workers, inline=lambda action: containers.quiet_keep(state, action),
                            under_way=ahead.prepare)
        for warning in ahead.discard():  # made for a Create skipped since: a skipped Create leaves nothing
            core.reporter.warning(warning)
    except _Abort as abort:
        raise abort.error from None
    finally:
        ahead.close()
        listings.close()
    for action in plan.actions:
        result = results[action.key]
        if result.skipped:
            core.reporter.progress(action.subject, action.verb, "skipped",
                                   f"{core.detail(action.host, None)} ({result.error})".strip())
        if result.ok and result.value is not None:
            outcomes.extend(result.value)
        else:
            outcomes.append(Outcome(action.subject, action.verb, action.host, result.error, result.skipped))
    return RunReport(tuple(outcomes))


def _run_one(state: RunState, action) -> Optional[List[Outcome]]:
    """The action's handler, picked by its type; returns the outcomes it reports itself, if any.
    A lost project lock ends the whole run: no later step may undo the new holder's work."""
    try:
        if containers.quiet_keep(state, action):  # one that changes nothing passes no fence
            return containers.keep_quietly(state, action)
        return state.core.fenced(lambda: _handle(state, action))
    except LockLostError as exc:
        raise _Abort(exc) from exc


def _handle(state: RunState, action) -> Optional[List[Outcome]]:
    handler = HANDLERS[type(action)]
    if isinstance(action, (Reserve, ReserveBlocks)):  # nothing has changed yet: the run stops
        try:
            return handler(state, action)
        except NapComposeError as exc:
            raise _Abort(exc) from exc
    if action.host in state.down and not isinstance(action, Release):
        error = state.core.unreachable_error(action.host, state.down[action.host])

        def unreachable():
            raise error

        state.core.step(action.subject, action.verb, action.host, _address_of(action), unreachable)
    return handler(state, action)


def _address_of(action) -> Optional[str]:
    if isinstance(action, (Recreate, Start, Keep, Stop, Restart, Remove, Kill)) and action.container:
        return action.container.ip
    return None
