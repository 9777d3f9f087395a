"""``nap-compose doctor``: is every host and the store ready for the product? One line per check, with the fix.

Every host is asked at once (over its SSH connection, as every command reaches it), the store beside
them; napcompose/doctor/ judges the facts. Exit 1 when a check failed; warnings leave it 0.
"""

from __future__ import annotations

import json

from napcompose.cli.session import session_of
from napcompose.errors import NapComposeError
from napcompose.parallel import fan_out

_STORE = "store"


def register(subparsers) -> None:
    from napcompose.doctor import CHECKS

    listing = "; ".join(f"{name}: {what}" for name, what in CHECKS)
    p = subparsers.add_parser(
        "doctor", help="check every host and the store: SSH, Docker, the bridge, MTU, clock, resolver, pool",
        description="Ask every host of the cluster file at once, and the address store, what the product needs "
                    "of them, and print one line per check with the fix. Exits 1 when a check failed (warnings "
                    f"exit 0). Checks: {listing}.")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_doctor)


def _store_facts(ctx, session):
    from napcompose.doctor import StoreFacts

    cluster = session.cluster
    spec = cluster.store
    base = dict(url=spec.url, tls=bool(spec.ca_cert or spec.cert), client_cert=bool(spec.cert),
                auth=bool(spec.username))
    try:
        session.store.opened()
    except NapComposeError as exc:
        return StoreFacts(error=str(exc), **base)
    members = tuple(ctx.wiring.store_members(spec))
    try:
        ipam = session.ipam()
        pool = ipam.pool
        used = sum(1 for a in ipam.allocations() if pool.contains(a.ip))
        return StoreFacts(members=members, pool_size=pool.size, pool_used=used, **base)
    except NapComposeError as exc:
        return StoreFacts(members=members, pool_size=0, pool_error=str(exc), **base)


def cmd_doctor(args, ctx) -> int:
    from napcompose.doctor import Level, exit_status, judge_host, judge_store

    session = session_of(ctx)
    cluster = session.cluster
    connections = session.connections

    def one(item):
        if item == _STORE:
            return judge_store(cluster, _store_facts(ctx, session))
        return judge_host(cluster, item, ctx.wiring.doctor_host_facts(cluster, item, connections))

    items = [_STORE] + list(cluster.hosts)
    results = fan_out(items, one, key=lambda i: i if i == _STORE else i.name)
    verdicts = []
    for result in results[1:] + results[:1]:  # hosts first, in the cluster file's order, then the store
        if not result.ok:
            raise NapComposeError(f"doctor: {result.key}: {result.error}")
        verdicts.extend(result.value)
    counts = {level: sum(1 for v in verdicts if v.level is level) for level in Level}
    if args.format == "json":
        ctx.out(json.dumps({"ok": counts[Level.FAIL] == 0, "checks": [v.as_dict() for v in verdicts],
                            "counts": {level.value: n for level, n in counts.items()}}, indent=2))
        return exit_status(verdicts)
    subject = max(len(v.subject) for v in verdicts)
    check = max(len(v.check) for v in verdicts)
    for v in verdicts:
        fix = f" | fix: {v.fix}" if v.fix else ""
        ctx.out(f"{v.subject:<{subject}}  {v.check:<{check}}  {v.level.value.upper():<4}  {v.detail}{fix}")
    ctx.out(f"doctor: {len(cluster.hosts)} host(s) and the store: {counts[Level.OK]} ok, {counts[Level.WARN]} "
            f"warning(s), {counts[Level.FAIL]} failure(s), {counts[Level.SKIP]} skipped")
    return exit_status(verdicts)
