"""``volumes``: the project's named volumes on every host, with their driver and the containers using them.

A named volume lives on the host whose engine made it, so one volume key may exist on several
hosts (one copy per host that ran a replica mounting it); each copy is a row. ``down -v`` removes
them (planner/volumes.py).
"""

from __future__ import annotations

import json

from napcompose.cli.common import load_project
from napcompose.cli.hostviews import ask_hosts, print_table, raise_for_silent
from napcompose.errors import ExitStatus


def _rows(project, results):
    wanted = {v.name: v for v in project.volumes}
    rows = []
    for result in results:
        if not result.ok:
            continue
        volumes, containers = result.value
        for name, driver in volumes:
            if name not in wanted:
                continue
            users = sorted(c.name for c in containers if name in c.mounts)
            rows.append({"Name": name, "Key": wanted[name].key, "Host": result.key, "Driver": driver,
                         "External": wanted[name].external, "UsedBy": users})
    return sorted(rows, key=lambda r: (r["Name"], r["Host"]))


def cmd_volumes(args, ctx) -> int:
    project = load_project(ctx)
    results = ask_hosts(ctx, lambda engine: (engine.list_volumes(), engine.list_containers(None)))
    rows = _rows(project, results)
    if args.quiet:
        for name in dict.fromkeys(r["Name"] for r in rows):
            ctx.out(name)
    elif args.format == "json":
        for row in rows:
            ctx.out(json.dumps(row, sort_keys=True))
    else:
        print_table(ctx, ("NAME", "HOST", "DRIVER", "USED BY"),
                    [(r["Name"] + (" (external)" if r["External"] else ""), r["Host"], r["Driver"],
                      ", ".join(r["UsedBy"]) or "-") for r in rows])
    raise_for_silent(results, "volumes")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("volumes", help="list the project's named volumes on every host, with the containers using them")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="json: one object per line (Name, Key, Host, Driver, External, UsedBy)")
    p.add_argument("-q", "--quiet", action="store_true", help="only volume names")
    p.set_defaults(func=cmd_volumes)
