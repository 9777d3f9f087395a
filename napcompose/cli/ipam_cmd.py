"""`nap-compose ipam ...`: record the pool, list, reserve and release addresses, collect leaks, migrate."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Optional

from napcompose.observe import observe_network
from napcompose.errors import ExitStatus, IpamError, UsageError
from napcompose.cli.deploy_wiring import QuietReporter, deploy_for, raise_on_failures
from napcompose.cli.session import session_of


def _since(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(frozen=True)
class _Row:
    """A line of ``ls``/``gc`` that is not an allocation: a host block, or a container found in one."""

    ip: str
    owner: str
    host: str
    state: str
    since: Optional[float]
    alloc_id: str = ""


def _block_rows(blocks, found=None) -> list:
    """Host blocks as ``ls`` rows (state ``block``); with ``found`` ({cidr: [(ip, container)]}) also the
    containers found in each block."""
    rows = []
    for b in blocks:
        rows.append(_Row(b.cidr, "(host block)", b.host, "block", b.since))
        for ip, name in (found or {}).get(b.cidr, []):
            rows.append(_Row(f"  {ip}", name, b.host, "in-block", None))
    return rows


def _sort_key(row):
    from napcompose.ipam.pool import parse_address

    return parse_address(row.ip.strip().split("/")[0])


def _table(ctx, allocations) -> None:
    rows = [("ADDRESS", "OWNER", "HOST", "STATE", "SINCE")]
    rows += [(a.ip, a.owner, a.host or "-", a.state, "-" if a.since is None else _since(a.since))
             for a in allocations]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        ctx.out("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])


def cmd_init(args, ctx) -> int:
    session = session_of(ctx)
    cluster = session.cluster
    ipam = session.ipam()
    status, diffs = ipam.init(force=args.force)
    pool = ipam.pool
    what = f"address pool {pool.describe()} ({pool.size} addresses)"
    if status == "created":
        ctx.out(f"{what} recorded in {cluster.store.url}")
    elif status == "unchanged":
        ctx.out(f"{what} already recorded in {cluster.store.url}; nothing to do")
    else:
        ctx.out(f"{what} replaced the one in {cluster.store.url} ({'; '.join(diffs)})")
        outside = [a for a in ipam.allocations() if not pool.contains(a.ip)]
        for a in outside:
            ctx.err(f"WARNING: {a.ip} ({a.owner}) is outside the new pool; it stays reserved until released")
    return ExitStatus.OK


def _in_blocks(ctx, session, blocks) -> dict:
    """{block: [(ip, container)]} of the containers each host reports inside its block."""
    from napcompose.ipam.blocks import contains

    views, unreachable = observe_network(session.cluster, session.engines)
    for name in sorted(unreachable):
        ctx.err(f"WARNING: host {name} is unreachable ({unreachable[name]}); its block's containers are not listed")
    found: dict = {}
    for view in views:
        for b in blocks:
            if b.host == view.host:
                found[b.cidr] = [(e.ip, e.container) for e in view.endpoints if e.ip and contains(b.cidr, e.ip)]
    return found


def cmd_ls(args, ctx) -> int:
    session = session_of(ctx)
    ipam = session.ipam()
    allocations = ipam.allocations()
    blocks = session.host_blocks().list()
    bad = ipam.bad_records()  # also warned about on stderr; listed last, by key
    found = _in_blocks(ctx, session, blocks) if args.all else None
    rows = sorted(list(allocations) + [r for r in _block_rows(blocks) if r.state == "block"], key=_sort_key)
    rows += [_Row(r.ip or "-", r.key, "-", "malformed", None) for r in bad]
    if args.format == "json":
        out = []
        for a in rows:
            if a.state == "malformed":
                record = next(r for r in bad if r.key == a.owner)
                out.append({"address": record.ip, "key": record.key, "state": "malformed", "detail": record.message})
                continue
            row = {"address": a.ip, "owner": a.owner, "host": a.host, "state": a.state,
                   "since": _since(a.since), "alloc_id": a.alloc_id}
            if a.state == "block":
                del row["alloc_id"]
                if found is not None:
                    row["containers"] = [{"address": ip, "name": n} for ip, n in found.get(a.ip, [])]
            out.append(row)
        ctx.out(json.dumps(out, indent=2))
    else:
        table = []
        for a in rows:
            table.append(a)
            if a.state == "block" and found is not None:
                table += [r for r in _block_rows([b for b in blocks if b.cidr == a.ip], found) if r.state != "block"]
        _table(ctx, table)
    return ExitStatus.OK


def cmd_reserve(args, ctx) -> int:
    from napcompose.ipam.records import check_host, check_owner

    from napcompose.ipam.pool import parse_address

    check_owner(args.owner)  # bad input fails before the store is opened
    check_host(args.host)
    if args.ip is not None:
        parse_address(args.ip)
    ipam = session_of(ctx).ipam()
    alloc = ipam.ensure(args.owner, args.host, args.ip)
    ipam.flush()
    ctx.out(alloc.ip)
    return ExitStatus.OK


def cmd_release(args, ctx) -> int:
    from napcompose.ipam.pool import parse_address
    from napcompose.ipam.records import check_owner

    if args.address is None and args.owner is None:
        raise UsageError("ipam release: give the ADDRESS to release or --owner PROJECT/SERVICE/N")
    if args.address is not None:
        parse_address(args.address)
    if args.owner is not None:
        check_owner(args.owner)
    ipam = session_of(ctx).ipam()
    if args.address is None:
        alloc = ipam.release_owner(args.owner)
        if alloc is None:
            raise IpamError(f"{args.owner} holds no address")
    else:
        alloc = ipam.holder(args.address)
        if alloc is None:
            raise IpamError(f"address {args.address} is not reserved")
        # With --owner the release is checked against it; without, the operator names the address itself.
        ipam.release(alloc.ip, args.owner or alloc.owner)
    ipam.flush()
    ctx.out(f"released {alloc.ip} ({alloc.owner})")
    return ExitStatus.OK


def _records(ipam, clock, blocks, locks, locked_before=()):
    """The address book as gc reads it: claims first, so an address written meanwhile is never
    mistaken for a stray (a stray must also be older than the grace period); then the host blocks;
    then the project locks again (with ``locked_before``, read before the hosts were observed)."""
    from napcompose.planner import AddressRecords

    claims = ipam.claims()
    allocations = tuple(ipam.allocations())
    read_at = clock.now()
    locked = tuple(sorted(set(locked_before) | set(locks())))
    return AddressRecords(tuple(sorted(claims.items())), allocations, read_at, ipam.GRACE_S,
                          tuple(blocks.list()), locked)


def _locked_projects(session):
    """The projects whose lock record is in the store: a command is changing them (or crashed)."""
    prefix = session.cluster.store.prefix.rstrip("/")
    return [key.rsplit("/", 1)[1] for key in session.store.list(f"{prefix}/locks/")]


def cmd_gc(args, ctx) -> int:
    from napcompose.model import RunReport
    from napcompose.planner import Addresses, Command, Options, Release, plan
    from napcompose.planner.gc import kept_locked, kept_on
    from napcompose.planner.network_actions import ReleaseBlock

    session = session_of(ctx)
    deploy = deploy_for(ctx, reporter=QuietReporter(ctx))
    locked_before = _locked_projects(session)
    # The same observation every deploy command reads: every host at once, every nap container.
    observation = deploy.orchestrator.observe(None, everything=True)
    records = _records(deploy.ipam, session.clock, session.host_blocks(), lambda: _locked_projects(session),
                       locked_before)
    kept = kept_on(records, observation.down)
    for name in sorted(observation.down):
        ctx.err(f"WARNING: host {name} is unreachable ({observation.down[name]}); its {kept[name]} allocation(s) "
                "are kept")
    for project, count in sorted(kept_locked(observation, records).items()):
        ctx.err(f"WARNING: project {project} is being changed (its lock is held): its {count} address(es) without "
                "a container are kept; run gc again once that command is done")
    the_plan = plan(None, observation, Addresses(), Options(), Command.GC, records=records)
    by_ip = {a.ip: a for a in records.allocations}
    leaked = [by_ip[a.ip] for a in the_plan.actions if isinstance(a, Release)]
    orphans = [b for b in records.blocks if any(isinstance(a, ReleaseBlock) and a.host == b.host
                                                for a in the_plan.actions)]
    if not leaked and not orphans:
        ctx.out("no leaked addresses")
        return ExitStatus.OK
    _table(ctx, sorted(list(leaked) + _block_rows(orphans), key=_sort_key))
    if not args.yes:
        if leaked:
            ctx.out(f"{len(leaked)} leaked address(es); `nap-compose ipam gc --yes` releases them")
        if orphans:
            ctx.out(f"{len(orphans)} block(s) of host(s) no longer in the cluster file; make sure their network "
                    "is gone, then `nap-compose ipam gc --yes` releases them")
        return ExitStatus.OK
    report = deploy.orchestrator.execute(None, the_plan, Addresses(), Options())
    done = list(zip(the_plan.actions, report.outcomes))
    for action, outcome in done:
        if isinstance(action, Release) and outcome.ok:
            ctx.out(f"released {action.ip} ({action.owner})")
    # the blocks wait for every address: a failed release leaves them, and is what the error lists
    raise_on_failures(RunReport(tuple(o for a, o in done if isinstance(a, Release))), "ipam gc")
    for action, outcome in done:
        if isinstance(action, ReleaseBlock) and outcome.ok:
            ctx.out(f"released block {action.block} (host {action.host})")
    raise_on_failures(RunReport(tuple(o for a, o in done if isinstance(a, ReleaseBlock))), "ipam gc")
    deploy.ipam.flush()
    return ExitStatus.OK


def cmd_migrate(args, ctx) -> int:
    from dataclasses import replace

    from napcompose.errors import StoreError
    from napcompose.ipam.migrate import migrate
    from napcompose.clustermodel import StoreSpec

    session = session_of(ctx)
    cluster = session.cluster
    source_spec = cluster.store
    target_url = args.to.strip()
    if not target_url.startswith(("etcd://", "etcd3://", "file://")):
        raise UsageError(f"ipam migrate --to '{target_url}': use etcd://host:port[,host:port] (v2 API), "
                         "etcd3://host:port[,host:port] (v3 API) or file:///path")
    if target_url.rstrip("/") == source_spec.url.rstrip("/"):
        raise UsageError(f"ipam migrate --to {target_url}: that is the cluster file's own store")
    # An etcd target keeps the cluster file's TLS and credentials (the same etcd through another API,
    # typically); a file target needs none.
    same_kind = not target_url.startswith("file://") and not source_spec.url.startswith("file://")
    target_spec = replace(source_spec, url=target_url) if same_kind else \
        StoreSpec(url=target_url, prefix=source_spec.prefix, timeout_s=source_spec.timeout_s)
    source = session.store.opened()  # the command's one client of the cluster file's store
    target = ctx.wiring.store(replace(cluster, store=target_spec))
    if hasattr(target, "close"):
        ctx.on_close(target.close)
    if target is source:
        raise StoreError(f"ipam migrate --to {target_url}: that is the cluster file's own store")
    done = migrate(source, target, source_spec.prefix, source_spec.url, target_url)
    ctx.out(f"copied {done.copied} key(s) under {source_spec.prefix} from {source_spec.url} to {target_url}: "
            f"{done.describe()}")
    ctx.out(f"verified: {target_url} holds the same {done.copied} key(s) with the same values")
    ctx.out(f"next: set `store.url: {target_url}` in {cluster.source or 'the cluster file'}, then start writers again")
    return 0


def register(sub) -> None:
    p = sub.add_parser("ipam", help="the cluster's address pool: init, ls, reserve, release, gc, migrate")
    ipam_sub = p.add_subparsers(dest="ipam_command", metavar="COMMAND", parser_class=type(p))
    init = ipam_sub.add_parser("init", help="record the cluster file's pool in the store (idempotent)")
    init.add_argument("--force", action="store_true", help="replace a different pool already recorded")
    init.set_defaults(func=cmd_init)
    ls = ipam_sub.add_parser("ls", help="list the reserved addresses and the host blocks")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("--all", action="store_true", help="also list the containers each host has in its block")
    ls.set_defaults(func=cmd_ls)
    reserve = ipam_sub.add_parser("reserve", help="reserve an address for an owner and print it")
    reserve.add_argument("--owner", required=True, metavar="PROJECT/SERVICE/N")
    reserve.add_argument("--ip", metavar="ADDRESS", help="reserve exactly this address")
    reserve.add_argument("--host", metavar="HOST", help="the host the owner runs on")
    reserve.set_defaults(func=cmd_reserve)
    release = ipam_sub.add_parser("release", help="release an address, or the address of an owner")
    release.add_argument("address", nargs="?", metavar="ADDRESS")
    release.add_argument("--owner", metavar="PROJECT/SERVICE/N")
    release.set_defaults(func=cmd_release)
    gc = ipam_sub.add_parser("gc", help="list addresses whose container is gone from a reachable host")
    gc.add_argument("--yes", action="store_true", help="release them")
    gc.set_defaults(func=cmd_gc)
    migrate = ipam_sub.add_parser("migrate", help="copy the whole pool to another (empty) store",
                                  description="Copy every key under the store prefix (pool, addresses, owner "
                                              "claims, free-space hints) from the cluster file's store to the "
                                              "empty store at URL and verify it. Stop every command that writes "
                                              "to the pool first; afterwards point store.url at URL.")
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="etcd://host:port[,...], etcd3://host:port[,...] or file:///path")
    migrate.set_defaults(func=cmd_migrate)
