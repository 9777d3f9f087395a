"""`nap-compose ipam ...`: record the pool, list, reserve and release addresses, collect leaks, migrate."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Set

from napcompose.errors import HostError, IpamError, UsageError
from napcompose.cli.common import load_cluster


def _since(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _open(ctx, cluster):
    """The Ipam over the cluster's store; the store is closed when the command ends."""
    from napcompose.ipam import Ipam, Pool

    pool = Pool.from_cluster(cluster)
    store = ctx.wiring.store(cluster)
    if hasattr(store, "close"):
        ctx.on_close(store.close)
    new_id = getattr(ctx.wiring, "new_id", None) or (lambda: uuid.uuid4().hex)
    return Ipam(store, pool, cluster.store.prefix, ctx.wiring.clock(), new_id)


def _table(ctx, allocations) -> None:
    rows = [("ADDRESS", "OWNER", "HOST", "STATE", "SINCE")]
    rows += [(a.ip, a.owner, a.host or "-", a.state, _since(a.since)) for a in allocations]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        ctx.out("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])


def cmd_init(args, ctx) -> int:
    cluster = load_cluster(ctx)
    ipam = _open(ctx, cluster)
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
    return 0


def cmd_ls(args, ctx) -> int:
    cluster = load_cluster(ctx)
    allocations = _open(ctx, cluster).allocations()
    if args.format == "json":
        ctx.out(json.dumps([{"address": a.ip, "owner": a.owner, "host": a.host, "state": a.state,
                             "since": _since(a.since), "alloc_id": a.alloc_id} for a in allocations], indent=2))
    else:
        _table(ctx, allocations)
    return 0


def cmd_reserve(args, ctx) -> int:
    from napcompose.ipam.records import check_host, check_owner

    from napcompose.ipam.pool import parse_address

    check_owner(args.owner)  # bad input fails before the store is opened
    check_host(args.host)
    if args.ip is not None:
        parse_address(args.ip)
    cluster = load_cluster(ctx)
    ipam = _open(ctx, cluster)
    alloc = ipam.ensure(args.owner, args.host, args.ip)
    ipam.flush()
    ctx.out(alloc.ip)
    return 0


def cmd_release(args, ctx) -> int:
    from napcompose.ipam.pool import parse_address
    from napcompose.ipam.records import check_owner

    if args.address is None and args.owner is None:
        raise UsageError("ipam release: give the ADDRESS to release or --owner PROJECT/SERVICE/N")
    if args.address is not None:
        parse_address(args.address)
    if args.owner is not None:
        check_owner(args.owner)
    cluster = load_cluster(ctx)
    ipam = _open(ctx, cluster)
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
    return 0


def _observe(ctx, cluster):
    """{host: live owners} of the hosts that answered, and {host: error} of those that did not."""
    accept = bool(getattr(ctx.args, "accept_new_host_keys", False) or cluster.accept_new_host_keys)
    connections = ctx.wiring.connections(cluster, accept_new_host_keys=accept)
    if hasattr(connections, "close"):
        ctx.on_close(connections.close)

    def observe(host):
        engine = ctx.wiring.engine(host, connections)
        return {c.replica.owner for c in engine.list_containers(None) if c.replica is not None}

    live: Dict[str, Set[str]] = {}
    unreachable: Dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(cluster.hosts)))) as workers:
        futures = {host.name: workers.submit(observe, host) for host in cluster.hosts}
    for name, future in futures.items():
        try:
            live[name] = future.result()
        except HostError as exc:
            unreachable[name] = str(exc)
    return live, unreachable


def cmd_gc(args, ctx) -> int:
    cluster = load_cluster(ctx)
    ipam = _open(ctx, cluster)
    live, unreachable = _observe(ctx, cluster)
    for name in sorted(unreachable):
        kept = sum(1 for a in ipam.allocations() if a.host == name)
        ctx.err(f"WARNING: host {name} is unreachable ({unreachable[name]}); its {kept} allocation(s) are kept")
    leaked = ipam.gc(live, set(unreachable))
    if not leaked:
        ctx.out("no leaked addresses")
        return 0
    _table(ctx, leaked)
    if not args.yes:
        ctx.out(f"{len(leaked)} leaked address(es); `nap-compose ipam gc --yes` releases them")
        return 0
    for alloc in leaked:
        ipam.release(alloc.ip, alloc.owner)
        ctx.out(f"released {alloc.ip} ({alloc.owner})")
    ipam.flush()
    return 0


def cmd_migrate(args, ctx) -> int:
    from dataclasses import replace

    from napcompose.errors import StoreError
    from napcompose.ipam.migrate import migrate
    from napcompose.model import StoreSpec

    cluster = load_cluster(ctx)
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
    source = ctx.wiring.store(cluster)
    if hasattr(source, "close"):
        ctx.on_close(source.close)
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
    ls = ipam_sub.add_parser("ls", help="list the reserved addresses")
    ls.add_argument("--format", choices=("table", "json"), default="table")
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
