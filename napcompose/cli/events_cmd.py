"""``events``: the project's container events from every host as they happen, each naming its host.

The lines are docker compose's (``2026-12-06 11:00:00.000000 container start <id> (image=..., name=...)``,
with ``host=`` among the attributes); ``--json`` prints docker compose's objects with a ``host`` key.
``--since``/``--until`` replay what the engines kept (with ``--until`` the command ends by itself).
"""

from __future__ import annotations

import json
import queue
import threading
from datetime import datetime, timezone

from napcompose.cli.common import check_services, load_project
from napcompose.cli.session import session_of
from napcompose.cli.timespec import moment
from napcompose.errors import ExitStatus, NapComposeError, PartialFailure, UsageError, without_host

_SHOWN = ("image", "name")  # the attributes docker compose prints
_DONE = object()


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def event_line(event) -> str:
    attributes = dict(event.attributes)
    shown = [f"{k}={attributes[k]}" for k in _SHOWN if k in attributes] + [f"host={event.host}"]
    return f"{_stamp(event.time)} container {event.action} {event.container_id} ({', '.join(shown)})"


def event_json(event) -> str:
    attributes = dict(event.attributes)
    return json.dumps({"time": datetime.fromtimestamp(event.time, timezone.utc).isoformat(),
                       "type": "container", "action": event.action, "id": event.container_id,
                       "service": event.replica.service if event.replica else "",
                       "host": event.host,
                       "attributes": {k: attributes[k] for k in _SHOWN if k in attributes}}, sort_keys=True)


def cmd_events(args, ctx) -> int:
    project = load_project(ctx)
    services = set(check_services(project, args.services))
    now = ctx.wiring.clock().now()
    since = moment("--since", args.since, now) if args.since is not None else None
    until = moment("--until", args.until, now) if args.until is not None else None
    if since is not None and until is not None and until < since:
        raise UsageError(f"--until {args.until} is before --since {args.since}")
    session = session_of(ctx)
    engines = session.engines
    hosts = [h.name for h in session.cluster.hosts]
    found: "queue.Queue" = queue.Queue()
    failures = []

    def watch(host: str) -> None:
        try:
            for event in engines[host].watch_events(project.name, since, until):
                found.put(event)
        except NapComposeError as exc:
            failures.append((host, without_host(host, str(exc))))
        finally:
            found.put(_DONE)

    for host in hosts:  # one reader per host: a stream only ends with --until
        threading.Thread(target=watch, args=(host,), daemon=True, name=f"events-{host}").start()
    remaining, pending = len(hosts), []
    try:
        while remaining:
            item = found.get()
            if item is _DONE:
                remaining -= 1
                continue
            if services and (item.replica is None or item.replica.service not in services):
                continue
            if until is not None:  # a replay: in time order across hosts once every host has answered
                pending.append(item)
                continue
            ctx.out(event_json(item) if args.json else event_line(item))
            ctx.stdout.flush()
    except KeyboardInterrupt:
        return ExitStatus.OK
    for item in sorted(pending, key=lambda e: (e.time, e.host)):
        ctx.out(event_json(item) if args.json else event_line(item))
    if failures:
        raise PartialFailure(f"events: {len(failures)} of {len(hosts)} hosts did not answer", sorted(failures))
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("events", help="the project's container events from every host, each with its host")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p.add_argument("--since", default=None, metavar="TIME",
                   help="replay events since TIME (a Unix time, an RFC 3339 date or a duration back: 10m)")
    p.add_argument("--until", default=None, metavar="TIME", help="stop at TIME (then the command ends by itself)")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_events)
