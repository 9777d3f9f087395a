"""``version``: nap-compose's version, and each host's Docker version when a cluster file is found."""

from __future__ import annotations

import json
import os

from napcompose import __version__
from napcompose.cli.common import cluster_path
from napcompose.cli.hostviews import ask_hosts, print_table
from napcompose.errors import ExitStatus, without_host


def cmd_version(args, ctx) -> int:
    if args.short:
        ctx.out(__version__)
        return ExitStatus.OK
    hosts = []
    if not args.no_hosts and os.path.exists(cluster_path(ctx)):
        for result in ask_hosts(ctx, lambda engine: engine.version()):
            doc = result.value if result.ok else {}
            hosts.append({"host": result.key, "docker": doc.get("Version", ""), "api": doc.get("ApiVersion", ""),
                          "error": "" if result.ok else without_host(result.key, result.error or "failed")})
    if args.format == "json":
        ctx.out(json.dumps({"version": __version__, "hosts": hosts}, sort_keys=True))
        return ExitStatus.OK
    ctx.out(f"nap-compose version {__version__}")
    if hosts:
        print_table(ctx, ("HOST", "DOCKER", "API"),
                    [(h["host"], h["docker"] or f"did not answer: {h['error']}", h["api"]) for h in hosts])
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("version", help="nap-compose's version, and each host's Docker version")
    p.add_argument("--format", choices=("pretty", "json"), default="pretty", help="json: one object")
    p.add_argument("--short", action="store_true", help="only nap-compose's version number")
    p.add_argument("--no-hosts", action="store_true", help="don't ask the hosts for their Docker version")
    p.set_defaults(func=cmd_version)
