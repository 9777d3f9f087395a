"""The service graph as a self-contained SVG, laid out by start waves, one lane per host.

Columns hold services, consumers on the left and what they need on the right, so every arrow points
right and arcs above the row of service boxes. Below it, one horizontal lane per host; each replica
sits in its service's column and its host's lane. Every string from outside (service, host, address,
state, project) is XML-escaped: a label can hold markup.
"""

from __future__ import annotations

from html import escape
from typing import Dict, List

from napcompose.graphview.layout import ServiceGraph

LANE_LABEL_W = 120
COLUMN_W = 190
BOX_W = 164
SERVICE_H = 40
REPLICA_H = 38
GAP = 8
MARGIN = 16
CHAR_W = 7.0  # about one character of the 12 px sans-serif font

STATE_COLOURS = {"running": ("#e3f5e1", "#2e7d32"), "exited": ("#fdecea", "#c62828"),
                 "dead": ("#fdecea", "#c62828"), "created": ("#eceff1", "#546e7a"),
                 "paused": ("#fff8e1", "#f9a825"), "restarting": ("#fff8e1", "#f9a825")}
UNKNOWN_COLOURS = ("#f3e5f5", "#6a1b9a")


def _x(text) -> str:
    return escape(str(text), quote=True)


def _fit(text: str, width: float, char_w: float = CHAR_W) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels; the full text goes in a <title>."""
    room = max(3, int(width / char_w))
    return text if len(text) <= room else text[:room - 1] + "\u2026"


def _arc_height(span: int) -> int:
    return 16 + 14 * (span - 1)


def render_svg(graph: ServiceGraph) -> str:
    columns = {name: number for number, name in enumerate(graph.services)}
    spans = [columns[e.dependency] - columns[e.consumer] for e in graph.edges]
    top = MARGIN + (max(_arc_height(s) for s in spans) if spans else 0) + 6
    x0 = MARGIN + LANE_LABEL_W

    def centre(service: str) -> float:
        return x0 + columns[service] * COLUMN_W + BOX_W / 2

    # Lane heights: enough rows for the most replicas one service has on that host.
    rows_on: Dict[str, int] = {h: 1 for h in graph.hosts}
    for host in graph.hosts:
        for service in graph.services:
            count = sum(1 for r in graph.replicas if r.host == host and r.replica.service == service)
            rows_on[host] = max(rows_on[host], count)
    lane_top: Dict[str, float] = {}
    y = top + SERVICE_H + 2 * GAP
    for host in graph.hosts:
        lane_top[host] = y
        y += rows_on[host] * (REPLICA_H + GAP) + GAP
    width = x0 + max(1, len(graph.services)) * COLUMN_W + MARGIN
    height = y + MARGIN

    out: List[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="service-graph" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" '
        f'font-size="12" role="img" aria-label="{_x("service graph of " + graph.project)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#37474f"/></marker></defs>',
    ]
    # host lanes first, so that everything else is drawn over them
    for number, host in enumerate(graph.hosts):
        fill = "#f7f9fb" if number % 2 == 0 else "#eef2f5"
        lane_h = rows_on[host] * (REPLICA_H + GAP) + GAP
        out.append(f'<g class="lane" data-host="{_x(host)}">'
                   f'<rect x="{MARGIN}" y="{lane_top[host] - GAP / 2:.0f}" width="{width - 2 * MARGIN:.0f}" '
                   f'height="{lane_h:.0f}" fill="{fill}" stroke="#cfd8dc"/>'
                   f'<text x="{MARGIN + 8}" y="{lane_top[host] + REPLICA_H / 2 + 4:.0f}" font-weight="bold" '
                   f'fill="#37474f"><title>{_x(host)}</title>{_x(_fit(host, LANE_LABEL_W - 16))}</text></g>')
    # service boxes, and a guide line down their column
    for service in graph.services:
        left = x0 + columns[service] * COLUMN_W
        if graph.hosts:
            out.append(f'<line x1="{centre(service):.0f}" y1="{top + SERVICE_H}" x2="{centre(service):.0f}" '
                       f'y2="{height - MARGIN:.0f}" stroke="#b0bec5" stroke-dasharray="3,4"/>')
        count = len(graph.replicas_of(service))
        caption = f"{count} replica" + ("" if count == 1 else "s") if graph.hosts else ""
        out.append(f'<g class="service" data-service="{_x(service)}"><title>{_x(service)}</title>'
                   f'<rect x="{left}" y="{top}" width="{BOX_W}" height="{SERVICE_H}" rx="6" fill="#e3f2fd" '
                   f'stroke="#1565c0" stroke-width="1.5"/>'
                   f'<text x="{left + BOX_W / 2:.0f}" y="{top + 17}" text-anchor="middle" font-weight="bold">'
                   f'{_x(_fit(service, BOX_W - 10))}</text>'
                   f'<text x="{left + BOX_W / 2:.0f}" y="{top + 32}" text-anchor="middle" fill="#546e7a" '
                   f'font-size="10">{_x(caption)}</text></g>')
    # edges: arcs from the consumer's top to the dependency's top, spread a little at both ends
    outgoing: Dict[str, int] = {}
    incoming: Dict[str, int] = {}
    for edge, span in zip(graph.edges, spans):
        k_out = outgoing[edge.consumer] = outgoing.get(edge.consumer, -1) + 1
        k_in = incoming[edge.dependency] = incoming.get(edge.dependency, -1) + 1
        x1 = centre(edge.consumer) + 8 + 10 * k_out
        x2 = centre(edge.dependency) - 8 - 10 * k_in
        lift = _arc_height(span)
        title = f"{edge.consumer} \u2192 {edge.dependency} ({', '.join(edge.kinds)})"
        dashed = "" if "link" in edge.kinds else ' stroke-dasharray="6,3"'
        out.append(f'<g class="edge" data-from="{_x(edge.consumer)}" data-to="{_x(edge.dependency)}">'
                   f'<title>{_x(title)}</title><path d="M{x1:.0f},{top} C{x1:.0f},{top - lift} '
                   f'{x2:.0f},{top - lift} {x2:.0f},{top}" fill="none" stroke="#37474f" stroke-width="1.5"'
                   f'{dashed} marker-end="url(#arrow)"/></g>')
    # replicas, in their service's column and their host's lane
    placed: Dict[tuple, int] = {}
    for node in graph.replicas:
        if node.host not in lane_top or node.replica.service not in columns:
            continue
        slot = placed[(node.host, node.replica.service)] = placed.get((node.host, node.replica.service), -1) + 1
        left = x0 + columns[node.replica.service] * COLUMN_W + 6
        ry = lane_top[node.host] + slot * (REPLICA_H + GAP)
        fill, stroke = STATE_COLOURS.get(node.state, UNKNOWN_COLOURS)
        title = f"{node.replica.name} on {node.host} ({node.ip or 'no address'}): {node.state}"
        second = (node.ip or "-") + " \u00b7 " + node.state
        out.append(f'<g class="replica" data-replica="{_x(node.replica.name)}" data-host="{_x(node.host)}" '
                   f'data-state="{_x(node.state)}"><title>{_x(title)}</title>'
                   f'<rect x="{left}" y="{ry:.0f}" width="{BOX_W - 12}" height="{REPLICA_H}" rx="4" '
                   f'fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{left + 8}" y="{ry + 15:.0f}" font-weight="bold">{_x(_fit(node.label, BOX_W - 28))}</text>'
                   f'<text x="{left + 8}" y="{ry + 30:.0f}" font-size="11" fill="#37474f">'
                   f'{_x(_fit(second, BOX_W - 24, 6.0))}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
