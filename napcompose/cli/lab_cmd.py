"""``nap-compose lab up|down|status|exec|etcd|partition|heal|kill|revive``: a local multi-host lab to try
and test nap-compose on, with faults on demand."""

from __future__ import annotations

import argparse
import json
import subprocess

from napcompose.errors import ExitStatus
from napcompose.errors import LabError, UsageError

DEFAULT_DIR = ".lab"


def register(subparsers) -> None:
    lab = subparsers.add_parser("lab", help="a local multi-host lab (network namespaces, dockerd, sshd, etcd)",
                                description="A local lab of Docker hosts on one layer-2 segment, run as root.")
    sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    lab.set_defaults(func=lambda args, ctx: _no_subcommand(lab, ctx))

    up = sub.add_parser("up", help="build the lab (or report the one that runs)",
                        description="Build the lab: one namespace per host with its own dockerd and sshd, a "
                                    "router namespace without uplink, etcd, the base image and the br0 network.")
    # Unset options take the values of the lab that already runs in DIR, so `lab up` again just reports it.
    up.add_argument("--hosts", type=int, default=None, metavar="N", help="number of hosts, 1 to 8 (default 3)")
    _dir_option(up)
    up.add_argument("--subnet", default=None, metavar="CIDR",
                    help="the lab's layer-2 subnet (default 198.18.0.0/24, set aside for network tests)")
    up.add_argument("--name", default=None, metavar="NAME",
                    help="prefix of the lab's namespaces and links, at most 8 characters (default nap)")
    up.add_argument("--etcd-members", type=int, default=None, metavar="N",
                    help="etcd members: 1 (default), or 3 or 5 for a replicated etcd on their own lab addresses")
    up.add_argument("--bare", action="store_const", const=True, default=None,
                    help="hosts with Docker and sshd only: no br0 and no network, each address on eth0, to "
                         "follow docs/real-hosts.md on")
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop the lab's processes and remove its namespaces, links and files")
    _dir_option(down)
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="hosts, addresses and process health of the lab")
    _dir_option(status)
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.set_defaults(func=_status)

    etcd = sub.add_parser("etcd", help="the lab's etcd members: status, kill-leader, revive",
                          description="Leader failures on demand for tests and demos.")
    etcd_sub = etcd.add_subparsers(dest="etcd_command", metavar="ETCD_COMMAND")
    etcd.set_defaults(func=lambda args, ctx: _no_subcommand(etcd, ctx))
    for command, text, func in (("status", "each member: address, pid, leader", _etcd_status),
                                ("kill-leader", "SIGKILL the member the others follow (a crash)", _etcd_kill_leader),
                                ("revive", "start every dead member again; it rejoins the cluster", _etcd_revive)):
        parser = etcd_sub.add_parser(command, help=text)
        _dir_option(parser)
        parser.set_defaults(func=func)

    for name, text in (("partition", "cut a host's link to the switch: its packets go nowhere"),
                       ("heal", "plug a partitioned host back into the switch"),
                       ("kill", "power a host's daemons off: its containers' processes, dockerd and sshd"),
                       ("revive", "start a killed host's dockerd and sshd again, with its disk as it was")):
        fault = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + " (idempotent).")
        _dir_option(fault)
        fault.add_argument("host", metavar="HOST")
        fault.set_defaults(func=_fault, fault=name)

    run = sub.add_parser("exec", help="run a command in a lab host's namespace (a shell when none)",
                         description="Run CMD inside HOST's network namespace with DOCKER_HOST set to that "
                                     "host's daemon, e.g. `nap-compose lab exec node1 -- docker ps`.")
    _dir_option(run)
    run.add_argument("host", metavar="HOST")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")
    run.set_defaults(func=_exec)


def _dir_option(parser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, metavar="DIR",
                        help=f"the lab's directory (default ./{DEFAULT_DIR})")


def _no_subcommand(parser, ctx) -> int:
    parser.print_help(ctx.stdout)
    return ExitStatus.USAGE


def _path(ctx, directory: str) -> str:
    import os

    return os.path.join(ctx.cwd, directory)


def _up(args, ctx) -> int:
    from napcompose.lab import lab_up

    status, already, seconds = lab_up(args.name, args.subnet, args.hosts, _path(ctx, args.dir),
                                      say=lambda line: ctx.out(f"lab: {line}"), etcd_members=args.etcd_members,
                                      bare=args.bare)
    if already:
        ctx.out(f"lab '{status['name']}' already runs in {status['dir']}")
    else:
        ctx.out(f"lab '{status['name']}' is up in {seconds:.1f} s")
    _print_table(ctx, status)
    ctx.out(f"cluster file: {status['cluster_file']}")
    ctx.out(f"try: nap-compose --cluster {status['cluster_file']} network create   |   "
            f"nap-compose lab exec --dir {args.dir} node1 -- docker ps")
    return ExitStatus.OK


