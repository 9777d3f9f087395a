"""``exec``: run a command in a running container of a service, on whichever host runs it.

The operator's stdin, stdout and stderr are carried over the host's SSH connection (the upgraded
Docker connection, adapters/attach.py): stdin is copied in chunks as it comes and closed at its
end, so ``exec -T db sh -c 'cat > /x' < dump`` streams a dump of any size; output arrives whole,
stderr apart from stdout. With a tty (the default when stdin and stdout are terminals, ``-T`` turns
it off) the local terminal is raw for the session, restored however it ends, and follows resizes.
The command's exit code is ours.
"""

from __future__ import annotations

from napcompose.errors import NapComposeError, UsageError
from napcompose.model import ExecRequest, Replica
from napcompose.adapters.tty import fileno_of
from napcompose.cli.attached import attached, command_of, parse_env, wants_tty
from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for


def cmd_exec(args, ctx) -> int:
    project = load_project(ctx)
    (service,) = check_services(project, [args.service])
    if args.index < 1:
        raise UsageError(f"invalid --index {args.index}: replicas count from 1")
    command = command_of(args.cmd)
    if not command:
        raise UsageError("exec: missing the command to run in the container")
    env = parse_env(args.env, ctx.environ)
    tty = wants_tty(ctx, args.no_tty) and not args.detach
    # stdin is attached whenever there is one (as docker compose's exec -i, its default)
    request = ExecRequest(command, tty=tty, stdin=not args.detach and fileno_of(ctx.stdin) is not None, env=env,
                          user=args.user, workdir=args.workdir, privileged=args.privileged, detach=args.detach)
    deploy = deploy_for(ctx)
    observation = deploy.orchestrator.ps(project.name, (service,), all=True)
    replica = Replica(project.name, service, args.index)
    target = next((c for c in observation.containers
                   if c.replica == replica and not c.one_off and c.state != "unknown"), None)
    if target is None:
        from napcompose.cli.ps_view import raise_if_partial

        raise_if_partial(observation, "exec")
        raise NapComposeError(f"no container found for {replica.name}")
    if target.state != "running":
        raise NapComposeError(f"{replica.name} on {target.host} is not running (state: {target.state})")
    engine = deploy.engines[target.host]
    return attached(ctx, tty, lambda streams: engine.exec_attached(target.id, request, streams))


def register(sub) -> None:
    p = sub.add_parser("exec", help="run a command in a running container of a service (stdin attached)")
    p.add_argument("-d", "--detach", action="store_true", help="run the command in the background")
    p.add_argument("--privileged", action="store_true", help="give the process extended privileges")
    p.add_argument("-u", "--user", default=None, metavar="USER", help="run as this user (name or uid[:gid])")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true",
                   help="don't allocate a pseudo-terminal (default: one when stdin and stdout are terminals)")
    p.add_argument("--index", type=int, default=1, metavar="N", help="which replica (default 1)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL",
                   help="set an environment variable (repeatable; KEY alone takes its value from here)")
    p.add_argument("-w", "--workdir", default=None, metavar="DIR", help="working directory in the container")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("cmd", nargs="...", metavar="CMD")
    p.set_defaults(func=cmd_exec)
