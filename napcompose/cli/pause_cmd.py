"""``pause`` and ``unpause``: freeze and thaw the project's containers on every host, on the one road
(observe, plan Pause/Unpause actions, execute) under the project's lock, as ``stop`` and ``start``."""

from __future__ import annotations

from napcompose.cli.common import load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.cli.options import options_of
from napcompose.errors import ExitStatus
from napcompose.planner import Command


def _run(command: Command):
    def handler(args, ctx) -> int:
        project = load_project(ctx)
        options = options_of(args, project)
        deploy = deploy_for(ctx)
        hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
        raise_on_failures(deploy.orchestrator.run(project, options, command), command.value)
        return ExitStatus.OK

    return handler


def register(sub) -> None:
    for command, text in ((Command.PAUSE, "pause the running containers of services, on every host"),
                          (Command.UNPAUSE, "unpause the paused containers of services")):
        p = sub.add_parser(command.value, help=text)
        add_wait_option(p)
        p.add_argument("services", nargs="*", metavar="SERVICE")
        p.set_defaults(func=_run(command))
