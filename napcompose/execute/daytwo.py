"""The handlers of pause, unpause and the removal of a project's named volumes (``down -v``)."""

from __future__ import annotations

from dataclasses import replace

from napcompose.errors import VolumeInUseError, without_host
from napcompose.execute.state import RunState, detail
from napcompose.planner.daytwo_actions import Pause, RemoveVolume, Unpause


def pause(state: RunState, action: Pause) -> None:
    _freeze(state, action, lambda engine: engine.pause_container, "paused")


def unpause(state: RunState, action: Unpause) -> None:
    _freeze(state, action, lambda engine: engine.unpause_container, "running")


def _freeze(state: RunState, action, call, after: str) -> None:
    """``call(engine)`` on the action's container, then the container as ``after`` in what is live."""
    container = action.container

    def work():
        call(state.core.engines[action.host])(container.id)
        state.set_live(action.replica, replace(container, state=after), only_if=container)

    state.core.step(action.subject, action.verb, action.host, container.ip, work)


def remove_volume(state: RunState, action: RemoveVolume) -> None:
    """Remove the volume; one still in use is kept with a warning (docker compose does the same)."""
    core = state.core
    if action.in_use_by:
        _kept(state, action, f"in use by {', '.join(action.in_use_by)}")
        return
    where = detail(action.host, None)
    core.reporter.progress(action.subject, action.verb, "started", where)
    try:
        core.engines[action.host].remove_volume(action.volume)
    except VolumeInUseError as exc:  # a container outside nap-compose's sight mounts it
        core.reporter.progress(action.subject, action.verb, "skipped", where)
        core.reporter.warning(f"volume {action.volume} on {action.host} kept: "
                              f"{without_host(action.host, str(exc))}")
        return
    except Exception:
        core.reporter.progress(action.subject, action.verb, "error", where)
        raise
    core.reporter.progress(action.subject, action.verb, "done", where)


def _kept(state: RunState, action: RemoveVolume, why: str) -> None:
    state.core.reporter.progress(action.subject, action.verb, "skipped", f"{detail(action.host, None)} ({why})")
    state.core.reporter.warning(f"volume {action.volume} on {action.host} kept: {why}")
