"""`hosts check` and `hosts sync`: compare every container's hosts file with its managed block, repair it."""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.errors import NapComposeError
from napcompose.cli.common import load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.cli.session import session_of
from napcompose.observe import observe_resolvers


class HostsDriftFound(NapComposeError):
    """`hosts check` found files that differ; exit 1 like diff(1)."""

    exit_status = ExitStatus.ERROR


def _describe(drift) -> str:
    if drift.actual is None:
        return "managed block missing (Docker rewrites the file when a container starts)"
    if drift.actual == drift.expected:
        return "a line outside the managed block gives a peer's name an old address (one that moved)"
    return "managed block differs"


def cmd_check(args, ctx) -> int:
    project = load_project(ctx)
    deploy = deploy_for(ctx)
    seen = deploy.orchestrator.observe(project.name, read_only=True)  # one observation for every check
    drifts = list(deploy.orchestrator.hosts_check(project, seen))
    for drift in drifts:
        ctx.out(f"{drift.replica.name} on {drift.host}: {_describe(drift)}")
        if args.verbose:
            ctx.out("  expected:")
            for line in (drift.expected or "").splitlines():
                ctx.out(f"    {line}")
            ctx.out("  found:")
            for line in (drift.actual or "(nothing)").splitlines():
                ctx.out(f"    {line}")
    stale = list(deploy.orchestrator.names_check(project, seen))
    down = []
    if deploy.cluster.network.resolver is not None:
        digest = ctx.wiring.resolver_image().digest
        down = [s for s in observe_resolvers(deploy.cluster, session_of(ctx).networks(), digest) if not s.ok]
    for status in down:
        ctx.out(f"names resolver on {status.host}: {status.status}: {status.detail} "
                "(`nap-compose network create` repairs it)")
    for drift in stale:
        ctx.out(f"names of {project.name} for the resolver on {drift.host}: {len(drift.missing)} file(s) missing, "
                f"{len(drift.stale)} stale")
        if args.verbose:
            for name in drift.missing:
                ctx.out(f"  missing: {name}")
            for name in drift.stale:
                ctx.out(f"  stale:   {name}")
    problems = []
    if drifts or stale:
        what = f"{len(drifts)} hosts file(s)" + (f" and {len(stale)} names file(s)" if stale else "")
        problems.append(f"{what} differ from the plan; `nap-compose hosts sync` rewrites them")
    if down:
        problems.append(f"{len(down)} names resolver(s) not running as the cluster file asks; "
                        "`nap-compose network create` repairs them")
    if problems:
        raise HostsDriftFound("; ".join(problems))
    ctx.out(f"all hosts files of {project.name} are in sync")
    return ExitStatus.OK


def cmd_sync(args, ctx) -> int:
    project = load_project(ctx)
    deploy = deploy_for(ctx)
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    report = deploy.orchestrator.hosts_sync(project)
    raise_on_failures(report, "hosts sync")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("hosts", help="check or repair the containers' /etc/hosts managed blocks")
    hosts_sub = p.add_subparsers(dest="hosts_command", metavar="COMMAND", parser_class=type(p))
    check = hosts_sub.add_parser("check", help="list containers whose hosts file differs from what it should be "
                                                    "(exit status 1 when any does)")
    check.add_argument("-v", "--verbose", action="store_true", help="show expected and found blocks")
    check.set_defaults(func=cmd_check)
    sync = hosts_sub.add_parser("sync", help="rewrite every container's managed block in place")
    add_wait_option(sync)
    sync.set_defaults(func=cmd_sync)
