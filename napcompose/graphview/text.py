"""The service graph for a terminal (text) and for graphviz (dot)."""

from __future__ import annotations

from typing import List

from napcompose.graphview.layout import ServiceGraph


def render_text(graph: ServiceGraph) -> str:
    """One paragraph per service, consumers first: what it needs, then its replicas and their hosts."""
    lines: List[str] = []
    for service in graph.services:
        needs = ", ".join(f"{e.dependency} ({', '.join(e.kinds)})" for e in graph.edges_from(service))
        lines.append(f"{service} -> {needs}" if needs else service)
        replicas = graph.replicas_of(service)
        rows = [(r.label, r.host, r.ip or "-", r.state) for r in replicas]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
        for row in rows:
            lines.append("    " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    lines.append("")
    lines.append("start order: " + "; ".join(", ".join(wave) for wave in graph.waves))
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """A dot ID in double quotes: backslash and quote escaped, line breaks dropped."""
    cleaned = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'"{cleaned}"'


def render_dot(graph: ServiceGraph) -> str:
    """A graphviz digraph: services with their edges, each host a cluster of the replicas it runs."""
    out = [f"digraph {_quote(graph.project)} {{", "  rankdir=LR;", "  node [shape=box, fontname=sans];"]
    for service in graph.services:
        out.append(f"  {_quote(service)} [style=bold];")
    for edge in graph.edges:
        out.append(f"  {_quote(edge.consumer)} -> {_quote(edge.dependency)} "
                   f"[label={_quote(', '.join(edge.kinds))}];")
    for number, host in enumerate(graph.hosts):
        nodes = [r for r in graph.replicas if r.host == host]
        if not nodes:
            continue
        out.append(f"  subgraph {_quote(f'cluster_{number}')} {{")
        out.append(f"    label={_quote(host)};")
        for node in nodes:
            # the label's line break is dot's own escape; only the values from outside are quoted
            text = _quote(node.label)[:-1] + "\\n" + _quote(f"{node.ip or '-'} ({node.state})")[1:]
            out.append(f"    {_quote(node.replica.name)} [label={text}, shape=ellipse];")
        out.append("  }")
    for node in graph.replicas:
        out.append(f"  {_quote(node.replica.service)} -> {_quote(node.replica.name)} [style=dashed, arrowhead=none];")
    out.append("}")
    return "\n".join(out) + "\n"
