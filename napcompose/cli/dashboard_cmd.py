"""`nap-compose dashboard`: serve the read-only web dashboard of the cluster until interrupted."""

from __future__ import annotations

import ipaddress
import os
import secrets

from napcompose.errors import UsageError
from napcompose.cli.common import load_project

DEFAULT_LISTEN = "127.0.0.1:8088"
TOKEN_ENV = "NAP_DASHBOARD_TOKEN"
MIN_TOKEN_LEN = 16


def parse_listen(text: str):
    """(address, port) of ``ADDRESS:PORT`` (``[v6]:PORT`` for IPv6). Names are refused: resolving one
    would send a lookup out, and the listener must be exactly where the user says."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise UsageError(f"dashboard --listen {text}: give ADDRESS:PORT, e.g. {DEFAULT_LISTEN}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"dashboard --listen {text}: {host!r} is not an IP address "
                         "(names are not resolved; give the address to listen on)") from None
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"dashboard --listen {text}: the port must be a number from 0 to 65535")
    return str(address), int(port), address.is_loopback


def _token(ctx, beyond_loopback: bool):
    """(token, required, from_env): the environment's token is always required once it is set."""
    given = ctx.environ.get(TOKEN_ENV, "")
    if given:
        if len(given) < MIN_TOKEN_LEN:
            raise UsageError(f"{TOKEN_ENV} is {len(given)} characters long; give at least {MIN_TOKEN_LEN}")
        return given, True, True
    return secrets.token_urlsafe(24), beyond_loopback, False


def _project_or_none(ctx):
    """The compose project when -f, COMPOSE_FILE or a compose file in this directory names one."""
    from napcompose.config.files import default_files
    from napcompose.errors import ConfigError

    args = ctx.args
    if not args.files and not ctx.environ.get("COMPOSE_FILE"):
        try:
            default_files(os.path.join(ctx.cwd, args.project_directory or "."))
        except ConfigError:
            return None
    return load_project(ctx)


def cmd_dashboard(args, ctx) -> int:
    from napcompose.cli.deploy_wiring import deploy_for
    from napcompose.cli.session import session_of
    from napcompose.reconcile.records import ReconcileLog
    from napcompose.dashboard.server import Access, DashboardServer, Refresher, loopback_hosts
    from napcompose.dashboard.state import ClusterState
    from napcompose.ports import ListReporter

    host, port, loopback = parse_listen(args.listen)
    if not 0.5 <= args.interval <= 5:
        raise UsageError("dashboard --interval: give seconds from 0.5 to 5")
    token, required, from_env = _token(ctx, not loopback)
    project = _project_or_none(ctx)
    # the drift check's warnings belong to the page, not to the terminal
    deploy = deploy_for(ctx, reporter=ListReporter())
    session_of(ctx).store.opened()  # a store that cannot be reached stops the dashboard before it serves
    state = ClusterState(deploy.orchestrator, project, blocks=session_of(ctx).host_blocks(),
                         healing=ReconcileLog(deploy.store, deploy.cluster.store.prefix))
    log = (lambda line: ctx.err(line)) if args.verbose else (lambda line: None)
    refresher = Refresher(state.snapshot, args.interval, lambda line: ctx.err(f"WARNING: {line}"))
    try:
        server = DashboardServer((host, port), refresher, Access(token, required), log)
    except OSError as exc:
        raise UsageError(f"dashboard --listen {args.listen}: cannot listen there: {exc.strerror or exc}") from None
    bound = server.server_address[1]
    server.access = Access(token, required, loopback_hosts(host, bound))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    what = f" (project {project.name})" if project else ""
    if required and not from_env:
        ctx.out(f"nap-compose dashboard of {deploy.cluster.source}{what}: {url}?token={token}")
        ctx.out("Every request needs this token (set it yourself with $" + TOKEN_ENV + "). Open the address "
                "above, or send the header 'Authorization: Bearer TOKEN'.")
    else:
        ctx.out(f"nap-compose dashboard of {deploy.cluster.source}{what}: {url}")
        if required:
            ctx.out(f"Every request needs the token in ${TOKEN_ENV}: open {url}?token=... once, or send "
                    "the header 'Authorization: Bearer TOKEN'.")
    ctx.out("Read-only; press Ctrl-C to stop.")
    flush = getattr(ctx.stdout, "flush", None)
    if flush:
        flush()
    _interrupt_on_sigterm()
    refresher.start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        refresher.stop()
    return 0


def _interrupt_on_sigterm() -> None:
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (a test running main in a thread): keep the handlers
        pass


def register(sub) -> None:
    p = sub.add_parser("dashboard", help="serve a read-only web page of the cluster: hosts, containers, "
                                         "the service graph, addresses, hosts files, events")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDRESS:PORT",
                   help=f"where to listen (default {DEFAULT_LISTEN}); beyond loopback every request needs "
                        f"the token printed at start or given in ${TOKEN_ENV}")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="how often the cluster is read and the page refreshed (0.5 to 5, default 2)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request on stderr")
    p.set_defaults(func=cmd_dashboard)
