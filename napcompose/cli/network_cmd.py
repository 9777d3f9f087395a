"""``nap-compose network create|check|rm``: the cluster's flat br0 network on every host."""

from __future__ import annotations

import json

from napcompose.cli.deploy_wiring import QuietReporter
from napcompose.cli.session import session_of
from napcompose.observe import observe_network, observe_resolvers
from napcompose.errors import ExitStatus, UsageError


def register(subparsers) -> None:
    network = subparsers.add_parser("network", help="the cluster's flat network on every host",
                                    description="Manage the flat bridge network every host of the cluster shares.")
    sub = network.add_subparsers(dest="network_command", metavar="NETWORK_COMMAND")
    network.set_defaults(func=lambda args, ctx: (network.print_help(ctx.stdout), 2)[1])
    create = sub.add_parser(
        "create", help="create the network on every host where it is missing; report drift where it differs",
        description="Reserve each host's block of the subnet in the store, then, on every host of the cluster "
                    "file, create the Docker bridge network whose Linux bridge is the cluster's bridge (subnet, "
                    "the host's block as ip-range, gateway = the host's address, the router as the containers' "
                    "default gateway, no masquerade). An existing network is compared and left as it is; the "
                    "host's NIC must be bridged into the bridge by the host's own network configuration "
                    "(see README). With `resolver` in the cluster file's network, start the names resolver "
                    "(dnsmasq, in a container on the host's network) on every host, or repair one that is "
                    "stopped or made otherwise.")
    create.add_argument("--recreate-empty", action="store_true",
                        help="remove and create again a network that differs (e.g. made without its host block) "
                             "where no container is attached")
    create.add_argument("--dry-run", action="store_true",
                        help="print the plan (blocks to reserve, networks to create, resolvers to start) and "
                             "touch nothing")
    create.set_defaults(func=_create)
    check = sub.add_parser(
        "check", help="find duplicate, hand-given or misplaced addresses on the network of every host",
        description="Ask every host, in parallel, for the containers on the network and report: an address held "
                    "on two hosts; a container holding an address reserved for another owner; a container "
                    "outside its host's block and outside the pool; a host, router or reserved address used by "
                    "a container; a names resolver that is not running as the cluster file asks. Exits 1 when "
                    "anything is found.")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.set_defaults(func=_check)
    rm = sub.add_parser(
        "rm", help="remove the network from the named hosts and release their blocks",
        description="Remove the network from each host named (refused where containers are attached) and "
                    "release the host's block in the store. Do this before taking a host out of the cluster file.")
    rm.add_argument("--host", action="append", required=True, metavar="HOST", help="a host (repeatable)")
    rm.set_defaults(func=_rm)


def _create(args, ctx) -> int:
    from napcompose.orchestrator.network import plan_create, run_create
    from napcompose.planner.network import render_network

    session = session_of(ctx)
    cluster = session.cluster
    # the resolver's image is made here first: a machine without dnsmasq stops the command before
    # any block is reserved or any host is touched
    built = ctx.wiring.resolver_image() if cluster.network.resolver is not None else None
    core = session.orchestrator(QuietReporter(ctx), networks=session.networks(built))
    planned = plan_create(core, args.recreate_empty, built.digest if built is not None else None)
    if args.dry_run:
        for line in render_network(planned):
            ctx.out(line)
        return ExitStatus.OK
    done = run_create(core, planned)  # every block is settled in the store before any host is touched
    width = max(len(h.name) for h in cluster.hosts)
    for result in done.networks:
        ctx.out(f"{result.host:<{width}}  {result.status:<9} {result.detail}")
        for line in result.drift:
            ctx.out(f"{'':<{width}}    {line}")
    known = {h.name for h in cluster.hosts}
    for block in session.host_blocks().list():
        if block.host not in known:
            ctx.err(f"WARNING: host {block.host} is not in the cluster file but still holds block {block.cidr}; "
                    f"once its network is gone, `nap-compose ipam gc --yes` releases it")
    bad = [r for r in done.networks if not r.ok]
    if bad:
        ctx.err(f"ERROR: network {cluster.network.name}: {len(bad)} of {len(done.networks)} host(s) "
                f"failed or differ: {', '.join(r.host for r in bad)}")
        return ExitStatus.HOST if any(r.status == "failed" for r in bad) else ExitStatus.ERROR
    status = ExitStatus.OK
    if cluster.network.resolver is not None:
        status = _resolvers(ctx, done.resolvers, width)
    # --- bridge filters (isolation groups): loaded from the records on every host
    from napcompose.cli.isolation_cli import repair
    return max(status, repair(ctx, session, width))


