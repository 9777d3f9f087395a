"""``logs``: the containers' output from every host, each line prefixed with its replica and host.

Flags follow docker compose: ``-f``, ``--tail``/``-n``, ``-t``, ``--since``, ``--until``,
``--no-log-prefix``. Everything is checked before a host is asked.
"""

from __future__ import annotations

from napcompose.adapters.streams import LogMux, LogSource
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for
from napcompose.cli.options import whole_seconds
from napcompose.cli.ps_view import raise_if_partial
from napcompose.cli.timespec import moment
from napcompose.errors import ExitStatus, UsageError


def _window(args, now: float) -> dict:
    """The ``since``/``until`` keywords for the engine, only those given (epoch seconds)."""
    window = {}
    if args.since is not None:
        window["since"] = moment("--since", args.since, now)
    if args.until is not None:
        window["until"] = moment("--until", args.until, now)
    if "since" in window and "until" in window and window["until"] < window["since"]:
        raise UsageError(f"--until {args.until} is before --since {args.since}")
    return window


def _sources(deploy, containers, follow: bool, tail, timestamps: bool, window: dict):
    sources = []
    for c in containers:
        engine = deploy.engines[c.host]

        def lines(engine=engine, cid=c.id):
            return engine.logs(cid, follow=follow, tail=tail, timestamps=timestamps, **window)

        sources.append(LogSource(f"{c.replica.label}@{c.host}", lines))
    return sources


def cmd_logs(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    tail = None if args.tail in (None, "all") else whole_seconds(args.tail)
    window = _window(args, ctx.wiring.clock().now())
    deploy = deploy_for(ctx)
    observation = deploy.orchestrator.ps(project.name, services, all=True)
    containers = [c for c in observation.containers if not c.one_off and c.id and c.replica is not None]
    sources = _sources(deploy, containers, args.follow, tail, args.timestamps, window)
    prefixed = not args.no_log_prefix
    if not args.follow:
        # Whole logs, container after container: stable output that reads like a file.
        for source in sources:
            for line in source.lines():
                ctx.out(f"{source.prefix} | {line}" if prefixed else line)
    else:
        try:
            for line in LogMux(sources, prefixed=prefixed).lines():
                ctx.out(line)
                ctx.stdout.flush()
        except KeyboardInterrupt:
            pass
    raise_if_partial(observation, "logs")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("logs", help="show the containers' output, from every host")
    p.add_argument("-f", "--follow", action="store_true", help="follow the output")
    p.add_argument("-n", "--tail", default=None, metavar="N", help="lines from the end of each container's log")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("--since", default=None, metavar="TIME",
                   help="only lines since TIME: a Unix time, an RFC 3339 date or a duration back (10m, 1h30m)")
    p.add_argument("--until", default=None, metavar="TIME", help="only lines before TIME (same forms as --since)")
    p.add_argument("--no-log-prefix", action="store_true", help="don't prefix lines with replica@host")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_logs)
