"""``nap-compose build``: build the images of services with ``build:`` and put them on every host.

There is no registry between the hosts: by default an image is built once, on the first host of
the cluster file, and copied to the others through the Docker API (save → load, streamed);
``--strategy build-each`` builds it on every host instead.
"""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.cli.common import load_cluster, load_project
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.imagecheck import DEFAULT_STRATEGY, STRATEGIES, select_services


def cmd_build(args, ctx) -> int:
    from napcompose.adapters.images import distribute
    from napcompose.cli.deploy_wiring import CliReporter

    project = load_project(ctx)
    buildable, skipped = select_services(project, args.services)
    cluster = load_cluster(ctx) if buildable else None
    for name in skipped:
        ctx.err(f"{name} uses an image, skipping")
    if not buildable:
        return ExitStatus.OK
    hosts = [host.name for host in cluster.hosts]
    accept = bool(ctx.args.accept_new_host_keys or cluster.accept_new_host_keys)
    connections = ctx.wiring.connections(cluster, accept_new_host_keys=accept)
    ctx.on_close(connections.close)
    hold_project_lock(ctx, project.name, cluster)  # putting images on the hosts changes what up finds
    distribute(connections.docker, project, buildable, hosts, CliReporter(ctx),
               strategy=args.strategy, no_cache=args.no_cache)
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("build", help="build the images of services with build: and put them on every host")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true",
                   help="accepted for docker-compose compatibility; ignored (no registry is used)")
    p.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                   help=f"build once and copy to the other hosts, or build on each host (default {DEFAULT_STRATEGY})")
    add_wait_option(p)
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_build)
