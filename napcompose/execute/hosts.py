"""Keeping every running container's hosts block true: compute, compare, write in place, per host.

Blocks are computed from the containers that exist (not from what was asked for), so a container
that failed to be created is never listed as a peer. One RemoteFiles per host per run; a host's
files are read in one batch and the changed ones written in another (the adapter sends each in one
round trip), hosts in parallel; each file fails on its own, and what is reported keeps the
containers' order.
``write_host`` and ``check_blocks`` take the ports they use; ``write_hosts`` is the WriteHosts
handler, and ``sync_hosts`` the pass a rolling update makes in the middle of a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from napcompose.errors import NapComposeError
from napcompose.execute.state import RunState, detail
from napcompose.parallel import fan_out
from napcompose.names.hostsfile import KnownNames, PeerMap, extract_block, merge
from napcompose.names.startnames import StartNames
from napcompose.model import ObservedContainer, Outcome, Project, Replica
from napcompose.planner import WriteHosts, is_previous, superseded
from napcompose.ports import ContainerEngine, RemoteFiles, Reporter

ACTION = "Updating hosts of"
# A container can grow its /etc/hosts without bound (it is writable inside); beyond this it is
# reported, never read whole into the operator's memory.
MAX_HOSTS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HostsDrift:
    """A container whose hosts file does not hold the block it should; ``actual`` None: no block."""

    replica: Replica
    host: str
    expected: str
    actual: Optional[str]


def expected_blocks(project: Project, live: Sequence[ObservedContainer]) -> Dict[Replica, Tuple[ObservedContainer, str]]:
    """For every running container of a service in the file: (container, the block it must hold).

    A link alias names the lowest-numbered replica that runs and is not unhealthy, so consumers
    follow a replica that stops, fails or is being updated (containers kept for a rollback aside).
    """
    return _expected(project, project_containers(project, live))


def _expected(project: Project, mine: Sequence[ObservedContainer]) -> Dict[Replica, Tuple[ObservedContainer, str]]:
    addresses = {c.replica: c.ip for c in mine if c.ip}
    running = [c for c in mine if c.state == "running" and c.id]
    up = {c.replica for c in running if c.health != "unhealthy"}
    unavailable = [r for r in addresses if r not in up]
    peers = PeerMap(project, addresses, unavailable)  # one index of peers for every service's block
    blocks = {name: peers.block(name) for name in {c.replica.service for c in running}}
    return {c.replica: (c, blocks[c.replica.service]) for c in running}


def project_containers(project: Project, live: Sequence[ObservedContainer]) -> List[ObservedContainer]:
    """The project's containers that count as its replicas: no one-off, no copy kept for a rollback,
    no copy of a replica that moved on."""
    stale = superseded(live)  # copies of replicas that moved on: removed by the next up, never peers
    return [c for c in live if c.replica is not None and c.replica.project == project.name
            and c.replica.service in project.service_names and not c.one_off and not is_previous(c)
            and (c.host, c.id) not in stale]


def known_names(project: Project, live: Sequence[ObservedContainer]) -> Dict[str, str]:
    """{name: address now} of every name the containers were given at create time (link aliases
    aside): a line Docker wrote that names one at another address is dropped by the merge."""
    return _known(project, project_containers(project, live))


def _known(project: Project, mine: Sequence[ObservedContainer]) -> KnownNames:
    names = StartNames(project, {c.replica: c.ip for c in mine if c.ip})
    return KnownNames(names.known(), names.replica_run())


@dataclass(frozen=True)
class HostsView:
    """What every host's pass over one set of live containers reads, made once for all hosts:
    each running container's block, by host in the containers' order, and the create-time names."""

    blocks: Dict[Replica, Tuple[ObservedContainer, str]]
    by_host: Dict[str, List[Tuple[ObservedContainer, str]]]
    known: KnownNames

    @classmethod
    def of(cls, project: Project, live: Sequence[ObservedContainer]) -> "HostsView":
        mine = project_containers(project, live)
        blocks = _expected(project, mine)
        by_host: Dict[str, List[Tuple[ObservedContainer, str]]] = {}
        for replica in sorted(blocks, key=_order):  # the project's own: its services and indexes order them
            by_host.setdefault(blocks[replica][0].host, []).append(blocks[replica])
        return cls(blocks, by_host, _known(project, mine))


def _order(replica: Replica) -> Tuple[str, int]:
    return replica.service, replica.index


def write_host(project: Project, host: str, live: Sequence[ObservedContainer], *,
               files: Callable[[str], RemoteFiles], engines: Mapping[str, ContainerEngine],
               reporter: Reporter, view: Optional[HostsView] = None) -> List[Outcome]:
    """Write every block on ``host`` that differs; an Outcome per file written or failed, none for
    files already right (and no SSH session at all when the host runs none of the project's containers).
    ``view``: ``HostsView.of(project, live)`` when the caller made it already (one for every host)."""
    view = view if view is not None else HostsView.of(project, live)
    items = view.by_host.get(host, [])
    if not items:
        return []
    known = view.known
    try:
        remote = files(host)
    except NapComposeError as exc:
        return [_failed(reporter, c, str(exc)) for c, _ in items]
    engine = engines[host]
    paths, derived = _hosts_paths(engine, [c for c, _ in items])
    texts = _read_all(engine, remote, [c for c, _ in items], paths, derived)
    errors: Dict[int, str] = {}
    changes: List[Tuple[int, str, bytes]] = []  # (item's index, path, the text it must hold)
    for index, ((container, block), path, text) in enumerate(zip(items, paths, texts)):
        if isinstance(text, NapComposeError):
            errors[index] = str(text)
            continue
        text = text.decode("utf-8", "replace")
        wanted = merge(text, project.name, block, known)
        if wanted != text:
            changes.append((index, path, wanted.encode("utf-8")))
    if changes:
        failures = _each_file(len(changes), lambda: remote.write_many_in_place([(p, data) for _, p, data in changes]))
        for (index, _, _), failed in zip(changes, failures):
            if failed is not None:
                errors[index] = str(failed)
    outcomes = []
    changed = {index for index, _, _ in changes}
    for index, (container, _) in enumerate(items):
        if index in errors:
            outcomes.append(_failed(reporter, container, errors[index]))
        elif index in changed:
            reporter.progress(container.replica.label, ACTION, "done", detail(host, container.ip))
            outcomes.append(Outcome(container.replica.label, ACTION, host))
    return outcomes


def _each_file(count: int, batch: Callable[[], list]) -> list:
    """``batch()``'s answer per file; when the whole batch failed (the host's connection), its error for each."""
    try:
        return batch()
    except NapComposeError as exc:
        return [exc] * count


def _hosts_paths(engine: ContainerEngine,
                 containers: Sequence[ObservedContainer]) -> Tuple[List[Union[str, NapComposeError]], List[bool]]:
    """(each container's hosts file or the engine's error, whether that path was inferred). Docker
    keeps the file at ``<its containers directory>/<id>/hosts``, so the first path the engine names
    (an inspect) gives every later one without asking."""
    paths: List[Union[str, NapComposeError]] = []
    derived: List[bool] = []
    layout: Optional[str] = None
    for container in containers:
        derived.append(layout is not None)
        if layout is not None:
            paths.append(f"{layout}{container.id}/hosts")
            continue
        try:
            path = engine.hosts_path(container.id)
        except NapComposeError as exc:
            paths.append(exc)
            continue
        paths.append(path)
        if path.endswith(f"/{container.id}/hosts"):
            layout = path[:-len(f"{container.id}/hosts")]
    return paths, derived


def _read_all(engine: ContainerEngine, remote: RemoteFiles, containers: Sequence[ObservedContainer],
              paths: List[Union[str, NapComposeError]], derived: Sequence[bool]) -> list:
    """Each file's bytes or its error, read in one batch; a file that could not be read at an inferred
    path is asked of the engine (its error then says what is wrong: a container never started has
    no file) and read at the path it names. ``paths`` is corrected in place."""
    wanted = [(i, p) for i, p in enumerate(paths) if isinstance(p, str)]
    texts: list = list(paths)
    got = _each_file(len(wanted), lambda: remote.read_many([p for _, p in wanted], MAX_HOSTS_BYTES))
    for (index, path), text in zip(wanted, got):
        texts[index] = text
        if isinstance(text, NapComposeError) and derived[index]:
            try:
                named = engine.hosts_path(containers[index].id)
                if named != path:
                    paths[index] = named
                    texts[index] = remote.read(named, MAX_HOSTS_BYTES)
            except NapComposeError as exc:
                texts[index] = exc
    return texts


def _failed(reporter: Reporter, container: ObservedContainer, error: str) -> Outcome:
    reporter.progress(container.replica.label, ACTION, "error", detail(container.host, container.ip))
    return Outcome(container.replica.label, ACTION, container.host, error)


def check_blocks(project: Project, live: Sequence[ObservedContainer], *, files: Callable[[str], RemoteFiles],
                 engines: Mapping[str, ContainerEngine], reporter: Reporter,
                 max_workers: int = 16) -> List[HostsDrift]:
    """Every running container whose file lacks its block or holds another; unreadable ones are warned."""
    view = HostsView.of(project, live)
    blocks, known = view.blocks, view.known

    def one_host(host: str) -> List[HostsDrift]:
        drifts: List[HostsDrift] = []
        try:
            remote = files(host)
        except NapComposeError as exc:
            reporter.warning(f"cannot check hosts files on {host}: {exc}")
            return drifts
        items = view.by_host.get(host, [])
        containers = [c for c, _ in items]
        paths, derived = _hosts_paths(engines[host], containers)
        for (container, block), text in zip(items, _read_all(engines[host], remote, containers, paths, derived)):
            if isinstance(text, NapComposeError):
                reporter.warning(f"cannot read the hosts file of {container.replica.label}: {text}")
                continue
            text = text.decode("utf-8", "replace")
            actual = extract_block(text, project.name)
            # a line above the block that still names a moved peer's old address counts as drift too
            if actual != block or merge(text, project.name, block, known) != text:
                drifts.append(HostsDrift(container.replica, host, block, actual))
        return drifts

    hosts = sorted({c.host for c, _ in blocks.values()})
    return [d for result in fan_out(hosts, one_host, max_workers=max_workers) for d in result.value]


def _write(state: RunState, host: str, live: Sequence[ObservedContainer],
           view: Optional[HostsView] = None) -> List[Outcome]:
    core = state.core
    return write_host(state.project, host, live, files=core.files, engines=core.engines, reporter=core.reporter,
                      view=view)


def write_hosts(state: RunState, action: WriteHosts) -> List[Outcome]:
    state.core.reporter.progress(action.subject, action.verb, "started", f"on {action.host}")
    # every host's pass of a wave sees the same live containers: their blocks are made once
    live, view = state.shared_view("hosts", lambda containers: HostsView.of(state.project, containers))
    return _write(state, action.host, live, view)


def sync_hosts(state: RunState) -> bool:
    """Rewrite the blocks that differ on every host that answers; whether any was written. One pass
    at a time within the run (``state.hosts_writes``): passes must not interleave writes."""
    with state.hosts_writes:
        live = state.snapshot()
        hosts = sorted({c.host for c in live if c.state == "running"} - set(state.down))
        view = HostsView.of(state.project, live)
        results = fan_out(hosts, lambda h: _write(state, h, live, view), max_workers=state.core.max_workers)
    written = False
    for result in results:
        for outcome in result.value or ():
            if outcome.error:
                state.core.reporter.warning(f"hosts file of {outcome.subject} on {outcome.host}: {outcome.error}")
            else:
                written = True
    return written
