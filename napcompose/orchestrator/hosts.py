"""Keeping every running container's hosts block true: compute, compare, write in place, per host.

Blocks are computed from the containers that exist (not from what was asked for), so a container
that failed to be created is never listed as a peer. One RemoteFiles per host per run; a host's
files are handled one after the other in that session, hosts in parallel.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Sequence, Tuple

from napcompose.errors import NapComposeError
from napcompose.hostsfile import extract_block, merge
from napcompose.model import ObservedContainer, Outcome, Project, Replica
from napcompose.orchestrator.base import Core, label
from napcompose.orchestrator.views import HostsDrift
from napcompose.planner import hosts_block

ACTION = "Updating hosts of"


def expected_blocks(project: Project, live: Sequence[ObservedContainer]) -> Dict[Replica, Tuple[ObservedContainer, str]]:
    """For every running container of a service in the file: (container, the block it must hold)."""
    mine = [c for c in live if c.replica is not None and c.replica.project == project.name
            and c.replica.service in project.service_names and not c.one_off]
    addresses = {c.replica: c.ip for c in mine if c.ip}
    running = [c for c in mine if c.state == "running" and c.id]
    blocks = {name: hosts_block(project, name, addresses) for name in {c.replica.service for c in running}}
    return {c.replica: (c, blocks[c.replica.service]) for c in running}


def _by_host(blocks) -> Dict[str, List[Tuple[ObservedContainer, str]]]:
    grouped: Dict[str, List[Tuple[ObservedContainer, str]]] = {}
    for replica in sorted(blocks):
        container, block = blocks[replica]
        grouped.setdefault(container.host, []).append((container, block))
    return grouped


def _per_host(core: Core, grouped, work) -> List:
    results: List = []
    if not grouped:
        return results
    with ThreadPoolExecutor(max_workers=max(1, min(len(grouped), core.max_workers))) as pool:
        futures = [pool.submit(work, host, items) for host, items in sorted(grouped.items())]
        for future in futures:
            results.extend(future.result())
    return results


def write_blocks(core: Core, project: Project, live: Sequence[ObservedContainer]) -> List[Outcome]:
    """Write every block that differs; an Outcome per file written or failed, none for files already right."""

    def one_host(host, items):
        outcomes = []
        try:
            files = core.files(host)
        except NapComposeError as exc:
            return [_failed(core, c, str(exc)) for c, _ in items]
        engine = core.engines[host]
        for container, block in items:
            try:
                path = engine.hosts_path(container.id)
                text = files.read(path).decode("utf-8", "replace")
                wanted = merge(text, project.name, block)
                if wanted == text:
                    continue
                files.write_in_place(path, wanted.encode("utf-8"))
            except NapComposeError as exc:
                outcomes.append(_failed(core, container, str(exc)))
                continue
            core.reporter.progress(label(container.replica), ACTION, "done",
                                   core.detail(host, container.ip))
            outcomes.append(Outcome(label(container.replica), ACTION, host))
        return outcomes

    return _per_host(core, _by_host(expected_blocks(project, live)), one_host)


def _failed(core: Core, container: ObservedContainer, error: str) -> Outcome:
    core.reporter.progress(label(container.replica), ACTION, "error", core.detail(container.host, container.ip))
    return Outcome(label(container.replica), ACTION, container.host, error)


def check_blocks(core: Core, project: Project, live: Sequence[ObservedContainer]) -> List[HostsDrift]:
    """Every running container whose file lacks its block or holds another; unreadable ones are warned."""

    def one_host(host, items):
        drifts = []
        try:
            files = core.files(host)
        except NapComposeError as exc:
            core.reporter.warning(f"cannot check hosts files on {host}: {exc}")
            return drifts
        engine = core.engines[host]
        for container, block in items:
            try:
                text = files.read(engine.hosts_path(container.id)).decode("utf-8", "replace")
            except NapComposeError as exc:
                core.reporter.warning(f"cannot read the hosts file of {label(container.replica)}: {exc}")
                continue
            actual = extract_block(text, project.name)
            if actual != block:
                drifts.append(HostsDrift(container.replica, host, block, actual))
        return drifts

    return _per_host(core, _by_host(expected_blocks(project, live)), one_host)
