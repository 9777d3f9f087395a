"""Each dashboard view as an HTML fragment, from a Snapshot alone. Pure: no I/O, no clock.

Every value from outside (names, labels, addresses, errors, states) passes through ``h`` before it
reaches the page, and the graph's SVG escapes its own; a label or container can hold markup.
"""

from __future__ import annotations

import time
from html import escape
from typing import Iterable, Mapping, Sequence

from napcompose.dashboard.snapshot import ContainerView, Snapshot
from napcompose.graphview import render_svg

VIEWS = ("containers", "hosts", "graph", "pool", "drift", "events")
TITLES = {"containers": "Containers", "hosts": "Hosts", "graph": "Graph", "pool": "Address pool",
          "drift": "Hosts files", "events": "Events"}
FILTERS = ("project", "service", "host")


def h(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _table(headers: Sequence[str], rows: Iterable[str], cls: str) -> str:
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    body = "".join(rows)
    if not body:
        body = f'<tr class="empty"><td colspan="{len(headers)}">nothing to show</td></tr>'
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _state_badge(state: str, title: str = "") -> str:
    known = state if state in ("running", "exited", "created", "paused", "restarting", "dead") else "unknown"
    tip = f' title="{h(title)}"' if title else ""
    return f'<span class="state state-{known}"{tip}>{h(state)}</span>'


# ---------------------------------------------------------------------------- containers


def chosen(containers: Sequence[ContainerView], filters: Mapping[str, str]) -> list:
    """The containers that match every filter given (project, service, host)."""
    out = []
    for c in containers:
        if all(not filters.get(key) or getattr(c, key) == filters[key] for key in FILTERS):
            out.append(c)
    return sorted(out, key=lambda c: (c.project, c.service, c.index, c.host, c.name))


def containers_view(snapshot: Snapshot, filters: Mapping[str, str]) -> str:
    shown = chosen(snapshot.containers, filters)
    running = sum(1 for c in shown if c.state == "running")
    rows = []
    for c in shown:
        health = f' <span class="health health-{h(c.health)}">{h(c.health)}</span>' if c.health else ""
        rows.append(
            f'<tr data-name="{h(c.name)}" data-host="{h(c.host)}" data-state="{h(c.state)}">'
            f'<td class="name">{h(c.name)}</td><td class="project">{h(c.project)}</td>'
            f'<td class="service">{h(c.service)}</td><td class="host">{h(c.host)}</td>'
            f'<td class="ip">{h(c.ip)}</td><td class="state">{_state_badge(c.state, c.status)}{health}</td>'
            f'<td class="ports">{"<br>".join(h(p) for p in c.ports)}</td><td class="uptime">{h(c.uptime)}</td></tr>')
    active = ", ".join(f"{key} {filters[key]}" for key in FILTERS if filters.get(key))
    summary = f"{len(shown)} containers, {running} running" + (f" (only {active})" if active else "")
    # the filter's choices as of this snapshot, for the page's script to refresh its lists with
    choices = "".join(f'<ul class="choices" hidden data-key="{key}">'
                      + "".join(f"<li>{h(v)}</li>" for v in values) + "</ul>"
                      for key, values in filter_choices(snapshot).items())
    return (f'<p class="summary">{h(summary)}</p>'
            + _table(("Name", "Project", "Service", "Host", "Address", "State", "Ports", "Up"), rows,
                     "containers") + choices)


def filter_choices(snapshot: Snapshot):
    """The values each filter can take, from what the snapshot holds."""
    return {key: sorted({getattr(c, key) for c in snapshot.containers if getattr(c, key)}) for key in FILTERS}


# ---------------------------------------------------------------------------- hosts


def hosts_view(snapshot: Snapshot, filters: Mapping[str, str]) -> str:
    rows = []
    for host in snapshot.hosts:
        if host.reachable:
            reach = '<span class="ok">reachable</span>'
        else:
            reach = f'<span class="bad">unreachable</span> <span class="why">{h(host.error)}</span>'
        labels = " ".join(f'<span class="chip">{h(k)}={h(v)}</span>' for k, v in host.labels)
        rows.append(f'<tr data-host="{h(host.name)}"><td class="name">{h(host.name)}</td><td>{reach}</td>'
                    f'<td class="ip">{h(host.address)}</td><td>{labels}</td><td>{h(host.block or "")}</td>'
                    f'<td class="count">{host.containers}</td></tr>')
    up = sum(1 for x in snapshot.hosts if x.reachable)
    return (f'<p class="summary">{up} of {len(snapshot.hosts)} hosts reachable</p>'
            + _table(("Host", "Reachable", "Address", "Labels", "Block", "Containers"), rows, "hosts"))


# ---------------------------------------------------------------------------- graph


def graph_view(snapshot: Snapshot, filters: Mapping[str, str]) -> str:
    if snapshot.project is None:
        return ('<p class="summary">No compose file is loaded. Start the dashboard in the project\'s '
                'directory, or with <code>-f FILE</code>, to draw its services and where their replicas run.</p>')
    if snapshot.graph is None:
        return f'<p class="summary bad">{h(snapshot.project)}: {h(snapshot.graph_error)}</p>'
    graph = snapshot.graph
    edges = ", ".join(f"{e.consumer} \u2192 {e.dependency}" for e in graph.edges) or "no links"
    legend = " ".join(_state_badge(s) for s in ("running", "exited", "created", "unknown"))
    return (f'<p class="summary">Project {h(graph.project)}: {len(graph.services)} services, '
            f'{len(graph.replicas)} containers; {h(edges)}</p>'
            f'<div class="graph">{render_svg(graph)}</div><p class="legend">Arrows point from a service to '
            f'what it needs (dashed: not a link). Replica colours: {legend}</p>')


# ---------------------------------------------------------------------------- pool


def pool_view(snapshot: Snapshot, filters: Mapping[str, str]) -> str:
    pool = snapshot.pool
    if pool.error:
        return f'<p class="summary bad">The address store did not answer: {h(pool.error)}</p>'
    percent = 100.0 * pool.used / pool.size if pool.size else 0.0
    parts = [f'<p class="summary">{pool.used} of {pool.size} addresses used, {pool.free} free '
             f'(pool {h(pool.ranges)})</p>',
             _bar(percent),
             '<div class="columns"><div>', "<h3>By host</h3>",
             _table(("Host", "Addresses"), (f"<tr><td>{h(k)}</td><td>{n}</td></tr>" for k, n in pool.by_host),
                    "by-host"),
             "</div><div><h3>By project</h3>",
             _table(("Project", "Addresses"), (f"<tr><td>{h(k)}</td><td>{n}</td></tr>" for k, n in pool.by_project),
                    "by-project"), "</div>"]
    if pool.blocks:
        parts += ["<div><h3>Host blocks</h3>",
                  _table(("Host", "Block"), (f"<tr><td>{h(k)}</td><td>{h(b)}</td></tr>" for k, b in pool.blocks),
                         "blocks"), "</div>"]
    parts.append("</div><h3>Allocations</h3>")
    parts.append(_table(("Address", "Owner", "Host", "State", "Since"),
                        (f'<tr data-ip="{h(a.ip)}"><td class="ip">{h(a.ip)}</td><td>{h(a.owner)}</td>'
                         f'<td>{h(a.host or "-")}</td><td>{h(a.state)}</td><td>{h(when(a.since))}</td></tr>'
                         for a in pool.allocations), "allocations"))
    return "".join(parts)


def _bar(percent: float) -> str:
    """A usage bar drawn in SVG: the page's policy allows no inline style."""
    width = max(0.0, min(100.0, percent))
    return (f'<svg class="bar" viewBox="0 0 100 4" preserveAspectRatio="none" role="img" '
            f'aria-label="{width:.1f}% used"><rect width="100" height="4" fill="#e0e0e0"/>'
            f'<rect width="{width:.2f}" height="4" fill="#1565c0"/></svg>')


# ---------------------------------------------------------------------------- drift


def drift_view(snapshot: Snapshot, filters: Mapping[str, str]) -> str:
    drift = snapshot.drift
    if drift.project is None:
        return ('<p class="summary">No compose file is loaded, so there is no plan to compare the hosts files '
                'with. Start the dashboard in the project\'s directory, or with <code>-f FILE</code>.</p>')
    if drift.error:
        return f'<p class="summary bad">{h(drift.project)}: {h(drift.error)}</p>'
    warnings = "".join(f'<li class="warning">{h(w)}</li>' for w in drift.warnings)
    warnings = f"<ul>{warnings}</ul>" if warnings else ""
    if not drift.drifts:
        return f'<p class="summary ok">All hosts files of {h(drift.project)} are in sync.</p>{warnings}'
    rows = (f'<tr><td class="name">{h(name)}</td><td>{h(host)}</td><td>{h(what)}</td></tr>'
            for name, host, what in drift.drifts)
    return (f'<p class="summary bad">{len(drift.drifts)} hosts file(s) of {h(drift.project)} differ from the '
            f'plan; <code>nap-compose hosts sync</code> rewrites them.</p>'
            + _table(("Container", "Host", "Difference"), rows, "drift") + warnings)


# ---------------------------------------------------------------------------- events


def events_view(snapshot: Snapshot, filters: Mapping[str, str], limit: int = 100) -> str:
    shown = list(reversed(snapshot.events))[:limit]
    rows = []
    for e in shown:
        owner = f"{e.replica.project} / {e.replica.service}" if e.replica else ""
        code = "" if e.exit_code is None else str(e.exit_code)
        rows.append(f'<tr data-name="{h(e.name)}" data-action="{h(e.action)}"><td>{h(when(e.time))}</td>'
                    f'<td>{h(e.host)}</td><td class="name">{h(e.name)}</td><td>{h(owner)}</td>'
                    f'<td class="action action-{h(e.action)}">{h(e.action)}</td><td>{h(code)}</td></tr>')
    notes = "".join(f'<li class="warning">{h(n)}</li>' for n in snapshot.notes)
    return (f'<p class="summary">The latest {len(shown)} container starts, stops and deaths on every host, '
            f'newest first</p>' + (f"<ul>{notes}</ul>" if notes else "")
            + _table(("Time", "Host", "Container", "Project / service", "Event", "Exit code"), rows, "events")
            + _healing_table(snapshot, limit))


def _healing_table(snapshot: Snapshot, limit: int) -> str:
    """What the reconciler (``nap-compose watch``) did and why, newest first; nothing when it did nothing."""
    if not snapshot.healing:
        return ""
    rows = [f'<tr data-project="{h(project)}"><td>{h(when(e.time))}</td><td>{h(project)}</td>'
            f'<td class="action">{h(e.kind)}</td><td class="name">{h(e.subject)}</td><td>{h(e.why)}</td>'
            f'<td>{h(e.by)}</td></tr>' for project, e in list(reversed(snapshot.healing))[:limit]]
    return ('<p class="summary">What the reconciler did, and why, newest first</p>'
            + _table(("Time", "Project", "What", "Subject", "Why", "By"), rows, "healing"))


RENDERERS = {"containers": containers_view, "hosts": hosts_view, "graph": graph_view, "pool": pool_view,
             "drift": drift_view, "events": events_view}


def fragment(snapshot: Snapshot, view: str, filters: Mapping[str, str]) -> str:
    """The content of one view; raises KeyError for a view that does not exist."""
    return RENDERERS[view](snapshot, filters)
