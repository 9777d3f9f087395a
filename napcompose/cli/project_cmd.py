"""Deploy commands: up, down, ps, scale, stop, start, restart, rm, kill, plan (logs: logs_cmd.py; exec: exec_cmd.py).

Flag names follow docker-compose 1.29. The handlers only parse and render: arguments are checked
against the compose file and gathered into one Options object (``cli.options``) before anything is
touched (so a malformed command changes nothing); the orchestrator observes, plans and executes; output
rendering lives in ``project_views`` (``ps_view`` for ``ps``, which observes through ``observe.view`` alone).
"""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.observe.pins import POLICIES
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import CliReporter, deploy_for, raise_on_failures
from napcompose.cli.compose_wait import add_compose_wait_options
from napcompose.cli.keeping import add_keep_options, apply_keep, drop_keep, follow_scale, print_log
from napcompose.cli.lifecycle import lifecycle_handler
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.cli.ps_json import STATUSES, print_ps_json, wanted_statuses
from napcompose.cli.ps_view import print_ps_table, ps_rows, raise_if_partial
from napcompose.cli.session import session_of

# The handlers that plan import the planner, the orchestrator and their views when they run: `ps`
# only observes, and a fresh process that lists a project loads none of them (most of its CPU
# time went to importing them; on a loaded machine that is most of its wall time too).


# ---------------------------------------------------------------------------- handlers


def cmd_up(args, ctx) -> int:
    from napcompose.cli import project_views as views
    from napcompose.cli.options import options_of

    project = load_project(ctx)
    options = options_of(args, project)
    deploy = deploy_for(ctx, store_soon=not args.dry_run)
    if args.dry_run:
        views.print_plan(ctx, deploy.orchestrator.plan(project, options)[0])
        views.print_bind_sources(ctx, project)
        return ExitStatus.OK
    lock = hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    apply_keep(ctx, project, options, deploy.store, deploy.cluster)  # before the run: a failed up is kept too
    raise_on_failures(deploy.orchestrator.run(project, options), "up")
    if args.detach or options.wait or not options.start:  # --wait implies -d, as in docker compose; so
        # does --no-start: nothing runs to follow
        return ExitStatus.OK
    lock.release()  # following the logs changes nothing; a Ctrl-C stop takes the lock again
    return views.attach(ctx, deploy, project, options)


def cmd_plan(args, ctx) -> int:
    from napcompose.cli import project_views as views
    from napcompose.cli.options import options_of

    project = load_project(ctx)
    options = options_of(args, project)
    views.print_plan(ctx, deploy_for(ctx).orchestrator.plan(project, options)[0])
    views.print_bind_sources(ctx, project)
    return ExitStatus.OK


def cmd_scale(args, ctx) -> int:
    from napcompose.cli.options import options_of

    project = load_project(ctx)
    options = options_of(args, project)
    deploy = deploy_for(ctx, store_soon=True)
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    follow_scale(ctx, project.name, options, deploy.store, deploy.cluster)  # the reconciler keeps the new count
    raise_on_failures(deploy.orchestrator.run(project, options), "scale")
    return ExitStatus.OK


def cmd_down(args, ctx) -> int:
    from napcompose.cli.options import options_of
    from napcompose.planner import Command

    project = load_project(ctx)
    options = options_of(args, project)
    deploy = deploy_for(ctx, store_soon=True)
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    drop_keep(ctx, project.name, deploy.store, deploy.cluster)  # first: the reconciler must not bring it back
    raise_on_failures(deploy.orchestrator.run(project, options, Command.DOWN), "down")
    return ExitStatus.OK


cmd_stop = lifecycle_handler("stop")
cmd_start = lifecycle_handler("start")
cmd_restart = lifecycle_handler("restart")


def cmd_kill(args, ctx) -> int:
    from napcompose.cli.options import options_of
    from napcompose.planner import Command

    project = load_project(ctx)
    options = options_of(args, project)
    deploy = deploy_for(ctx)
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    raise_on_failures(deploy.orchestrator.run(project, options, Command.KILL), "kill")
    return ExitStatus.OK


def cmd_rm(args, ctx) -> int:
    from napcompose.cli import project_views as views
    from napcompose.cli.options import options_of
    from napcompose.planner import Command
    from napcompose.planner.lifecycle import doomed_by_rm

    project = load_project(ctx)
    options = options_of(args, project)
    deploy = deploy_for(ctx)
    orchestrator = deploy.orchestrator
    # Taken before the plan, so what is confirmed is what runs: no other writer changes it meanwhile.
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    the_plan, addresses = orchestrator.plan(project, options, Command.RM)
    if not args.force:
        doomed = doomed_by_rm(the_plan)
        if not doomed:
            ctx.err("No stopped containers")
            return ExitStatus.OK
        ctx.err("Going to remove " + ", ".join(doomed))
        if not views.confirm(ctx, "Are you sure? [yN] "):
            return ExitStatus.OK
    # exactly what was shown and confirmed, planned while holding the lock
    raise_on_failures(orchestrator.execute(project, the_plan, addresses, options), "rm")
    return ExitStatus.OK


