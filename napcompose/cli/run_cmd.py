"""``run``: a one-off container of a service, on the cluster, attached to the operator's terminal.

The road: the options are checked before anything is touched; the service's dependencies are
brought up first (``up``'s own road for them, unless ``--no-deps``); the run's plan (planner/run.py:
an address, the image and files on the host, the one-off container) runs on the executor under the
project's lock. Then, unless ``-d``, the operator's streams are attached to the container before it
starts (its first byte is caught), it is started, the streams carried until it ends, and its exit
code becomes ours. ``--rm`` removes it and releases its address afterwards; a run whose operator was
killed leaves that to the next ``up`` or ``down`` (its container carries the mark). Ctrl-C stops the
container (with a tty, Ctrl-C is the remote terminal's own key).
"""

from __future__ import annotations

import re
import secrets
import shlex
from typing import Sequence, Tuple

from napcompose.errors import ExitStatus, NapComposeError, UsageError
from napcompose.graph import with_dependencies
from napcompose.model import PortSpec
from napcompose.planner import Options
from napcompose.planner.run import (OneOff, RunOptions, plan_release_run, plan_remove_runs, plan_run,
                                    plan_start)
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for, raise_on_failures
from napcompose.cli.attached import attached, command_of, parse_env, wants_tty
from napcompose.cli.locking import add_wait_option, hold_project_lock

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_publish(texts: Sequence[str]) -> Tuple[PortSpec, ...]:
    """``-p [IP:][HOST:]CONTAINER[/PROTO]`` as PortSpecs, read as the compose file's ``ports``."""
    from napcompose.config.values import ValueProblem, ports

    found = []
    for text in texts:
        try:
            found.extend(ports(text))
        except ValueProblem as exc:
            raise UsageError(f"invalid -p {text!r}: {exc}") from None
    return tuple(found)


def parse_volumes(texts: Sequence[str]) -> Tuple[str, ...]:
    """``-v SOURCE:TARGET[:MODE]`` or ``-v TARGET``: a host path or a volume name, an absolute target.
    A relative source is refused: it would name a path on whichever host runs the container."""
    for text in texts:
        parts = text.split(":")
        target = parts[1] if len(parts) > 1 else parts[0]
        source = parts[0] if len(parts) > 1 else None
        if len(parts) > 3 or not target.startswith("/"):
            raise UsageError(f"invalid -v {text!r}: expected SOURCE:TARGET[:MODE] with an absolute TARGET")
        if source is not None and not source.startswith("/") and not _NAME.match(source):
            raise UsageError(f"invalid -v {text!r}: the source must be an absolute path on the host or a "
                             "volume name (a relative path is not shipped for run)")
    return tuple(texts)


def check_host(name, hosts: Sequence[str]) -> None:
    if name is not None and name not in hosts:
        raise UsageError(f"run --host {name}: no such host in the cluster (hosts: {', '.join(hosts)})")


def run_options(args, ctx, service: str, tty: bool, stdin: bool) -> RunOptions:
    """Every option checked and gathered, before anything is touched."""
    if args.name is not None and not _NAME.match(args.name):
        raise UsageError(f"invalid --name {args.name!r}: use letters, digits and _.- (not first)")
    command = command_of(args.cmd)
    entrypoint = None
    if args.entrypoint is not None:
        try:
            entrypoint = tuple(shlex.split(args.entrypoint))
        except ValueError as exc:
            raise UsageError(f"invalid --entrypoint {args.entrypoint!r}: {exc}") from None
    return RunOptions(service=service, slug=secrets.token_hex(32), command=command or None, entrypoint=entrypoint,
                      env=parse_env(args.env, ctx.environ), volumes=parse_volumes(args.volume),
                      workdir=args.workdir, user=args.user, name=args.name, service_ports=args.service_ports,
                      publish=parse_publish(args.publish), tty=tty, stdin=stdin, rm=args.rm, detach=args.detach,
                      host=args.host)


