"""``--wait`` in a plan: one AwaitReady per replica the run leaves running, in a last wave.

Each waits for the action that made or started its container (a failed or skipped one skips the
wait, so a failure is reported once). Pure, like every planner.
"""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

from napcompose.model import Project, Replica
from napcompose.planner.actions import AwaitReady, Create, Keep, Recreate, Start
from napcompose.planner.containers import completed_needed
from napcompose.planner.rolling import has_healthcheck
from napcompose.planner.rolling_actions import RollingUpdate

REASON = "--wait"


def await_ready(project: Project, replica: Replica, host: str, after: Optional[str], jobs) -> AwaitReady:
    """The wait for ``replica`` on ``host``, after the action keyed ``after`` (None: nothing to wait for)."""
    spec = project.service(replica.service)
    return AwaitReady(replica, host, REASON, (after,) if after else (), healthcheck=has_healthcheck(spec),
                      completed=replica.service in jobs)


def ready_waits(project: Project, actions: Iterable, selected) -> Tuple[AwaitReady, ...]:
    """The waits for every replica of the ``selected`` services that ``actions`` (``up``'s container
    waves) create, recreate, start, keep or update."""
    jobs = completed_needed(project, set(selected))
    waits = []
    for action in actions:
        if isinstance(action, RollingUpdate):
            waits += [await_ready(project, step.replica, step.host, action.key, jobs) for step in action.steps]
        elif isinstance(action, (Create, Recreate, Start, Keep)) and action.replica.service in selected:
            waits.append(await_ready(project, action.replica, action.host, action.key, jobs))
    return tuple(sorted(waits, key=lambda w: (w.replica, w.host)))
