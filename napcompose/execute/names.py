"""Keeping the resolvers' files true: one file per project on every host, written when it differs.

Every host's resolver serves every project's names, so the same file goes to every host that
answers: a names change costs one small write per host, never one per container. The file lists
the replicas that serve (running, not unhealthy, not kept for a rollback); a ``before`` write also
lists the replicas the plan is about to create, at their reserved addresses, and leaves out those it
stops or removes. ``write_names`` is the WriteNames handler; ``sync_names`` the pass a rolling update
makes with its hosts pass (a replica leaves the names before it stops, and joins after its gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from napcompose.clustermodel import ResolverSpec
from napcompose.errors import NapComposeError
from napcompose.execute.hosts import project_containers
from napcompose.execute.state import RunState, detail
from napcompose.model import ObservedContainer, Outcome, Project, Replica
from napcompose.names.records import file_name, render_names
from napcompose.parallel import fan_out
from napcompose.planner import Kill, Remove, Stop, WriteNames
from napcompose.ports import RemoteFiles, Reporter

ACTION = "Updating names on"


@dataclass(frozen=True)
class NamesDrift:
    """A host whose resolver file for the project is not what it should be; ``actual`` None: no file."""

    host: str
    expected: str
    actual: Optional[str]


def serving(project: Project, live: Sequence[ObservedContainer]) -> Dict[Replica, str]:
    """{replica: address} of the project's containers that run and are not unhealthy."""
    return {c.replica: c.ip for c in project_containers(project, live)
            if c.ip and c.id and c.state == "running" and c.health != "unhealthy"}


def names_text(state: RunState, phase: str) -> str:
    """The project's names file as it should stand now (``phase`` "before": as the plan will make it)."""
    resolver = state.core.cluster.network.resolver
    addresses = serving(state.project, state.snapshot())
    if phase == "before":
        placed = set(state.plan.placement.replicas)
        for replica in placed:
            if replica in state.allocations:
                addresses.setdefault(replica, state.allocations[replica].ip)
        leaving = {a.replica for a in state.plan.actions if isinstance(a, (Remove, Stop, Kill))} - placed
        addresses = {r: ip for r, ip in addresses.items() if r not in leaving}
    return render_names(state.project, resolver.domain, addresses)


def write_file(files: RemoteFiles, resolver: ResolverSpec, project_name: str, text: str) -> bool:
    """Put the project's file into the resolver's directory unless it holds that text; True when written."""
    name = file_name(project_name)
    path = f"{resolver.directory}/{name}"
    data = text.encode("utf-8")
    present = files.listdir(resolver.directory)
    if name in present and files.read(path) == data:
        return False
    if not present:
        files.makedirs(resolver.directory, 0o755)
    files.put(path, data, 0o644)
    return True


def _write(state: RunState, host: str, text: str) -> List[Outcome]:
    core = state.core
    try:
        written = write_file(core.files(host), core.cluster.network.resolver, state.project.name, text)
    except NapComposeError as exc:
        core.reporter.progress(host, ACTION, "error", f"on {host}")
        return [Outcome(host, ACTION, host, str(exc))]
    if not written:
        return []
    core.reporter.progress(host, ACTION, "done", detail(host, None))
    return [Outcome(host, ACTION, host)]


def write_names(state: RunState, action: WriteNames) -> Optional[List[Outcome]]:
    if state.core.cluster.network.resolver is None or state.project is None:
        return []
    return _write(state, action.host, names_text(state, action.phase))


def sync_names(state: RunState) -> bool:
    """Write the project's file on every host that answers where it differs; whether any was written."""
    if state.core.cluster.network.resolver is None:
        return False
    text = names_text(state, "after")
    hosts = sorted(h.name for h in state.core.cluster.hosts if h.name not in state.down)
    written = False
    for result in fan_out(hosts, lambda h: _write(state, h, text), max_workers=state.core.max_workers):
        for outcome in result.value or ():
            if outcome.error:
                state.core.reporter.warning(f"names on {outcome.host}: {outcome.error}")
            else:
                written = True
    return written


def check_files(project: Project, live: Sequence[ObservedContainer], resolver: ResolverSpec, hosts: Sequence[str],
                files: Callable[[str], RemoteFiles], reporter: Reporter, max_workers: int = 16) -> List[NamesDrift]:
    """Every host in ``hosts`` whose resolver file for ``project`` is missing or stale; unreadable ones are warned."""
    expected = render_names(project, resolver.domain, serving(project, live))
    name = file_name(project.name)

    def one(host: str) -> Optional[NamesDrift]:
        remote = files(host)
        if name not in remote.listdir(resolver.directory):
            return NamesDrift(host, expected, None)
        actual = remote.read(f"{resolver.directory}/{name}").decode("utf-8", "replace")
        return None if actual == expected else NamesDrift(host, expected, actual)

    drifts = []
    for result in fan_out(sorted(hosts), one, max_workers=max_workers):
        if not result.ok:
            reporter.warning(f"cannot check the names file on {result.key}: {result.error}")
        elif result.value is not None:
            drifts.append(result.value)
    return drifts
