"""Commands that look inside the running containers, on whichever host each runs: ``port``, ``top``, ``stats``.

Each asks the containers' hosts at once (``parallel.fan_out``) and names the host in what it prints.
"""

from __future__ import annotations

import re

from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for
from napcompose.cli.hostviews import print_table
from napcompose.cli.ps_view import raise_if_partial
from napcompose.cli.replicas import find_replica
from napcompose.errors import ExitStatus, HostError, UsageError, without_host
from napcompose.parallel import fan_out

_ANY = ("0.0.0.0", "::", "")


# ---------------------------------------------------------------------------- port


def private_port(text: str, protocol: str) -> str:
    """``80`` and ``tcp`` as Docker's key ``80/tcp``; a UsageError for anything but a port number."""
    if not re.fullmatch(r"[0-9]+", text or "") or not 1 <= int(text) <= 65535:
        raise UsageError(f"invalid port '{text}': expected a number from 1 to 65535")
    return f"{int(text)}/{protocol}"


def cmd_port(args, ctx) -> int:
    project = load_project(ctx)
    (service,) = check_services(project, [args.service])
    key = private_port(args.private_port, args.protocol)
    if args.index < 1:
        raise UsageError(f"invalid --index {args.index}: replicas count from 1")
    deploy = deploy_for(ctx)
    container = find_replica(deploy, project, service, args.index)
    bindings = deploy.engines[container.host].port(container.id, key)
    if not bindings:
        raise HostError(container.host, f"{container.name}: port {key} is not published")
    address, port = bindings[0]
    # A binding to every address of the host is reached at the host's address.
    if address in _ANY:
        address = deploy.cluster.host(container.host).address
    ctx.out(f"{address}:{port}")
    return ExitStatus.OK


# ---------------------------------------------------------------------------- top, stats


def _running(deploy, project, services):
    observation = deploy.orchestrator.ps(project.name, services, all=True)
    containers = [c for c in observation.containers
                  if c.state == "running" and c.id and not c.one_off and c.replica is not None]
    return observation, sorted(containers, key=lambda c: (c.replica, c.host))


def _ask(deploy, containers, question):
    """``question(engine, container)`` for every container at once; (container, result) pairs."""
    results = fan_out(containers, lambda c: question(deploy.engines[c.host], c), key=lambda c: f"{c.name}@{c.host}")
    return list(zip(containers, results))


def cmd_top(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    deploy = deploy_for(ctx)
    observation, containers = _running(deploy, project, services)
    failed = []
    for container, result in _ask(deploy, containers, lambda engine, c: engine.top(c.id)):
        if not result.ok:
            failed.append((f"{container.name} on {container.host}", without_host(container.host, result.error)))
            continue
        titles, processes = result.value
        ctx.out(f"{container.name} on {container.host}")
        print_table(ctx, titles, [list(p) for p in processes])
        ctx.out("")
    _raise_failed(failed, "top")
    raise_if_partial(observation, "top")
    return ExitStatus.OK


def _raise_failed(failed, what: str) -> None:
    if failed:
        from napcompose.errors import PartialFailure

        raise PartialFailure(f"{what}: {len(failed)} container(s) did not answer", failed)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024.0
    return f"{n}B"


def stats_row(container, doc) -> tuple:
    """One ``docker stats`` row from the engine's one-shot stats document."""
    cpu, pre = doc.get("cpu_stats") or {}, doc.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    cpu_percent = used / system * cpus * 100.0 if system > 0 and used > 0 else 0.0
    memory = doc.get("memory_stats") or {}
    cache = (memory.get("stats") or {}).get("inactive_file", 0)
    usage, limit = max(0, (memory.get("usage") or 0) - cache), memory.get("limit") or 0
    mem_percent = usage / limit * 100.0 if limit else 0.0
    nets = (doc.get("networks") or {}).values()
    rx, tx = sum(n.get("rx_bytes", 0) for n in nets), sum(n.get("tx_bytes", 0) for n in nets)
    blkio = (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ()
    read = sum(e.get("value", 0) for e in blkio if str(e.get("op", "")).lower() == "read")
    write = sum(e.get("value", 0) for e in blkio if str(e.get("op", "")).lower() == "write")
    pids = (doc.get("pids_stats") or {}).get("current", 0)
    return (container.name, container.host, f"{cpu_percent:.2f}%", f"{_size(usage)} / {_size(limit)}",
            f"{mem_percent:.2f}%", f"{_size(rx)} / {_size(tx)}", f"{_size(read)} / {_size(write)}", str(pids))


_STATS_HEADER = ("NAME", "HOST", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")


def _stats_once(ctx, deploy, project, services) -> None:
    observation, containers = _running(deploy, project, services)
    rows, failed = [], []
    for container, result in _ask(deploy, containers, lambda engine, c: engine.stats(c.id)):
        if result.ok:
            rows.append(stats_row(container, result.value))
        else:
            failed.append((f"{container.name} on {container.host}", without_host(container.host, result.error)))
    print_table(ctx, _STATS_HEADER, rows)
    _raise_failed(failed, "stats")
    raise_if_partial(observation, "stats")


def cmd_stats(args, ctx) -> int:
    project = load_project(ctx)
    services = check_services(project, args.services)
    deploy = deploy_for(ctx)
    if args.no_stream:
        _stats_once(ctx, deploy, project, services)
        return ExitStatus.OK
    clock = ctx.wiring.clock()
    try:
        while True:  # a fresh table every few seconds, until Ctrl-C
            if ctx.stdout.isatty():
                ctx.stdout.write("\033[2J\033[H")
            _stats_once(ctx, deploy, project, services)
            ctx.stdout.flush()
            clock.sleep(2.0)
    except KeyboardInterrupt:
        return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("port", help="print the host address and port a replica's private port is published on")
    p.add_argument("--index", type=int, default=1, metavar="N", help="which replica (default 1)")
    p.add_argument("--protocol", choices=("tcp", "udp"), default="tcp", help="the port's protocol (default tcp)")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("private_port", metavar="PRIVATE_PORT")
    p.set_defaults(func=cmd_port)

    p = sub.add_parser("top", help="show the processes of the running containers, each with its host")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_top)

    p = sub.add_parser("stats", help="one table of the running containers' resource use across hosts")
    p.add_argument("--no-stream", action="store_true", help="print one table and return")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_stats)
