"""What the deploy commands print: ps tables, plans, merged logs, exec output, the attached `up`."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence

from napcompose.errors import PartialFailure
from napcompose.model import ObservedContainer, Replica
from napcompose.adapters.streams import LogMux, LogSource


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


def _unknown_rows(deploy, project, observation, services) -> List[ObservedContainer]:
    """Containers an unreachable host should hold, known from their address allocations."""
    down = {h.host: h.error or "unreachable" for h in observation.hosts if not h.reachable}
    if not down:
        return []
    seen = {(c.replica, c.host) for c in observation.containers}
    rows = []
    try:
        allocations = deploy.ipam.allocations()
    except Exception as exc:  # the store failing must not hide what the hosts said
        deploy.reporter.warning(f"could not read the address store: {exc}")
        return []
    for alloc in allocations:
        parts = alloc.owner.split("/")
        if len(parts) != 3 or parts[0] != project.name or not parts[2].isdigit():
            continue
        replica = Replica(parts[0], parts[1], int(parts[2]))
        if alloc.host not in down or (replica, alloc.host) in seen:
            continue
        if services and replica.service not in services:
            continue
        rows.append(ObservedContainer(host=alloc.host, id="", name=replica.name, replica=replica,
                                      config_hash=None, state="unknown", ip=alloc.ip))
    return rows


def ps_rows(deploy, project, observation, services: Sequence[str], include_one_off: bool) -> List[PsRow]:
    down = {h.host: h.error or "unreachable" for h in observation.hosts if not h.reachable}
    containers = list(observation.containers)
    containers += _unknown_rows(deploy, project, observation, services)
    rows = []
    for c in containers:
        if c.one_off and not include_one_off:
            continue
        if services and (c.replica is None or c.replica.service not in services):
            continue
        state = c.state
        if state == "unknown" and c.host in down:
            state = f"unknown ({_without_host(c.host, down[c.host])})"
        elif c.health and state == "running":
            state = f"running ({c.health})"
        rows.append(PsRow(name=c.name, service=c.replica.service if c.replica else "", host=c.host,
                          ip=c.ip or "", state=state, ports=", ".join(c.ports), id=c.id,
                          number=c.replica.index if c.replica else None))
    rows.sort(key=lambda r: (r.service, r.number or 0, r.name, r.host))
    return rows


def print_ps_table(ctx, rows: Sequence[PsRow]) -> None:
    header = ("NAME", "SERVICE", "HOST", "IP", "STATE", "PORTS")
    table = [header] + [(r.name, r.service, r.host, r.ip, r.state, r.ports) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        ctx.out("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def print_ps_json(ctx, rows: Sequence[PsRow]) -> None:
    ctx.out(json.dumps([asdict(r) for r in rows], indent=2))


def raise_if_partial(observation, what: str) -> None:
    """Hosts that did not answer make the command's exit status PartialFailure's."""
    down = [(h.host, _without_host(h.host, h.error or "unreachable"))
            for h in observation.hosts if not h.reachable]
    if down:
        total = len(observation.hosts)
        raise PartialFailure(f"{what}: {len(down)} of {total} hosts did not answer; the listing is partial",
                             down)


def _without_host(host: str, error: str) -> str:
    return error[len(host) + 2:] if error.startswith(f"{host}: ") else error


# ---------------------------------------------------------------------------- plan


def print_preview(ctx, preview) -> None:
    """One block per container: host, address, action with its reason, then its hosts lines."""
    for line in preview_lines(preview):
        ctx.out(line)


def print_bind_sources(ctx, project) -> None:
    """Which bind sources are shipped from the project directory, and which are the hosts' own paths."""
    from napcompose.shipping import describe, shipped_by_service

    shipped = shipped_by_service(project)
    lines = [line for spec in project.services for line in describe(project, spec, shipped.get(spec.name, ()))]
    if lines:
        ctx.out("Bind sources:")
        for line in lines:
            ctx.out(f"  {line}")


def preview_lines(preview) -> List[str]:
    render = getattr(preview, "render", None)
    if callable(render):
        text = render()
        return text.splitlines() if isinstance(text, str) else list(text)
    return [str(preview)]


# ---------------------------------------------------------------------------- logs, attach, exec


def _sources(deploy, containers, follow: bool, tail, timestamps: bool) -> List[LogSource]:
    sources = []
    for c in containers:
        if not c.id or c.replica is None:
            continue
        engine = deploy.engines[c.host]
        prefix = f"{c.replica.service}_{c.replica.index}@{c.host}"

        def lines(engine=engine, cid=c.id):
            return engine.logs(cid, follow=follow, tail=tail, timestamps=timestamps)

        sources.append(LogSource(prefix, lines))
    return sources


def print_logs(ctx, deploy, observation, follow: bool, tail, timestamps: bool) -> None:
    containers = [c for c in observation.containers if not c.one_off]
    if not follow:
        # Whole logs, container after container: stable output that reads like a file.
        for source in _sources(deploy, containers, False, tail, timestamps):
            for line in source.lines():
                ctx.out(f"{source.prefix} | {line}")
        return
    mux = LogMux(_sources(deploy, containers, True, tail, timestamps))
    try:
        for line in mux.lines():
            ctx.out(line)
            _flush(ctx)
    except KeyboardInterrupt:
        pass


def attach(ctx, deploy, project, services, timeout: int) -> int:
    """`up` without -d: follow every container's output until Ctrl-C, which stops the project."""
    observation = deploy.orchestrator.ps(project.name, services, all=True)
    running = [c for c in observation.containers if c.state == "running" and not c.one_off]
    ctx.err("Attaching to " + ", ".join(c.name for c in running))
    mux = LogMux(_sources(deploy, running, True, None, False))
    _interrupt_on_signals()
    try:
        for line in mux.lines():
            ctx.out(line)
            _flush(ctx)
        return 0
    except KeyboardInterrupt:
        ctx.err("Gracefully stopping... (press Ctrl+C again to force)")
    try:
        report = deploy.orchestrator.stop(project, services, timeout)
        return 1 if report.failed else 0
    except KeyboardInterrupt:
        ctx.err("Killing...")
        _kill(deploy, running)
        return 130


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


def _kill(deploy, containers) -> None:
    threads = []
    for c in containers:
        engine = deploy.engines[c.host]
        kill = getattr(engine, "kill_container", None)

        def run(engine=engine, cid=c.id, kill=kill):
            try:
                kill(cid) if kill else engine.stop_container(cid, timeout=0)
            except Exception as exc:
                deploy.reporter.warning(str(exc))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=30)


def run_exec(ctx, engine, container_id: str, command, tty: bool) -> int:
    def write(chunk: bytes) -> None:
        ctx.stdout.write(chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk)
        _flush(ctx)

    return engine.exec(container_id, command, tty=tty, write=write)


def confirm(ctx, question: str) -> bool:
    stdin = getattr(ctx, "stdin", None) or sys.stdin
    ctx.stderr.write(question)
    _flush(ctx)
    answer = stdin.readline() if stdin is not None else ""
    return answer.strip().lower() in ("y", "yes")


def _flush(ctx) -> None:
    for stream in (ctx.stdout, ctx.stderr):
        flush = getattr(stream, "flush", None)
        if flush:
            flush()
