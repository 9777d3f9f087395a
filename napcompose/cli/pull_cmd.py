"""``nap-compose pull [SERVICE...]`` and ``push [SERVICE...]``: images between the hosts and registries.

``pull``: the services' registry images onto every host that will run them. The hosts are those
``up`` would place the replicas on; they pull at once, each with its own progress lines, with the
operator's credentials from the Docker config sent along (the hosts need no login). Every host
pulls the one digest the tag names now (observe/pins.py), and the plan's notes say which.

``push``: the built services' images, from a host that holds each, to the registry their
``image:`` names, so that ``up`` has the other hosts pull them instead of receiving copies.
"""

from __future__ import annotations

from napcompose.errors import ExitStatus
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.observe.pins import registry_image
from napcompose.cli.options import options_of
from napcompose.planner import Command


def cmd_pull(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    chosen = [project.service(n) for n in project.service_names if not services or n in services]
    for spec in chosen:
        if not registry_image(spec):
            ctx.err(f"{spec.name} builds its image, skipping")
    if not any(registry_image(spec) for spec in chosen):
        return ExitStatus.OK
    options = options_of(args, project, services=tuple(s.name for s in chosen if registry_image(s)), no_deps=True)
    deploy = deploy_for(ctx)
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)  # what up finds on the hosts changes
    orchestrator = deploy.orchestrator
    the_plan, addresses = orchestrator.plan(project, options, Command.PULL)
    for note in the_plan.notes:
        ctx.err(note)
    for host, reason in the_plan.down:
        ctx.err(f"WARNING: host {host} did not answer, not pulled there: {reason}")
    raise_on_failures(orchestrator.execute(project, the_plan, addresses, options), "pull")
    return ExitStatus.OK


def cmd_push(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    chosen = [project.service(n) for n in project.service_names if not services or n in services]
    for spec in chosen:
        if spec.build is None:
            ctx.err(f"{spec.name} uses an image it does not build, skipping")
    built = tuple(s.name for s in chosen if s.build is not None)
    if not built:
        return ExitStatus.OK
    options = options_of(args, project, services=built, no_deps=True)
    deploy = deploy_for(ctx)
    orchestrator = deploy.orchestrator
    the_plan, addresses = orchestrator.plan(project, options, Command.PUSH)
    raise_on_failures(orchestrator.execute(project, the_plan, addresses, options), "push")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("push", help="push the built services' images to the registry their image: names")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("pull", help="pull the services' registry images onto every host that will run them")
    add_wait_option(p)
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_pull)
