"""What ``ps`` prints: one row per container, the table, and the partial listing's error.

Only the observation is read: the marks of older copies come from ``observe.copies``, so listing a
project loads neither the planner nor the executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from napcompose.errors import PartialFailure, without_host
from napcompose.model import ObservedContainer
from napcompose.observe.copies import is_previous, superseded


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
