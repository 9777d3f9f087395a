"""Keeping the resolvers' files true: the project's files (one per service) on every host, written when changed.

Every host's resolver serves every project's names, so the same files go to every host that
answers: a names change costs a write per changed service per host, never one per container. An
empty mark beside each file names the digest of its text, so one listing per host tells what to
write, without reading a file (names/records.py). The file lists
the replicas that serve (running, not unhealthy, not kept for a rollback); a ``before`` write also
lists the replicas the plan is about to create, at their reserved addresses, and leaves out those it
stops or removes. ``write_names`` is the WriteNames handler; ``sync_names`` the pass a rolling update
makes with its hosts pass (a replica leaves the names before it stops, and joins after its gate).

The files are made once per set of addresses (``NamesSet``): rendered, encoded and marked once, the
same bytes handed to every host, and made again only when the addresses change (a run's "before" and
"after" writes usually want the same files: the second reuses the first's).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from napcompose.clustermodel import ResolverSpec
from napcompose.errors import NapComposeError
from napcompose.execute.hosts import project_containers
from napcompose.execute.state import RunState, detail
from napcompose.model import ObservedContainer, Outcome, Project, Replica
from napcompose.names.records import MARK, SUFFIX, file_prefix, mark_name, names_files
from napcompose.parallel import fan_out
from napcompose.planner import Kill, Recreate, Remove, Stop, WriteNames
from napcompose.ports import RemoteFiles, Reporter

ACTION = "Updating names on"


@dataclass(frozen=True)
class NamesDrift:
    """A host whose resolver files for the project are not what they should be."""

    host: str
    missing: Tuple[str, ...]  # files that should be there
    stale: Tuple[str, ...]  # files that should not


def _empty() -> bytes:
    return b""


@dataclass(frozen=True)
class NamesSet:
    """The project's names files as every host should hold them: each file's text encoded once (every
    host is handed the same bytes), the marks naming their digests, and the whole listing they make."""

    data: Mapping[str, bytes]  # file -> its content
    marks: Mapping[str, str]  # mark -> the file it vouches for
    listing: FrozenSet[str]  # every file and mark
    # (file, its mark, what loads its content for put_many), by file name: made once for every host
    order: Tuple[Tuple[str, str, Callable[[], bytes]], ...] = ()

    @classmethod
    def of(cls, texts: Mapping[str, str]) -> "NamesSet":
        data = {file: text.encode("utf-8") for file, text in texts.items()}
        mark_of = {file: mark_name(file, text) for file, text in texts.items()}
        order = tuple((file, mark_of[file], _loader(data[file])) for file in sorted(data))
        return cls(data, {mark: file for file, mark in mark_of.items()}, frozenset(data) | frozenset(mark_of.values()),
                   order)


def _loader(content: bytes) -> Callable[[], bytes]:
    return lambda: content


class _LastMade:
    """The NamesSet made last, with what it was made of: the next phase of a run (or the next pass
    of a rolling update) that wants the files of the same addresses takes it as it is. It holds its
    project, so the identity it is compared by stays that project's."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last: Optional[Tuple[Project, Tuple[str, bool], Dict[Replica, str], NamesSet]] = None

    def get(self, project: Project, domain: str, addresses: Dict[Replica, str], isolated: bool = False) -> NamesSet:
        with self._lock:
            last = self._last
            if last is not None and last[0] is project and last[1] == (domain, isolated) and last[2] == addresses:
                return last[3]
            made = NamesSet.of(names_files(project, domain, addresses, isolated))
            self._last = (project, (domain, isolated), dict(addresses), made)
            return made


_MADE = _LastMade()


def serving(project: Project, live: Sequence[ObservedContainer]) -> Dict[Replica, str]:
    """{replica: address} of the project's containers that run and are not unhealthy."""
    return {c.replica: c.ip for c in project_containers(project, live)
            if c.ip and c.id and c.state == "running" and c.health != "unhealthy"}


def wanted_files(state: RunState, phase: str, live: Optional[Sequence[ObservedContainer]] = None) -> NamesSet:
    """The project's names files as they should stand now (``phase`` "before": as the plan will make
    them; "unstarted": as a plan that starts nothing leaves them)."""
    resolver = state.core.cluster.network.resolver
    addresses = serving(state.project, state.snapshot() if live is None else live)
    if phase == "unstarted":  # a name answers only for a running replica
        leaving = {a.replica for a in state.plan.actions if isinstance(a, (Remove, Stop, Kill, Recreate))}
    elif phase == "before":
        placed = state.plan.placement.replicas
        allocations = state.allocations
        for replica in placed:
            allocation = allocations.get(replica)
            if allocation is not None:
                addresses.setdefault(replica, allocation.ip)
        leaving = {a.replica for a in state.plan.actions if isinstance(a, (Remove, Stop, Kill))}
        leaving = leaving - set(placed) if leaving else leaving
    else:
        leaving = set()
    if leaving:
        addresses = {r: ip for r, ip in addresses.items() if r not in leaving}
    return _MADE.get(state.project, resolver.domain, addresses, state.core.cluster.network.isolation)


def _present(listing: Sequence[str], project_name: str) -> Tuple[set, set]:
    """(the project's names files, their marks) in a listing of the resolver's directory."""
    prefix = file_prefix(project_name)
    mine = [n for n in listing if n.startswith(prefix)]
    return {n for n in mine if n.endswith(SUFFIX)}, {n for n in mine if n.endswith(MARK)}


