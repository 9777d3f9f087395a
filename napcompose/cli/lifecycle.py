"""The handler of a command that only changes the state of the project's containers (stop, start,
restart, pause, unpause): load, take the lock, observe, plan and execute ``command``."""

from __future__ import annotations

from napcompose.cli.common import load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.locking import hold_project_lock
from napcompose.cli.options import options_of
from napcompose.errors import ExitStatus
from napcompose.planner import Command


def lifecycle_handler(command: Command):
    def handler(args, ctx) -> int:
        project = load_project(ctx)
        options = options_of(args, project)
        deploy = deploy_for(ctx)
        hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
        raise_on_failures(deploy.orchestrator.run(project, options, command), command.value)
        return ExitStatus.OK

    return handler
