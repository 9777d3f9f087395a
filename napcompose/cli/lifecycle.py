"""The handler of a command that only changes the state of the project's containers (stop, start,
restart, pause, unpause): load, take the lock, observe, plan and execute ``command``."""

from __future__ import annotations

from napcompose.cli.common import load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.locking import hold_project_lock
from napcompose.errors import ExitStatus


def lifecycle_handler(command):
    """The handler of ``command``: a planner.Command or its value (``"stop"``). The planner is
    imported when the handler runs, so registering the command line does not load it."""

    def handler(args, ctx) -> int:
        from napcompose.cli.options import options_of
        from napcompose.planner import Command

        which = Command(command)
        project = load_project(ctx)
        options = options_of(args, project)
        deploy = deploy_for(ctx)
        hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
        raise_on_failures(deploy.orchestrator.run(project, options, which), which.value)
        return ExitStatus.OK

    return handler