def cmd_run(args, ctx) -> int:
    from napcompose.adapters.tty import fileno_of
    from napcompose.execute.files import with_host_copies
    from napcompose.imagecheck import image_name
    from napcompose.observe.pins import pinned

    project = load_project(ctx)
    (service,) = check_services(project, [args.service])
    tty = wants_tty(ctx, args.no_tty) and not args.detach
    stdin = not args.detach and fileno_of(ctx.stdin) is not None
    run = run_options(args, ctx, service, tty, stdin)
    deploy = deploy_for(ctx)
    check_host(run.host, [h.name for h in deploy.cluster.hosts])
    orchestrator = deploy.orchestrator
    lock = hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    deps = sorted(with_dependencies(project, {service}) - {service})
    if deps and not args.no_deps:
        raise_on_failures(orchestrator.run(project, Options(services=tuple(deps))), "run")
    project, shipped = with_host_copies(project)
    # a registry image runs as the digest it names now (pulled where missing), as up would run it
    pins = orchestrator.pins(project, Options(services=(service,), no_deps=True), None)
    project = pinned(project, pins)
    addresses = orchestrator.addresses(project.name)
    observation = orchestrator.observe(project.name, everything=True, addresses=addresses,
                                       images=[image_name(project.name, project.service(service))])
    the_plan = plan_run(project, observation, addresses, run, shipped.get(service, ()), pins)
    one_off = OneOff(project.name, service, 1, run.slug)
    options = Options(services=(service,))
    report = orchestrator.execute(project, the_plan, addresses, options)
    container = _made(deploy, the_plan, project.name)
    if report.failed:
        _clean(orchestrator, project, observation, container, one_off, addresses)
        raise_on_failures(report, "run")
    if container is None:  # created, then gone at once (removed by someone else)
        raise NapComposeError(f"run: the container {one_off.name} on {the_plan.actions[-1].host} is gone")
    if run.detach:
        ctx.out(container.name)
        return ExitStatus.OK
    engine = deploy.engines[container.host]
    try:
        attachment = engine.attach(container.id, tty, stdin)
        try:
            raise_on_failures(orchestrator.execute(project, plan_start(the_plan, container), addresses, options),
                              "run")
            lock.release()  # the container runs now: nothing else of the project waits for it
            code = attached(ctx, tty, lambda streams: _pump(engine, container, attachment, streams, tty))
        finally:
            attachment.close()
    except KeyboardInterrupt:
        ctx.err(f"Stopping {container.name} ...")
        engine.stop_container(container.id, None)
        code = int(ExitStatus.INTERRUPTED)
    except BaseException:
        if run.rm:
            _clean_after(ctx, deploy, project, observation, container, one_off, addresses)
        raise
    if run.rm:
        _clean_after(ctx, deploy, project, observation, container, one_off, addresses)
    return code


def _pump(engine, container, attachment, streams, tty: bool) -> int:
    if tty:
        size = streams.size()
        if size is not None:
            engine.resize(container.id, *size)
        streams.on_resize(lambda rows, columns: engine.resize(container.id, rows, columns))
    attachment.pump(streams)
    return engine.wait(container.id)


def _made(deploy, plan, project_name: str):
    """The one-off container the plan created, as its host lists it (None when it was not made)."""
    from napcompose.planner import CreateOneOff

    create = next(a for a in plan.actions if isinstance(a, CreateOneOff))
    if create.host not in deploy.engines:
        return None
    try:
        found = deploy.engines[create.host].list_containers(project_name)
    except NapComposeError:
        return None
    return next((c for c in found if c.name == create.spec.container_name and c.one_off), None)


def _clean(orchestrator, project, observation, container, one_off, addresses) -> None:
    """Remove the run's container (when made) and release its address."""
    if container is not None:
        the_plan = plan_remove_runs(observation, [container], "run --rm")
    else:
        held = orchestrator.book.lookup(one_off.owner)
        if held is None:
            return
        the_plan = plan_release_run(project.name, one_off, held.host, held.ip, "run: its container was not made")
    raise_on_failures(orchestrator.execute(project, the_plan, addresses, Options()), "run --rm")


def _clean_after(ctx, deploy, project, observation, container, one_off, addresses) -> None:
    """``--rm``: the container and its address go once the run ended, under the project's lock."""
    hold_project_lock(ctx, project.name, deploy.cluster, deploy.store)
    _clean(deploy.orchestrator, project, observation, container, one_off, addresses)


def register(sub) -> None:
    p = sub.add_parser("run", help="run a one-off command in a new container of a service (on the cluster)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background; print the container's name")
    p.add_argument("--name", default=None, metavar="NAME", help="the container's name "
                   "(default: <project>_<service>_run_<slug>)")
    p.add_argument("--entrypoint", default=None, metavar="CMD", help="override the image's entrypoint")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL",
                   help="set an environment variable (repeatable; KEY alone takes its value from here)")
    p.add_argument("-u", "--user", default=None, metavar="USER", help="run as this user (name or uid[:gid])")
    p.add_argument("--no-deps", action="store_true", help="don't start the services it depends on")
    p.add_argument("--rm", action="store_true", help="remove the container and release its address when it ends")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="PORT",
                   help="publish a port ([IP:][HOST:]CONTAINER[/PROTO], repeatable)")
    p.add_argument("--service-ports", action="store_true", help="publish the service's ports as well")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="SRC:DST",
                   help="mount a host path or a volume (repeatable)")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true",
                   help="don't allocate a pseudo-terminal (default: one when stdin and stdout are terminals)")
    p.add_argument("-w", "--workdir", default=None, metavar="DIR", help="working directory in the container")
    p.add_argument("--host", default=None, metavar="NODE", help="run on this host (default: where the service's "
                   "first replica is placed)")
    add_wait_option(p)
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("cmd", nargs="...", metavar="CMD")
    p.set_defaults(func=cmd_run)
