"""``ls``: the projects running on the cluster, with their containers' states per host.

Docker holds the only record of what runs, so every host is asked at once for its nap-compose
containers and they are grouped by project. ``STATUS`` is docker compose's ``running(3)`` per host:
``node1: running(2); node2: exited(1), running(1)``. Without ``-a`` only projects with a running
container are listed, as docker compose does.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Dict

from napcompose.cli.hostviews import ask_hosts, print_table, raise_for_silent
from napcompose.errors import ExitStatus

def projects(results) -> Dict[str, dict]:
    """{project: {"hosts": {host: Counter(state)}}} from every host's containers."""
    found: Dict[str, dict] = {}
    for result in results:
        if not result.ok:
            continue
        for c in result.value:
            if c.replica is None:
                continue
            entry = found.setdefault(c.replica.project, {"hosts": {}})
            entry["hosts"].setdefault(result.key, Counter())[c.state] += 1
    return found


def status_text(hosts: Dict[str, Counter]) -> str:
    return "; ".join(f"{host}: " + ", ".join(f"{state}({n})" for state, n in sorted(states.items()))
                     for host, states in sorted(hosts.items()))


def cmd_ls(args, ctx) -> int:
    results = ask_hosts(ctx, lambda engine: engine.list_containers(None))
    found = projects(results)
    names = sorted(n for n, e in found.items()
                   if args.all or any(s.get("running") for s in e["hosts"].values()))
    if args.quiet:
        for name in names:
            ctx.out(name)
    elif args.format == "json":
        ctx.out(json.dumps([{"Name": n, "Status": status_text(found[n]["hosts"]),
                             "Hosts": {h: dict(sorted(s.items())) for h, s in sorted(found[n]["hosts"].items())}}
                            for n in names]))
    else:
        print_table(ctx, ("NAME", "STATUS"), [(n, status_text(found[n]["hosts"])) for n in names])
    raise_for_silent(results, "ls")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("ls", help="list the projects on the cluster, with their containers' states per host")
    p.add_argument("-a", "--all", action="store_true", help="also projects with no running container")
    p.add_argument("--format", choices=("table", "json"), default="table", help="json: one array of projects")
    p.add_argument("-q", "--quiet", action="store_true", help="only project names")
    p.set_defaults(func=cmd_ls)
