"""`nap-compose graph`: the services' links and depends_on as text, dot or SVG, with the replicas and
their hosts when the project is up."""

from __future__ import annotations

import os

from napcompose.cli.common import cluster_path, load_project


def cmd_graph(args, ctx) -> int:
    from napcompose.graphview import render_dot, render_svg, render_text, service_graph

    project = load_project(ctx)
    service_graph(project, (), args.services)  # unknown services and cycles fail before any host is asked
    containers, hosts = (), ()
    if not args.no_hosts and os.path.exists(cluster_path(ctx)):
        from napcompose.cli.deploy_wiring import deploy_for

        deploy = deploy_for(ctx)
        observation = deploy.orchestrator.ps(project.name)
        for status in observation.unreachable:
            ctx.err(f"WARNING: {status.error or status.host + ': unreachable'}; its replicas are not shown")
        containers = observation.containers
        if containers:
            hosts = tuple(h.name for h in deploy.cluster.hosts)
    graph = service_graph(project, containers, args.services, hosts)
    render = {"text": render_text, "dot": render_dot, "svg": render_svg}[args.format]
    ctx.stdout.write(render(graph))
    return 0


def register(sub) -> None:
    p = sub.add_parser("graph", help="the services' dependency graph (links, depends_on, ...) with replicas "
                                     "and their hosts when the project is up")
    p.add_argument("--format", choices=("text", "dot", "svg"), default="text",
                   help="text for a terminal (default), dot for graphviz, svg for a browser")
    p.add_argument("--no-hosts", action="store_true", help="draw the services only; ask no host")
    p.add_argument("services", nargs="*", metavar="SERVICE", help="these services and what they need")
    p.set_defaults(func=cmd_graph)
