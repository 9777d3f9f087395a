"""``nap-compose build``: build the images of services with ``build:`` and put them on every host.

By default no registry is used: an image is built once, on the first host of the cluster file,
and copied to the others through the Docker API (save → load, streamed); ``--strategy
build-each`` builds it on every host instead; ``--push`` sends it to the registry its ``image:``
names instead of copying it, and ``up`` has the other hosts pull it. The plan (planner/build.py) runs on the
same executor as ``up``'s image actions.
"""

from __future__ import annotations

from typing import List, Tuple

from napcompose.errors import ConfigError, ExitStatus, PartialFailure
from napcompose.cli.common import load_project
from napcompose.cli.deploy_wiring import CliReporter, deploy_for
from napcompose.cli.locking import add_wait_option, hold_project_lock
from napcompose.cli.session import session_of
from napcompose.cli.options import options_of
from napcompose.planner import BuildImage, Command, CopyImage, PushImage
from napcompose.planner.build import DEFAULT_STRATEGY, STRATEGIES, select_services


class BuildReporter(CliReporter):
    """``build``'s progress lines: a copy names only where it goes (``Copying web to node2``), and a
    copy skipped because its build failed has no line of its own (the summary names it)."""

    def progress(self, subject: str, action: str, status: str, detail: str = "") -> None:
        if status == "skipped":
            return
        if action == CopyImage.verb:
            detail = "to " + detail.rpartition(" to ")[2]  # "IMAGE from SOURCE to HOST"
        super().progress(subject, action, status, detail)


def raise_on_image_failures(plan, report) -> None:
    """Failed steps as one PartialFailure, service by service, each build before its copies."""
    actions = plan.actions
    services = list(dict.fromkeys(a.service for a in actions))
    hosts = list(dict.fromkeys(a.host for a in actions))
    failed: List[Tuple[Tuple[int, int, int], str, str]] = []
    for action, outcome in zip(actions, report.outcomes):
        if outcome.ok:
            continue
        order = (services.index(action.service), not isinstance(action, BuildImage), hosts.index(action.host))
        if isinstance(action, BuildImage):
            failed.append((order, f"build {action.service} on {action.host}", outcome.error))
        elif isinstance(action, PushImage):
            error = f"skipped: the build on {action.host} failed" if outcome.skipped else outcome.error
            failed.append((order, f"push {action.service} from {action.host}", error))
        else:
            error = f"skipped: the build on {action.source} failed" if outcome.skipped else outcome.error
            failed.append((order, f"copy {action.service} to {action.host}", error))
    if failed:
        failed.sort(key=lambda f: f[0])
        raise PartialFailure(f"images: {len(failed)} of {len(actions)} steps failed",
                             [(step, error) for _, step, error in failed])


def _check_inputs(services) -> None:
    """A context lacking a file its Dockerfile copies (one a step generates, as rootfs/ is) stops the
    command before anything is built, naming the file, the Dockerfile line and the step when known."""
    import os

    from napcompose.adapters.images import missing_input

    for service in services:
        spec = service.build
        dockerfile = spec.dockerfile or "Dockerfile"
        if os.path.isfile(os.path.join(spec.context, dockerfile)):
            missing = missing_input(spec.context, dockerfile)
            if missing:
                raise ConfigError(f"service {service.name}: build context {spec.context} lacks {missing}")


def cmd_build(args, ctx) -> int:
    project = load_project(ctx)
    buildable, skipped = select_services(project, args.services)
    _check_inputs(buildable)
    cluster = session_of(ctx).cluster if buildable else None
    for name in skipped:
        ctx.err(f"{name} uses an image, skipping")
    if not buildable:
        return ExitStatus.OK
    options = options_of(args, project)
    deploy = deploy_for(ctx, cluster, reporter=BuildReporter(ctx))
    hold_project_lock(ctx, project.name, cluster, deploy.store)  # putting images on the hosts changes what up finds
    orchestrator = deploy.orchestrator
    the_plan, addresses = orchestrator.plan(project, options, Command.BUILD)
    raise_on_image_failures(the_plan, orchestrator.execute(project, the_plan, addresses, options))
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("build", help="build the images of services with build: and put them on every host")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true", dest="pull_base",
                   help="accepted for docker-compose compatibility; ignored (no registry is used)")
    p.add_argument("--push", action="store_true",
                   help="push each built image to the registry its image: names instead of copying it to the "
                        "other hosts (up then has them pull it)")
    p.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                   help=f"build once and copy to the other hosts, or build on each host (default {DEFAULT_STRATEGY})")
    add_wait_option(p)
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_build)
