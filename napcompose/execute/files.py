"""Shipped project files on the one road: the rewrite before planning, and the two handlers.

- ``with_host_copies(project)`` (before planning): scans every shipped bind source (refusing missing
  ones and symlinks out of the project before anything changes) and points each bind at its host
  copy. The copy's path holds the source's digest, so an edited file changes the config hash of
  exactly the services that mount it, and nothing else.
- ``ship_files`` sends a host the copies it lacks; ``remove_files`` removes the project's copies
  from a host. A run points the binds of the project it creates containers from at the copies the
  plan's ShipFiles name (``with_planned_copies``), so what is created is what was planned, without
  reading the operator's disk a second time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Tuple

from napcompose.execute.state import RunState
from napcompose.model import Project
from napcompose.planner import Plan, RemoveFiles, ShipFiles
from napcompose.shipping.manifest import Shipped, rewrite
from napcompose.shipping.refs import shipped_by_service
from napcompose.shipping.copy import remove_project_files, ship_to_host


def with_host_copies(project: Project) -> Tuple[Project, Dict[str, Tuple[Shipped, ...]]]:
    """The project with shipped binds pointed at their host copies, and what is shipped per service."""
    shipped = shipped_by_service(project)
    if not shipped:
        return project, {}
    services = tuple(rewrite(spec, shipped.get(spec.name, ())) for spec in project.services)
    return replace(project, services=services), shipped


def with_planned_copies(project: Project, plan: Plan) -> Project:
    """``project`` with the binds the plan ships pointed at their copies (unchanged when already so)."""
    by_service: Dict[str, Dict[Tuple[str, str], Shipped]] = {}
    for action in plan.actions:
        if isinstance(action, ShipFiles):
            for source in action.files:
                by_service.setdefault(source.service, {})[(source.mount, source.source, source.target)] = source
    if not by_service:
        return project
    services = tuple(rewrite(spec, tuple(by_service.get(spec.name, {}).values())) for spec in project.services)
    return replace(project, services=services)


def ship_files(state: RunState, action: ShipFiles) -> None:
    files: List[Shipped] = list(action.files)
    core = state.core
    core.step(action.subject, action.verb, action.host, None,
              lambda: ship_to_host(action.host, core.files(action.host), action.project, files))


def remove_files(state: RunState, action: RemoveFiles) -> None:
    core = state.core
    core.step(action.subject, action.verb, action.host, None,
              lambda: remove_project_files(core.files(action.host), action.project))