def write_files(files: RemoteFiles, directory: str, project_name: str, wanted: NamesSet,
                listing: Optional[Sequence[str]] = None) -> int:
    """Bring the project's files in the resolver's ``directory`` to ``wanted``; how many names files changed.

    A changed file is rewritten under its own name (the resolver rereads it in one step); once every
    changed file is written, their new marks are put (a mark never vouches for a file not written
    yet) and the old ones removed; a file no longer wanted goes with its marks. All of it is one
    ``put_stages`` (the files, then their marks, then the removals): the adapter sends it in one
    round trip where it can (a first ``up`` puts two files per service on every host). ``listing``:
    the directory's, read already under the run's lock (ListingsAhead)."""
    if listing is None:
        listing = files.listdir(directory)
    if listing and len(listing) == len(wanted.listing) and wanted.listing.issuperset(listing):
        return 0  # exactly the files and marks wanted (no set made of the listing, no name looked at twice)
    present, marks = _present(listing, project_name)
    changed = [(file, load) for file, mark, load in wanted.order if mark not in marks or file not in present]
    new_marks = [(mark, _empty) for _, mark, _ in wanted.order if mark not in marks]
    gone = sorted(present - wanted.data.keys())
    stale = gone + sorted(marks - wanted.marks.keys())
    if changed or new_marks or stale:
        files.put_stages(directory, [changed, new_marks], 0o644, stale)
    return len(changed) + len(gone)


class ListingsAhead:
    """The resolver directories' listings that a run's first names writes start from, read while the
    run reserves its addresses.

    A first ``up`` writes the names files before any container starts, right after the addresses are
    reserved: listing each directory then put a round trip per host on the way to the first start.
    The listing needs no address, and nothing but this run's own writes changes the project's files
    while it holds the project's lock, so it is read beside the reservations; the host's first names
    write takes it (``take``), later ones list again. A listing that failed is read again by the write,
    which then reports the host's error as it would have.
    """

    def __init__(self, state: RunState):
        resolver = state.core.cluster.network.resolver
        hosts = [] if resolver is None or state.project is None else sorted(
            {a.host for a in state.plan.actions if isinstance(a, WriteNames) and a.host not in state.down})
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=min(len(hosts), state.core.max_workers),
                                        thread_name_prefix="listings") if hosts else None
        self._found: Dict[str, Future] = {}
        for host in hosts:
            self._found[host] = self._pool.submit(_listing, state, host)

    def take(self, host: str) -> Optional[List[str]]:
        """The listing read ahead for ``host``'s directory, once; None: none (or it failed)."""
        with self._lock:
            found = self._found.pop(host, None)
        if found is None:
            return None
        try:
            return found.result()
        except NapComposeError:
            return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _listing(state: RunState, host: str) -> List[str]:
    return state.core.files(host).listdir(state.core.cluster.network.resolver.host_directory(host))


def _write(state: RunState, host: str, wanted: NamesSet) -> List[Outcome]:
    core = state.core
    try:
        directory = core.cluster.network.resolver.host_directory(host)
        listing = state.listings.take(host) if state.listings is not None else None
        written = write_files(core.files(host), directory, state.project.name, wanted, listing)
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
    # every host's write of a wave sees the same live containers: the files are made once
    kind = f"names {action.phase} {len(state.allocations)}"
    _, wanted = state.shared_view(kind, lambda live: wanted_files(state, action.phase, live))
    return _write(state, action.host, wanted)


def sync_names(state: RunState) -> bool:
    """Write the project's file on every host that answers where it differs; whether any was written."""
    if state.core.cluster.network.resolver is None:
        return False
    wanted = wanted_files(state, "after")
    hosts = sorted(h.name for h in state.core.cluster.hosts if h.name not in state.down)
    written = False
    for result in fan_out(hosts, lambda h: _write(state, h, wanted), max_workers=state.core.max_workers):
        for outcome in result.value or ():
            if outcome.error:
                state.core.reporter.warning(f"names on {outcome.host}: {outcome.error}")
            else:
                written = True
    return written


def check_files(project: Project, live: Sequence[ObservedContainer], resolver: ResolverSpec, hosts: Sequence[str],
                files: Callable[[str], RemoteFiles], reporter: Reporter, max_workers: int = 16,
                isolated: bool = False) -> List[NamesDrift]:
    """Every host in ``hosts`` whose resolver files for ``project`` lack one or hold a stale one (one
    listing per host, no file read); hosts that cannot be listed are warned. ``isolated``: names
    scoped by isolation group."""
    wanted = _MADE.get(project, resolver.domain, serving(project, live), isolated)

    def one(host: str) -> Optional[NamesDrift]:
        present, marks = _present(files(host).listdir(resolver.host_directory(host)), project.name)
        missing = {file for mark, file in wanted.marks.items() if mark not in marks or file not in present}
        stale = present - wanted.data.keys()
        if not missing and not stale:
            return None
        return NamesDrift(host, tuple(sorted(missing)), tuple(sorted(stale)))

    drifts = []
    for result in fan_out(sorted(hosts), one, max_workers=max_workers):
        if not result.ok:
            reporter.warning(f"cannot check the names files on {result.key}: {result.error}")
        elif result.value is not None:
            drifts.append(result.value)
    return drifts
