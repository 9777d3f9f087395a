"""Builds the Orchestrator for a deploy command, and turns its results into terminal output.

Everything that talks to hosts or the store is the command's one Session (cli/session.py). The
Reporter here is the only place progress reaches the terminal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Mapping

from napcompose.errors import PartialFailure, without_host
from napcompose.cli.session import session_of


class CliReporter:
    """ports.Reporter writing one line per finished step: ``Creating web_2 on node3 (…) ... done``."""

    # Statuses that only say a step began; the terminal line comes with the step's end.
    _BEGIN = frozenset({"", "started", "starting", "running", "begin", "waiting"})

    def __init__(self, ctx):
        self._ctx = ctx
        self._lock = threading.Lock()

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        if status in self._BEGIN:
            return
        words = " ".join(part for part in (action, subject, detail) if part)
        with self._lock:
            self._ctx.err(f"{words} ... {status}")

    def warning(self, message: str) -> None:
        with self._lock:
            self._ctx.err(f"WARNING: {message}")


class QuietReporter(CliReporter):
    """For commands that print what they did themselves, once done: no progress lines, only warnings."""

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        pass


@dataclass
class Deploy:
    """What a deploy command works with; built once per command by ``deploy_for``."""

    cluster: object
    connections: object
    engines: Mapping[str, object]
    ipam: object
    orchestrator: object
    reporter: CliReporter
    store: object = None  # the KeyValueStore the IPAM and the project lock share


def deploy_for(ctx, cluster=None, reporter=None, store_soon: bool = False) -> Deploy:
    """The command's session (cluster, connections, engines, store) with its IPAM and an Orchestrator
    over them; ``reporter`` replaces the terminal's progress lines (CliReporter). ``store_soon``: the
    command takes the project lock next, so the store is opened, and the hosts connected, in the
    background meanwhile."""
    session = session_of(ctx, cluster)
    cluster = session.cluster
    store = session.store  # its closer runs after the project lock's, which is registered later
    if store_soon:
        store.warm()
    connections = session.connections  # the TCP connections begin now, before the first question
    if store_soon and hasattr(connections, "warm"):
        connections.warm()
    ipam = session.ipam()
    reporter = reporter or CliReporter(ctx)
    orchestrator = session.orchestrator(reporter, ipam)
    return Deploy(cluster, connections, session.engines, ipam, orchestrator, reporter, store)


def raise_on_failures(report, what: str) -> None:
    """A RunReport with failures becomes one PartialFailure listing every one of them."""
    failed = list(report.failed)
    if not failed:
        return
    total = len(report.outcomes)
    lines = []
    for outcome in failed:
        host = outcome.host
        where = f" on {host}" if host and host != outcome.subject else ""
        reason = outcome.error or "skipped"
        if host:
            reason = without_host(host, reason)  # the line names the host already
        lines.append((f"{outcome.action} {outcome.subject}{where}".strip(), reason))
    raise PartialFailure(f"{what}: {len(failed)} of {total} steps failed", lines)
