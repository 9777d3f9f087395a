"""``nap-compose network create``: the cluster's flat br0 network on every host."""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.cli.common import load_cluster


def register(subparsers) -> None:
    network = subparsers.add_parser("network", help="the cluster's flat network on every host",
                                    description="Manage the flat bridge network every host of the cluster shares.")
    sub = network.add_subparsers(dest="network_command", metavar="NETWORK_COMMAND")
    network.set_defaults(func=lambda args, ctx: (network.print_help(ctx.stdout), 2)[1])
    create = sub.add_parser(
        "create", help="create the network on every host where it is missing; report drift where it differs",
        description="On every host of the cluster file, create the Docker bridge network whose Linux bridge is "
                    "the cluster's bridge (subnet, gateway = the host's address, the router as the containers' "
                    "default gateway, no masquerade). An existing network is compared, never removed or "
                    "recreated. The host's NIC must be bridged into the bridge by the host's own network "
                    "configuration (see README).")
    create.set_defaults(func=_create)


def _create(args, ctx) -> int:
    cluster = load_cluster(ctx)
    connections = ctx.wiring.connections(cluster, accept_new_host_keys=args.accept_new_host_keys)
    ctx.on_close(connections.close)
    from napcompose.adapters.docker_network import ensure_cluster_network

    results = ensure_cluster_network(cluster, connections)
    width = max(len(h.name) for h in cluster.hosts)
    for result in results:
        ctx.out(f"{result.host:<{width}}  {result.status:<8} {result.detail}")
        for line in result.drift:
            ctx.out(f"{'':<{width}}    {line}")
    bad = [r for r in results if not r.ok]
    if bad:
        ctx.err(f"ERROR: network {cluster.network.name}: {len(bad)} of {len(results)} host(s) "
                f"failed or differ: {', '.join(r.host for r in bad)}")
        return 7 if any(r.status == "failed" for r in bad) else 1
    return ExitStatus.OK
