"""``ps --format json`` as ``docker compose ps`` (v2.21 and later) prints it, and ``ps``'s status filters.

One JSON object per line (JSON Lines), keys sorted as v2 sorts them, with v2's names and value types,
so ``jq`` scripts written against ``docker compose`` read it: ``State`` is Docker's state alone
(``running``, ``exited``…), ``Health`` apart from it (``""``, ``healthy``, ``unhealthy``, ``starting``),
``Publishers`` a list of objects. The cluster adds ``Host``, ``IP``, ``Generation``, ``Number`` (the
replica's index) and ``Note`` (what nap-compose knows besides Docker's state: an unreachable host, a
superseded copy, a container kept for a rollback; ``""`` otherwise).

Where v2's values cannot be had: ``Size`` is ``"0B"``, as v2 prints it too (it never asks Docker for
sizes); ``ID``, ``Command`` and ``Mounts`` are not truncated. A container a silent host may hold
(known from the address book only) has ``State`` ``unknown`` or ``stranded`` and empty Docker fields.
"""

from __future__ import annotations

import json
import time
from typing import Dict, List, Optional, Sequence

from napcompose.errors import UsageError

# The states ``docker compose ps --status`` accepts.
STATUSES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")


def publishers(ports: Sequence[str]) -> List[Dict[str, object]]:
    """v2's ``Publishers`` from the rendered ports (``0.0.0.0:8080->80/tcp``, ``80/tcp``)."""
    found = []
    for port in ports:
        published, _, inner = port.rpartition("->")
        target, _, protocol = inner.partition("/")
        url, _, public = published.rpartition(":") if published else ("", "", "")
        found.append({"URL": url, "TargetPort": _number(target), "PublishedPort": _number(public),
                      "Protocol": protocol or "tcp"})
    return found


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0


def human_duration(seconds: float) -> str:
    """How long ago, in the words Docker's ``RunningFor`` uses (go-units HumanDuration)."""
    seconds = int(seconds)
    minutes, hours = seconds // 60, seconds // 3600
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def created_at(created: int) -> str:
    """Go's ``time.Unix(created).String()``, in UTC (the operator machine's zone is no host's)."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created))


def ps_object(row, project: str, now: float) -> Dict[str, object]:
    """The JSON object of one ``ps`` row (cli.ps_view.PsRow)."""
    c = row.container
    labels = dict(c.labels)
    ports = list(c.ports)
    return {
        "Command": json.dumps(c.command) if c.command else "",  # quoted, as v2's strconv.Quote
        "Created": c.created,
        "CreatedAt": created_at(c.created) if c.created else "",
        "ExitCode": c.exit_code or 0,
        "Health": c.health or "",
        "ID": c.id,
        "Image": c.image or "",
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": str(c.local_volumes),
        "Mounts": ",".join(c.mounts),
        "Name": c.name,
        "Names": c.name,
        "Networks": ",".join(c.networks),
        "Ports": ", ".join(ports),
        "Project": c.replica.project if c.replica else project,
        "Publishers": publishers(ports),
        "RunningFor": f"{human_duration(now - c.created)} ago" if c.created else "",
        "Service": row.service,
        "Size": "0B",
        "State": c.state,
        "Status": c.status,
        # the cluster's own
        "Host": row.host,
        "IP": row.ip,
        "Generation": row.generation,
        "Number": row.number,
        "Note": row.note,
    }


def print_ps_json(ctx, rows, project: str, now: Optional[float] = None) -> None:
    """One object per line, keys sorted, as v2 prints them."""
    now = time.time() if now is None else now
    for row in rows:
        ctx.out(json.dumps(ps_object(row, project, now), sort_keys=True))


def wanted_statuses(statuses: Sequence[str], filters: Sequence[str]) -> Sequence[str]:
    """The states ``--status S`` (repeatable) and ``--filter status=S`` keep; empty keeps every row.

    A filter other than ``status``, or a state Docker has no name for, is a usage error naming it."""
    wanted = list(statuses)
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"ps --filter '{item}': expected KEY=VALUE, e.g. status=running")
        if key.strip() != "status":
            raise UsageError(f"ps --filter '{item}': unknown filter '{key.strip()}' (supported: status)")
        wanted.append(value.strip())
    for status in wanted:
        if status not in STATUSES:
            raise UsageError(f"ps: invalid status '{status}' (choose from {', '.join(STATUSES)})")
    return tuple(dict.fromkeys(wanted))