def _down(args, ctx) -> int:
    from napcompose.lab import lab_down

    left = lab_down(_path(ctx, args.dir), say=lambda line: ctx.out(f"lab: {line}"))
    if left:
        raise LabError("lab down left behind: " + "; ".join(left))
    ctx.out(f"lab in {_path(ctx, args.dir)} is down: no process, namespace, link or file left")
    return ExitStatus.OK


def _status(args, ctx) -> int:
    from napcompose.lab import lab_status

    status = lab_status(_path(ctx, args.dir))
    if args.format == "json":
        ctx.out(json.dumps(status, indent=2, sort_keys=True))
    else:
        ctx.out(f"lab '{status['name']}' in {status['dir']}: {'healthy' if status['healthy'] else 'NOT healthy'}")
        _print_table(ctx, status)
    return 0 if status["healthy"] else 1


def _fault(args, ctx) -> int:
    from napcompose.lab import faults
    from napcompose.lab.lifecycle import revive_host

    directory = _path(ctx, args.dir)
    act = {"partition": faults.partition, "heal": faults.heal, "kill": faults.kill, "revive": revive_host}
    ctx.out(f"lab: {act[args.fault](directory, args.host)}")
    return 0


def _print_table(ctx, status) -> None:
    def state(proc, killed=False):
        if proc["running"]:
            return f"up (pid {proc['pid']})"
        return "KILLED" if killed else "DOWN"

    ctx.out(f"  {'HOST':<8} {'ADDRESS':<15} {'DOCKERD':<18} {'SSHD':<18} {'LINK':<12} NAMESPACE")
    for host in status["hosts"]:
        link = "PARTITIONED" if host.get("partitioned") else "up"
        ctx.out(f"  {host['name']:<8} {host['address']:<15} {state(host['dockerd'], host.get('killed')):<18} "
                f"{state(host['sshd'], host.get('killed')):<18} {link:<12} {host['namespace']}")
    ctx.out(f"  {'router':<8} {status['router']:<15} (no default route, no uplink)")
    for member in status["etcd"]["members"]:
        role = " leader" if member["leader"] else ""
        ctx.out(f"  {member['key']:<8} {member['address']:<15} {state(member)}{role}")
    for registry in status.get("registries", ()):
        what = "htpasswd" if registry["auth"] else "open, seeded"
        ctx.out(f"  {registry['key']:<13} {registry['address']:<20} {state(registry)} ({what})")
    if status.get("registry"):
        ctx.out(f"registry {status['registry']}")


def _etcd_status(args, ctx) -> int:
    from napcompose.lab import etcd

    members = etcd.status(etcd.layout_in(_path(ctx, args.dir)))
    ctx.out(f"  {'MEMBER':<8} {'ADDRESS':<15} {'PROCESS':<18} {'HEALTH':<8} ROLE")
    for m in members:
        process = f"up (pid {m['pid']})" if m["running"] else "DOWN"
        role = "leader" if m["leader"] else ("follower" if m["answers"] else "-")
        ctx.out(f"  {m['key']:<8} {m['address']:<15} {process:<18} {'healthy' if m['answers'] else '-':<8} {role}")
    return 0 if all(m["answers"] for m in members) else 1


def _etcd_kill_leader(args, ctx) -> int:
    from napcompose.lab import etcd

    member = etcd.kill_leader(etcd.layout_in(_path(ctx, args.dir)))
    ctx.out(f"killed etcd member {member.name} ({member.address}), the leader; "
            f"`nap-compose lab etcd revive --dir {args.dir}` starts it again")
    return 0


def _etcd_revive(args, ctx) -> int:
    from napcompose.lab import etcd

    revived = etcd.revive(etcd.layout_in(_path(ctx, args.dir)))
    if not revived:
        ctx.out("every etcd member runs already")
    for member in revived:
        ctx.out(f"revived etcd member {member.name} ({member.address}); it is healthy again")
    return 0


def _exec(args, ctx) -> int:
    from napcompose.lab import exec_argv

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if command and command[0].startswith("-"):
        raise UsageError(f"lab exec: put `--` before the command ({command[0]} looks like an option)")
    argv, env = exec_argv(_path(ctx, args.dir), args.host, command)
    try:
        return subprocess.run(argv, env=env).returncode
    except OSError as exc:
        raise LabError(f"{args.host}: cannot run {command[0] if command else 'a shell'}: {exc.strerror}") from exc
