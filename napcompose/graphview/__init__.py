"""Drawing the service graph: a frozen layout of services, edges and replicas, as text, dot or SVG.

Everything here is pure: the CLI's ``graph`` command and the dashboard hand in a Project and the
containers they observed, and get strings back. No graphviz: the SVG is laid out by start waves.
"""

from napcompose.graphview.layout import ReplicaNode, ServiceGraph, service_graph
from napcompose.graphview.svg import render_svg
from napcompose.graphview.text import render_dot, render_text

__all__ = ["ReplicaNode", "ServiceGraph", "service_graph", "render_text", "render_dot", "render_svg"]
