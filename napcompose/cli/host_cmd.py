"""`host evict` and `host readmit`: the operator's word that a host is gone for good, and taking it back.

An eviction is kept in the store. The next `up` then moves the host's replicas WITH their addresses,
releases the addresses kept there for older copies, and, if the host ever answers again, removes its
containers of the project before anything else happens there. `host readmit` forgets the eviction:
the host is an ordinary one again, and copies it still holds of replicas that moved on are removed
by the next `up` as superseded.
"""

from __future__ import annotations

from napcompose.errors import ExitStatus, UsageError
from napcompose.cli.common import load_project
from napcompose.cli.session import session_of
from napcompose.cli.locking import add_wait_option, hold_project_lock, identity


def _checked(ctx, host: str):
    """The cluster, the project and the store's evictions, once ``host`` is known to the cluster file."""
    session = session_of(ctx)
    cluster = session.cluster
    known = [h.name for h in cluster.hosts]
    if host not in known:
        raise UsageError(f"no host {host!r} in the cluster file (hosts: {', '.join(known)})")
    project = load_project(ctx)
    # the store's closer is registered before the lock's, so the store closes after the lock is given back
    hold_project_lock(ctx, project.name, cluster, session.store)
    return cluster, project, session.evictions()


def cmd_evict(args, ctx) -> int:
    cluster, project, evictions = _checked(ctx, args.host)
    holder = identity(ctx)
    if not evictions.evict(args.host, f"{holder.user}@{holder.machine} ({holder.command})"):
        ctx.out(f"host {args.host} was already evicted")
        return ExitStatus.OK
    ctx.out(f"host {args.host} evicted: the next `nap-compose up` moves its replicas of {project.name} with "
            "their addresses, and removes its containers of the project first if it ever answers again "
            f"(`nap-compose host readmit {args.host}` takes this back)")
    return ExitStatus.OK


def cmd_readmit(args, ctx) -> int:
    cluster, project, evictions = _checked(ctx, args.host)
    if not evictions.readmit(args.host):
        ctx.out(f"host {args.host} is not evicted")
        return ExitStatus.OK
    ctx.out(f"host {args.host} readmitted: it may run replicas again; the next `nap-compose up` removes the "
            "copies it still holds of replicas that moved on")
    return ExitStatus.OK


def cmd_list(args, ctx) -> int:
    found = session_of(ctx).evictions().evicted()
    if not found:
        ctx.out("no host is evicted")
    for host in sorted(found):
        ctx.out(f"{host}: evicted by {found[host].by}")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("host", help="declare a host gone for good (evict) or take it back (readmit)")
    host_sub = p.add_subparsers(dest="host_command", metavar="COMMAND", parser_class=type(p))
    evict = host_sub.add_parser("evict", help="the host is gone for good: its replicas move with their "
                                              "addresses at the next up")
    evict.add_argument("host", metavar="NODE")
    add_wait_option(evict)
    evict.set_defaults(func=cmd_evict)
    readmit = host_sub.add_parser("readmit", help="take an eviction back: the host is an ordinary one again")
    readmit.add_argument("host", metavar="NODE")
    add_wait_option(readmit)
    readmit.set_defaults(func=cmd_readmit)
    listing = host_sub.add_parser("ls", help="list the evicted hosts")
    listing.set_defaults(func=cmd_list)
