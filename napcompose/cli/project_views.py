"""What the deploy commands print: ps tables, plans, merged logs, the attached `up`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from napcompose.errors import ExitStatus, PartialFailure, without_host
from napcompose.model import ObservedContainer
from napcompose.planner import Command, Options, is_previous, render
from napcompose.adapters.streams import LogMux, LogSource
from napcompose.cli.options import attached_kill, attached_stop


# ---------------------------------------------------------------------------- ps


@dataclass(frozen=True)
class PsRow:
    name: str
    service: str
    host: str
    ip: str
    state: str
    ports: str
    id: str
    number: Optional[int]
    generation: int = 1  # which copy of its replica (a replica moved off a lost host gets a higher one)
    container: Optional[ObservedContainer] = None  # as observed: what ``--format json`` shows of it
    note: str = ""  # what the cluster knows besides Docker's state (the parentheses of ``state``)


def ps_rows(observation, services: Sequence[str], include_one_off: bool) -> List[PsRow]:
    """One row per container; a host that did not answer shows the containers its addresses say it
    holds (the observation's stand-ins), state ``unknown (reason)``, or ``stranded (reason)`` for a
    copy left there whose replica moved to another host with a new address. A copy older than its
    replica's current one (on a host that answers again) is ``superseded (its Docker state)``.
    ``note`` holds those remarks alone, for ``--format json`` beside Docker's own state."""
    from napcompose.planner import superseded

    down = observation.down
    stale = superseded(observation.containers)
    evicted = set(getattr(observation, "evicted", ()))
    rows = []
    for c in observation.containers:
        if c.one_off and not include_one_off:
            continue
        if services and (c.replica is None or c.replica.service not in services):
            continue
        state, notes = c.state, []
        if state in ("unknown", "stranded") and c.host in down:
            why = "host evicted" if c.host in evicted else without_host(c.host, down[c.host])
            state = f"{state} ({why})"
            notes.append(why)
        elif (c.host, c.id) in stale:
            state = f"superseded ({state})"
            notes.append("superseded")
        elif c.health and state == "running":
            state = f"running ({c.health})"
        if is_previous(c):
            state = f"{state} (previous, kept for rollback)"
            notes.append("previous, kept for rollback")
        rows.append(PsRow(name=c.name, service=c.replica.service if c.replica else "", host=c.host,
                          ip=c.ip or "", state=state, ports=", ".join(c.ports), id=c.id,
                          number=c.replica.index if c.replica else None,
                          generation=c.generation, container=c, note="; ".join(notes)))
    rows.sort(key=lambda r: (r.service, r.number or 0, r.name, r.host))
    return rows


def print_ps_table(ctx, rows: Sequence[PsRow]) -> None:
    header = ("NAME", "SERVICE", "HOST", "IP", "STATE", "PORTS")
    table = [header] + [(r.name, r.service, r.host, r.ip, r.state, r.ports) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        ctx.out("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def raise_if_partial(observation, what: str) -> None:
    """Hosts that did not answer make the command's exit status PartialFailure's."""
    down = [(h.host, without_host(h.host, h.error or "unreachable"))
            for h in observation.hosts if not h.reachable]
    if down:
        total = len(observation.hosts)
        raise PartialFailure(f"{what}: {len(down)} of {total} hosts did not answer; the listing is partial",
                             down)


# ---------------------------------------------------------------------------- plan


def print_plan(ctx, plan) -> None:
    """Every action of the plan, one line each, in the order they run (``planner.render``)."""
    for line in render(plan):
        ctx.out(line)


def print_bind_sources(ctx, project) -> None:
    """Which bind sources are shipped from the project directory, and which are the hosts' own paths."""
    from napcompose.shipping.manifest import describe
    from napcompose.shipping.refs import shipped_by_service

    shipped = shipped_by_service(project)
    lines = [line for spec in project.services for line in describe(project, spec, shipped.get(spec.name, ()))]
    if lines:
        ctx.out("Bind sources:")
        for line in lines:
            ctx.out(f"  {line}")


# ---------------------------------------------------------------------------- logs, attach


def _sources(deploy, containers, follow: bool, tail, timestamps: bool) -> List[LogSource]:
    sources = []
    for c in containers:
        if not c.id or c.replica is None:
            continue
        engine = deploy.engines[c.host]
        prefix = f"{c.replica.label}@{c.host}"

        def lines(engine=engine, cid=c.id):
            return engine.logs(cid, follow=follow, tail=tail, timestamps=timestamps)

        sources.append(LogSource(prefix, lines))
    return sources


def attach(ctx, deploy, project, up: Options) -> int:
    """`up` without -d: follow every container's output until Ctrl-C, which stops the project
    (``up``'s services, with its ``-t``)."""
    observation = deploy.orchestrator.ps(project.name, up.services, all=True)
    running = [c for c in observation.containers if c.state == "running" and not c.one_off]
    ctx.err("Attaching to " + ", ".join(c.name for c in running))
    mux = LogMux(_sources(deploy, running, True, None, False))
    _interrupt_on_signals()
    try:
        for line in mux.lines():
            ctx.out(line)
            _flush(ctx)
        return ExitStatus.OK
    except KeyboardInterrupt:
        ctx.err("Gracefully stopping... (press Ctrl+C again to force)")
    try:
        from napcompose.cli.locking import hold_project_lock

        hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
        report = deploy.orchestrator.run(project, attached_stop(up), Command.STOP)
        return ExitStatus.ERROR if report.failed else ExitStatus.OK
    except KeyboardInterrupt:
        ctx.err("Killing...")
        report = deploy.orchestrator.run(project, attached_kill(up), Command.KILL)
        for outcome in report.failed:
            deploy.reporter.warning(f"{outcome.subject}: {outcome.error}")
        return ExitStatus.INTERRUPTED


def _interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM both mean "stop the project", even where the shell set SIGINT to ignore."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding caller): keep its handlers
        pass


def confirm(ctx, question: str) -> bool:
    ctx.stderr.write(question)
    _flush(ctx)
    answer = ctx.stdin.readline() if ctx.stdin is not None else ""
    return answer.strip().lower() in ("y", "yes")


def _flush(ctx) -> None:
    ctx.stdout.flush()
    ctx.stderr.flush()
