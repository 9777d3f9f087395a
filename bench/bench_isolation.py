"""What isolation groups cost: `up -d` of 60 containers with and without the bridge filters, and
the size of one host's table for 100 projects.

1. `up -d` of 60 containers (20 services x 3, each linking the one before) on 3 hosts of the bench
   lab, alternately with `network.isolation` on and off (two cluster files over the same hosts), in
   the same run, --rounds times each, `down` after each; the medians and their ratio (goal <= 1.05x).
2. One host's table when 100 projects of 5 services over 2 networks each (a front/back split) run on
   3 hosts: rules, set elements, text size, and how long `nft -f` takes to load it in a scratch
   network namespace of this machine (no interface in it: nothing is sent).

    python3 bench/bench_isolation.py [--rounds 2] [--keep-lab] [--table-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid

import yaml

import benchlib as lib


def with_isolation(cluster: str, on: bool) -> str:
    with open(cluster) as f:
        data = yaml.safe_load(f)
    data["network"]["isolation"] = on
    path = cluster.replace(".yml", f"-isolation-{'on' if on else 'off'}.yml")
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def up_and_down(workdir: str, cluster: str, total: int) -> float:
    project = f"bi{uuid.uuid4().hex[:6]}"
    env = lib.nap_env(cluster)
    seconds, _ = lib.run(lib.nap_argv("-p", project, "up", "-d"), env=env, cwd=workdir)
    _, ps = lib.run(lib.nap_argv("-p", project, "ps", "--format", "json"), env=env, cwd=workdir)
    rows = [json.loads(line) for line in ps.stdout.splitlines() if line]
    assert len(rows) == total and all(r["State"] == "running" for r in rows), rows
    lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=env, cwd=workdir)
    return seconds


def up_cost(rounds: int, services: int, scale: int, hosts: int) -> None:
    cluster = lib.cluster_subset(hosts)
    files = {True: with_isolation(cluster, True), False: with_isolation(cluster, False)}
    workdir = tempfile.mkdtemp(prefix="bench-iso-")
    lib.write_compose(workdir, lib.chain_services(services, scale))
    total = services * scale
    times = {True: [], False: []}
    for round_ in range(rounds):
        for on in ((True, False) if round_ % 2 == 0 else (False, True)):
            times[on].append(up_and_down(workdir, files[on], total))
    # the filters the runs with isolation left: the hosts go back to none
    lib.run(lib.nap_argv("network", "create"), env=lib.nap_env(files[False]), check=False)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"up -d of {total} containers ({services} services x {scale}) on {hosts} hosts, {rounds} runs each, "
          f"alternating (median)")
    print(f"  with isolation:    {on:6.1f} s  {' '.join(f'{t:.1f}' for t in times[True])}")
    print(f"  without isolation: {off:6.1f} s  {' '.join(f'{t:.1f}' for t in times[False])}")
    print(f"  with / without = {lib.ratio(on, off)} (goal <= 1.05x)")


def table_of_100_projects():
    """One host's rules for 100 projects x 5 services (web, api on front; api, db, cache, worker on back)."""
    from napcompose.isolation.groups import members
    from napcompose.isolation.ruleset import host_rules, render, rule_count
    from napcompose.model import (Allocation, BridgePort, NetworkAttachment, ObservedContainer, Project, Replica,
                                  ServiceSpec)

    services = {"web": ("front",), "api": ("front", "back"), "db": ("back",), "cache": ("back",),
                "worker": ("back",)}
    allocations, containers, ports = [], [], []
    address = 0
    for n in range(100):
        project = Project(f"p{n:03d}", tuple(ServiceSpec(s, "busybox", networks=tuple(NetworkAttachment(x) for x in nets))
                                             for s, nets in services.items()))
        for spec in project.services:
            ip = f"10.0.{address // 250}.{address % 250 + 1}"
            address += 1
            host = f"node{address % 3 + 1}"
            allocations.append(Allocation(ip, f"{project.name}/{spec.name}/1", host, "bound", 0.0, "x"))
            labels = (("io.nap-compose.groups", ",".join(services[spec.name])),)
            containers.append(ObservedContainer(host, f"c{address}", spec.name, Replica(project.name, spec.name, 1),
                                                None, "running", ip=ip, labels=labels))
            if host == "node1":
                ports.append(BridgePort(f"veth{address:07x}", ip, "02:42:0a:00:%02x:%02x" % (address // 256,
                                                                                          address % 256)))
    found = members(allocations, containers)
    rules = host_rules("node1", ("10.0.0.0/16",), found, ports)
    return rules, render(rules), rule_count(rules)


def table_cost() -> None:
    rules, text, count = table_of_100_projects()
    elements = sum(len(ips) for _, ips in rules.groups) + len(rules.local) + 3 * len(rules.ports) + len(rules.pool)
    print("one host's table, 100 projects x 5 services over 2 networks on 3 hosts (167 containers on this host)")
    print(f"  rules: {count} ({len(rules.groups)} groups: one rule each, the rest fixed); set elements: "
          f"{elements}; text: {len(text) / 1024:.1f} KiB")
    namespace = f"napbi{uuid.uuid4().hex[:6]}"
    try:
        subprocess.run(["ip", "netns", "add", namespace], check=True)
        loads = []
        for _ in range(5):
            began = time.perf_counter()
            subprocess.run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input=text, text=True, check=True)
            loads.append(time.perf_counter() - began)
        listed = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "table", "bridge", "nap_compose"],
                                capture_output=True, text=True, check=True).stdout
        from napcompose.isolation.diff import differences, parse_loaded

        assert differences(rules, parse_loaded(listed)) == []
        print(f"  nft -f of the whole table (replacing it): median {statistics.median(loads) * 1000:.0f} ms of 5 "
              f"({' '.join(f'{t * 1000:.0f}' for t in loads)} ms); nft's listing reads back equal")
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="only the table of 100 projects")
    args = parser.parse_args()
    print(f"load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    table_cost()
    if args.table_only:
        return
    lib.compile_package()
    started = lib.ensure_lab(5)
    try:
        up_cost(args.rounds, args.services, args.scale, args.hosts)
    finally:
        print(f"load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    main()
