"""Planning a large cluster in process: stage times and peak memory for four sizes.

Everything runs in this process with the in-memory test doubles (an in-memory address book, no
containers yet, every host holding the image), so the figures are the planning code's own cost. A
project of S services x 10 replicas, each service linking the one before it, on H hosts:

  load      compose YAML text -> validated Project
  place     placement of every replica (spread), on its own
  addresses one address per replica from the IPAM (in-memory store), read back as the planner's Addresses
  plan      ``planner.plan`` for ``up``: placement, address checks, images, every replica's decision in
            start order, the hosts writes and every replica's hosts lines
  blocks    each service's hosts block from one map of peers (what the hosts writes render)
  render    the plan as the lines ``nap-compose plan`` prints

"planned" = addresses + plan (the planner places on its own). Peak memory is tracemalloc's peak
over one more pass of the same stages. Goals: 10,000 replicas on 500 hosts planned in <= 2 s, and
<= 12x growth from 1,000/50 to 10,000/500 (10x the work).

    python3 bench/bench_plan.py [--sizes 1000/50,1000/500,10000/50,10000/500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import time
import tracemalloc
from typing import Dict, List, Tuple

import benchlib as lib  # noqa: F401  (puts the project root on sys.path)

sys.path.insert(0, lib.ROOT)

from napcompose.config import parse_project  # noqa: E402
from napcompose.names.hostsfile import PeerMap, check_names  # noqa: E402
from napcompose.model import Replica
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, StoreSpec
from napcompose.placement.place import place  # noqa: E402
from napcompose.planner import Addresses, Command, Create, Observation, Options, plan, render  # noqa: E402
from tests.fakes_engine import FakeClock, make_ipam  # noqa: E402

REPLICAS_PER_SERVICE = 10
STAGES = ("load", "place", "addresses", "plan", "blocks", "render")
PLANNED = ("addresses", "plan")
CORE = ("place", "addresses", "blocks")


def compose_text(services: int) -> str:
    lines = ["version: '2.4'", "services:"]
    for i in range(1, services + 1):
        lines += [f"  s{i:04d}:", "    image: busybox", "    command: [sleep, '3600']",
                  f"    scale: {REPLICAS_PER_SERVICE}"]
        if i > 1:
            lines.append(f"    links: [s{i - 1:04d}]")
    return "\n".join(lines) + "\n"


def make_cluster(hosts: int) -> Cluster:
    # A /16 in the benchmark range: host addresses first, then a pool large enough for every replica.
    # Nothing is ever sent to these addresses; the hosts are in-memory doubles.
    base = int(ipaddress.ip_address("198.18.0.0"))
    members = tuple(Host(f"node{i:03d}", str(ipaddress.ip_address(base + i)),
                         f"ssh://root@{ipaddress.ip_address(base + i)}") for i in range(1, hosts + 1))
    network = ClusterNetwork("flat", "198.18.0.0/16", "198.18.255.254", ("198.18.4.0-198.18.254.255",))
    return Cluster(hosts=members, network=network, store=StoreSpec("file:///nonexistent.json"))


def one_pass(services: int, hosts: int) -> Dict[str, float]:
    times: Dict[str, float] = {}

    def timed(stage, fn):
        start = time.process_time()
        result = fn()
        times[stage] = time.process_time() - start
        return result

    replicas = services * REPLICAS_PER_SERVICE
    text = compose_text(services)
    project = timed("load", lambda: parse_project([("docker-compose.yml", text)], project_name="bench"))
    cluster = make_cluster(hosts)
    check_names(project)
    placement = timed("place", lambda: place(project, cluster.hosts, ()))
    assert len(placement.assignments) == replicas
    ipam = make_ipam(cluster, FakeClock())

    def reserve() -> Addresses:
        got = ipam.ensure_many([(r.owner, h, None) for r, h in placement.assignments])
        return Addresses.of_project(got, project.name)

    addresses = timed("addresses", reserve)
    assert len(addresses.allocations) == replicas
    # A first ``up``: no containers anywhere, every host already holds the one image.
    observation = Observation(cluster, project.name, image_ids=tuple(((h.name, "busybox"), f"sha256:{h.name}")
                                                                     for h in cluster.hosts))
    the_plan = timed("plan", lambda: plan(project, observation, addresses, Options(), Command.UP))
    assert sum(isinstance(a, Create) for a in the_plan.actions) == replicas
    ips: Dict[Replica, str] = {r: a.ip for r, a in addresses.allocations}
    peers = PeerMap(project, ips)
    blocks = timed("blocks", lambda: {s.name: peers.block(s.name) for s in project.services})
    assert blocks["s0002"].count(" s0001_") == REPLICAS_PER_SERVICE
    lines = timed("render", lambda: render(the_plan))
    assert len(lines) >= replicas
    return times


def peak_memory(services: int, hosts: int) -> int:
    tracemalloc.start()
    try:
        one_pass(services, hosts)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000/50,1000/500,10000/50,10000/500",
                        help="REPLICAS/HOSTS pairs; replicas are a multiple of 10")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many passes per size")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    args = parser.parse_args()
    sizes: List[Tuple[int, int]] = [tuple(int(x) for x in s.split("/")) for s in args.sizes.split(",")]
    stages = STAGES

    totals: Dict[Tuple[int, int], Dict[str, float]] = {}
    print(f"planning in process (test doubles): replicas/{REPLICAS_PER_SERVICE} services x {REPLICAS_PER_SERVICE}, "
          f"each linking the one before; CPU seconds, best of {args.repeat}")
    print(f"  {'replicas/hosts':>14} " + " ".join(f"{s:>9}" for s in stages)
          + f" {'planned':>8} {'core':>8} {'peak MiB':>9}")
    for replicas, hosts in sizes:
        passes = [one_pass(replicas // REPLICAS_PER_SERVICE, hosts) for _ in range(args.repeat)]
        best = {stage: min(p[stage] for p in passes) for stage in stages}
        planned = min(sum(p[s] for s in PLANNED) for p in passes)
        core = min(sum(p[s] for s in CORE) for p in passes)
        peak = None if args.no_memory else peak_memory(replicas // REPLICAS_PER_SERVICE, hosts)
        totals[(replicas, hosts)] = {"planned": planned, "core": core}
        memory = f"{peak / 2 ** 20:9.1f}" if peak is not None else f"{'-':>9}"
        print(f"  {f'{replicas}/{hosts}':>14} " + " ".join(f"{best[s]:9.3f}" for s in stages)
              + f" {planned:8.3f} {core:8.3f} {memory}")
    small, large = totals.get((1000, 50)), totals.get((10000, 500))
    if large is not None:
        print(f"  10,000 replicas on 500 hosts: planned in {large['planned']:.2f} s, "
              f"core in {large['core']:.2f} s (goal <= 2 s)")
    if small and large:
        print(f"  growth 1,000/50 -> 10,000/500 for 10x the work (goal <= 12x): planned "
              f"{lib.ratio(large['planned'], small['planned'])}, core {lib.ratio(large['core'], small['core'])}")


if __name__ == "__main__":
    main()
