"""What the deploy commands print: plans, merged logs, the attached `up` (ps tables: ``ps_view``)."""

from __future__ import annotations

from typing import List

from napcompose.errors import ExitStatus
from napcompose.planner import Command, Options, render
from napcompose.adapters.streams import LogMux, LogSource
from napcompose.cli.options import attached_kill, attached_stop


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