def cmd_ps(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    statuses = wanted_statuses(args.status, args.filter)
    observation = observe_project(ctx, project.name, services)
    rows = ps_rows(observation, services, include_one_off=args.all)
    if statuses:
        rows = [row for row in rows if row.container.state in statuses]
    if args.quiet:
        for row in rows:
            if row.id:
                ctx.out(row.id)
    elif args.services_only:
        for name in dict.fromkeys(row.service for row in rows):
            ctx.out(name)
    elif args.format == "json":
        print_ps_json(ctx, rows, project.name, ctx.wiring.clock().now())
    else:
        print_ps_table(ctx, rows)
    if args.log:
        print_log(ctx, project.name)
    raise_if_partial(observation, "ps")
    return ExitStatus.OK


def observe_project(ctx, project_name: str, services=()):
    """What ``Orchestrator.ps`` sees of the project (``observe.view``), over the command's session
    alone: the address book and the evictions are opened only for a host that did not answer."""
    from napcompose.observe.observation import Addresses
    from napcompose.observe.view import observe_with_store, only_services

    session = session_of(ctx)
    seen = observe_with_store(
        session.cluster, session.engines, project_name, evicted=lambda: session.evictions().evicted(),
        addresses=lambda: Addresses.of_project(session.ipam().allocations(), project_name),
        warn=CliReporter(ctx).warning, read_only=True, observed_at=session.clock.now())
    return only_services(seen, services)


# ---------------------------------------------------------------------------- parsers


def _pull_arg(parser) -> None:
    parser.add_argument("--pull", choices=POLICIES, default=None,
                        help="pull registry images: always (the tag's digest now), missing (default: only "
                             "where no host has the image), never, build (build services with build:); "
                             "overrides each service's pull_policy")


def _services_arg(parser) -> None:
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def _timeout_arg(parser) -> None:
    parser.add_argument("-t", "--timeout", default=None, metavar="N",
                        help="seconds to wait for a container to stop before killing it "
                             "(default: the service's stop_grace_period, else 10)")


def _recreate_args(parser) -> None:
    parser.add_argument("--no-deps", action="store_true", help="don't touch the services' dependencies")
    parser.add_argument("--force-recreate", action="store_true", help="recreate containers even if unchanged")
    parser.add_argument("--no-recreate", action="store_true", help="never recreate existing containers")
    parser.add_argument("--remove-orphans", action="store_true",
                        help="remove containers of services no longer in the compose file")
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM",
                        help="number of replicas of SERVICE (overrides the file's scale)")
    parser.add_argument("--no-rolling", action="store_true",
                        help="recreate every changed replica at once instead of batch by batch")
    parser.add_argument("--prune-previous", action="store_true",
                        help="remove the containers earlier updates kept for a rollback")


def register(sub) -> None:
    p = sub.add_parser("up", help="create and start the project's containers across the cluster")
    p.add_argument("-d", "--detach", action="store_true", help="return once containers run and hosts files are written")
    _recreate_args(p)
    p.add_argument("--dry-run", action="store_true", help="show the plan (same as `plan`) and touch nothing")
    p.add_argument("--build", action="store_true", help="build images of services with build: first")
    p.add_argument("--no-start", action="store_true",
                   help="create the containers and leave them created; no replica it creates or recreates "
                        "is answered by name until `start`")
    _pull_arg(p)
    _timeout_arg(p)
    add_compose_wait_options(p, "up")
    add_wait_option(p, old_spelling=False)
    add_keep_options(p)
    _services_arg(p)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("plan", help="show, per container, host, address, action and hosts lines; touch nothing")
    _recreate_args(p)
    _pull_arg(p)
    _services_arg(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("scale", help="set the number of replicas of services: SERVICE=NUM...")
    _timeout_arg(p)
    add_wait_option(p)
    p.add_argument("pairs", nargs="+", metavar="SERVICE=NUM")
    p.set_defaults(func=cmd_scale)

    p = sub.add_parser("down", help="stop and remove the project's containers and release their addresses")
    p.add_argument("--remove-orphans", action="store_true", help="also remove containers of services not in the file")
    p.add_argument("-v", "--volumes", action="store_true",
                   help="also remove the project's named volumes (not external ones) on every host")
    _timeout_arg(p)
    add_wait_option(p)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("ps", help="list the project's containers with host, address and state")
    p.add_argument("-q", "--quiet", action="store_true", help="only container ids")
    p.add_argument("--services", dest="services_only", action="store_true", help="only service names")
    p.add_argument("-a", "--all", action="store_true", help="include one-off containers")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="json: one object per line, with docker compose's keys plus Host, IP, Generation")
    p.add_argument("--log", action="store_true",
                   help="then what the reconciler (`watch`) did to the project and why: hosts lost, replicas "
                        "moved, containers replaced (read from the store)")
    p.add_argument("--status", action="append", default=[], metavar="STATUS",
                   help=f"only containers in this state (repeatable): {', '.join(STATUSES)}")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="only containers matching it; supported: status=STATUS")
    _services_arg(p)
    p.set_defaults(func=cmd_ps)

    for verb, text, handler in (("stop", "stop running containers", cmd_stop),
                                ("start", "start stopped containers", cmd_start),
                                ("restart", "restart containers and re-sync their hosts files", cmd_restart)):
        p = sub.add_parser(verb, help=text)
        if verb != "start":
            _timeout_arg(p)
        else:
            add_compose_wait_options(p, verb)
        add_wait_option(p, old_spelling=verb != "start")
        _services_arg(p)
        p.set_defaults(func=handler)

    p = sub.add_parser("rm", help="remove stopped containers")
    p.add_argument("-f", "--force", action="store_true", help="don't ask for confirmation")
    p.add_argument("-s", "--stop", action="store_true", help="stop the containers first if needed")
    p.add_argument("-v", "--volumes", action="store_true", help="also remove the containers' anonymous volumes")
    add_wait_option(p)
    _services_arg(p)
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser("kill", help="send a signal to the running containers (default SIGKILL)")
    p.add_argument("-s", dest="signal", default="SIGKILL", metavar="SIGNAL", help="the signal (default SIGKILL)")
    add_wait_option(p)
    _services_arg(p)
    p.set_defaults(func=cmd_kill)