def _resolvers(ctx, statuses, width: int) -> int:
    """One line per host for its names resolver; HOST status when one could not be started."""
    for status in statuses:
        ctx.out(f"{status.host:<{width}}  resolver  {status.status:<9} {status.detail}")
    failed = [s.host for s in statuses if not s.ok]
    if failed:
        ctx.err(f"ERROR: names resolver: {len(failed)} of {len(statuses)} host(s) failed: {', '.join(failed)}")
        return ExitStatus.HOST
    return ExitStatus.OK


def _check(args, ctx) -> int:
    from napcompose.network.check import bad_record_findings, check_network, resolver_findings

    session = session_of(ctx)
    cluster = session.cluster
    blocks = session.host_blocks().by_host()
    ipam = session.ipam()
    allocations = ipam.allocations()
    views, unreachable = observe_network(session.cluster, session.engines)
    pool = ipam.pool
    findings = check_network(cluster, views, blocks, allocations, pool.contains, unreachable)
    if cluster.network.resolver is not None:
        digest = ctx.wiring.resolver_image().digest
        findings += resolver_findings(observe_resolvers(cluster, session.networks(), digest), unreachable)
    # --- bridge filters (isolation groups): a host whose table differs from the records
    from napcompose.cli.isolation_cli import filter_findings
    findings += filter_findings(ctx, session, unreachable)
    session.evictions().evicted()  # read too, so that its unreadable records are reported with the others
    findings += bad_record_findings(ipam.bad_records())
    if args.format == "json":
        ctx.out(json.dumps({"network": cluster.network.name,
                            "hosts": [{"host": v.host, "exists": v.exists, "ip_range": v.ip_range,
                                       "containers": len(v.endpoints)} for v in views],
                            "findings": [f.as_dict() for f in findings]}, indent=2))
    elif not findings:
        total = sum(len(v.endpoints) for v in views)
        ctx.out(f"network {cluster.network.name}: {total} container(s) on {len(views)} host(s), no problem found")
    else:
        for f in findings:
            ctx.out(f"{f.kind:<18} {f.host:<10} {f.container or '-':<24} {f.message}")
    return ExitStatus.ERROR if findings else ExitStatus.OK


def _rm(args, ctx) -> int:
    from napcompose.orchestrator.network import network_rm

    session = session_of(ctx)
    cluster = session.cluster
    known = {h.name for h in cluster.hosts}
    unknown = [h for h in args.host if h not in known]
    if unknown:
        raise UsageError(f"network rm: host(s) {', '.join(unknown)} not in the cluster file "
                         f"({', '.join(sorted(known))})")
    # the store's blocks are read first: a store that cannot be reached stops it before any host is touched
    done = network_rm(session.orchestrator(QuietReporter(ctx), networks=session.networks()), args.host)
    released = dict(done.released)
    failed = 0
    for result in done.networks:
        if result.host in released:
            block = released[result.host]
            ctx.out(f"{result.host}  {result.status}  {result.detail}" + (f"; block {block} released" if block else ""))
        else:
            failed += 1
            ctx.err(f"ERROR: {result.host}: {result.detail}")
    return ExitStatus.HOST if failed else ExitStatus.OK
