"""``rollback SERVICE...``: return replicas to the containers their last update kept."""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.planner import Command, Options
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.cli import project_views as views


def cmd_rollback(args, ctx) -> int:
    project = load_project(ctx)
    options = Options(services=check_services(project, args.services))
    deploy = deploy_for(ctx)
    if args.dry_run:
        views.print_plan(ctx, deploy.orchestrator.plan(project, options, Command.ROLLBACK)[0])
        return ExitStatus.OK
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    raise_on_failures(deploy.orchestrator.run(project, options, Command.ROLLBACK), "rollback")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("rollback", help="return services' replicas to the containers their last update kept "
                                        "(same image, config and address), batch by batch per rollback_config")
    p.add_argument("--dry-run", action="store_true", help="show the plan and touch nothing")
    add_wait_option(p)
    p.add_argument("services", nargs="+", metavar="SERVICE")
    p.set_defaults(func=cmd_rollback)
