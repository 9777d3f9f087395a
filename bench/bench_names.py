"""What names cost in files written and bytes: managed hosts blocks alone, and with a resolver per host.

Everything runs in this process over the in-memory test doubles (tests/fakes_engine.py), so the
figures count exactly what nap-compose writes through its file port; a counting wrapper notes every
hosts-file write (``write_in_place``) and every names file put (``put``) with its size.

1. ``scale web=3->30`` on 3 hosts, with 6 consumers of web (3 services x 2 replicas):
   - blocks:   consumers ``links: [web]``, no resolver (each consumer's block lists web's replicas);
   - resolver: consumers reach ``web`` by name through the resolver, no links;
   - both:     links kept and the resolver on (the links' blocks are still the consumers' own).
2. A 10,000-replica project over 500 hosts (1,000 services x 10, each service reaching the one
   before it), counted from the planner's own renderers for one ``up`` from nothing:
   - blocks:   one block per container (its links' replicas);
   - resolver: one names file per service per host (the same on every host);
   then one service grown by a replica: its consumers' blocks, or that service's file on every host;
   - and what Docker writes at create time from ``extra_hosts`` (every peer's names), per container.

    python3 bench/bench_names.py [--services 1000] [--replicas 10] [--hosts 500]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
import time
from typing import Dict, List

import benchlib as lib  # noqa: F401  (puts the project root on sys.path)

sys.path.insert(0, lib.ROOT)

from napcompose.clustermodel import Cluster, ClusterNetwork, Host, ResolverSpec, StoreSpec  # noqa: E402
from napcompose.model import Link, Project, Replica, ServiceSpec  # noqa: E402
from napcompose.names.hostsfile import PeerMap  # noqa: E402
from napcompose.names.records import names_files  # noqa: E402
from napcompose.names.startnames import StartNames  # noqa: E402
from napcompose.orchestrator import Orchestrator  # noqa: E402
from napcompose.ports import NullReporter  # noqa: E402
from tests import nap  # noqa: E402
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam  # noqa: E402
from tests.fakes_kv import MemoryKV  # noqa: E402


class Counting:
    """A host's RemoteFiles that notes every write and its size."""

    def __init__(self, inner, tally):
        self._inner = inner
        self._tally = tally

    def write_in_place(self, path, data):
        self._inner.write_in_place(path, data)
        self._tally.note("hosts", len(data))

    def put(self, path, data, mode):
        self._inner.put(path, data, mode)
        # a names file; the empty mark beside it (its digest, in its name) is counted apart
        self._tally.note("names" if path.endswith(".hosts") else "marks", len(data))

    def __getattr__(self, name):
        return getattr(self._inner, name)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts: Dict[str, List[int]] = {"hosts": [0, 0], "names": [0, 0], "marks": [0, 0]}

    def note(self, kind, size):
        with self.lock:
            self.counts[kind][0] += 1
            self.counts[kind][1] += size

    def reset(self):
        self.__init__()


def _cluster(hosts: int, resolver: bool) -> Cluster:
    names = [f"node{i + 1}" for i in range(hosts)]
    return Cluster(hosts=tuple(Host(n, f"10.0.{i // 250}.{i % 250 + 1}", f"ssh://root@10.0.{i // 250}.{i % 250 + 1}")
                               for i, n in enumerate(names)),
                   network=ClusterNetwork("flat", "10.0.0.0/16", "10.0.255.254", ("10.0.100.0-10.0.200.255",),
                                          resolver=ResolverSpec() if resolver else None),
                   store=StoreSpec("file:///tmp/unused.json"))


def _scale_project(web: int, links: bool) -> Project:
    consumers = tuple(ServiceSpec(name=f"c{i}", image="busybox", scale=2,
                                  links=(Link("web", "web"),) if links else ())
                      for i in range(3))
    return Project(name="bench", services=consumers + (ServiceSpec(name="web", image="busybox", scale=web),))


def scale_case(links: bool, resolver: bool, start: int, end: int) -> Dict[str, List[int]]:
    cluster = _cluster(3, resolver)
    world = FakeWorld(tuple(h.name for h in cluster.hosts))
    tally = Tally()
    orc = Orchestrator(cluster, world.engines, lambda h: Counting(world.files(h), tally),
                       make_ipam(cluster, FakeClock(), MemoryKV()), NullReporter(), FakeClock(), images=world.images)
    nap.up(orc, _scale_project(start, links))
    tally.reset()
    report = nap.scale(orc, _scale_project(end, links), {"web": end})
    assert not report.failed, report.failed
    return tally.counts


def big_case(services: int, replicas: int, hosts: int) -> Dict[str, object]:
    """Bytes a fresh ``up`` of the large project writes, from the renderers the handlers use."""
    specs = [ServiceSpec(name=f"s{i}", image="busybox", scale=replicas,
                         links=(Link(f"s{i - 1}", f"s{i - 1}"),) if i else ()) for i in range(services)]
    project = Project(name="big", services=tuple(specs))
    base = int(ipaddress.IPv4Address("10.1.0.0"))
    addresses = {Replica("big", s.name, k + 1): str(ipaddress.IPv4Address(base + i * replicas + k))
                 for i, s in enumerate(specs) for k in range(replicas)}
    started = time.perf_counter()
    peers = PeerMap(project, addresses)
    block_bytes = sum(len(peers.block(r.service).encode()) for r in addresses)
    blocks_s = time.perf_counter() - started
    started = time.perf_counter()
    files = names_files(project, "nap", addresses)
    names_s = time.perf_counter() - started
    names_bytes = sum(len(text.encode()) for text in files.values())
    # one service scaled by one replica: its consumers' blocks, or its one file on every host
    grown = dict(addresses)
    grown[Replica("big", "s1", replicas + 1)] = str(ipaddress.IPv4Address(base + len(specs) * replicas))
    changed_blocks = [len(PeerMap(project, grown).block("s2").encode())] * replicas
    changed_file = len(names_files(project, "nap", {r: a for r, a in grown.items() if r.service == "s1"})
                       .popitem()[1].encode())
    start_names = StartNames(project, addresses)
    without = StartNames(project, addresses, services=False)
    per_container = len("".join(f"{a}\t{n}\n" for n, a in start_names.for_service("s1")).encode())
    per_container_resolver = len("".join(f"{a}\t{n}\n" for n, a in without.for_service("s1")).encode())
    return {"containers": len(addresses), "blocks": (len(addresses), block_bytes, blocks_s),
            "names": (hosts * len(files), hosts * names_bytes, names_s),
            "change": ((len(changed_blocks), sum(changed_blocks)), (hosts, hosts * changed_file)),
            "extra_hosts": (per_container, per_container_resolver)}


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MiB"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--from", dest="start", type=int, default=3)
    parser.add_argument("--to", dest="end", type=int, default=30)
    args = parser.parse_args(argv)

    print(f"scale web={args.start}->{args.end} on 3 hosts, 6 consumers of web:")
    print(f"  {'names from':<34} {'hosts files':>12} {'bytes':>12} {'names files':>12} {'bytes':>12}")
    for title, links, resolver in (("managed blocks (links, no resolver)", True, False),
                                   ("resolver (no links)", False, True),
                                   ("both (links and resolver)", True, True)):
        counts = scale_case(links, resolver, args.start, args.end)
        print(f"  {title:<34} {counts['hosts'][0]:>12} {_kb(counts['hosts'][1]):>12} "
              f"{counts['names'][0]:>12} {_kb(counts['names'][1]):>12}  (+{counts['marks'][0]} empty marks)")

    big = big_case(args.services, args.replicas, args.hosts)
    files, size, took = big["blocks"]
    names_count, names_size, names_took = big["names"]
    (block_files, block_bytes), (change_files, change_bytes) = big["change"]
    print(f"\nup of {big['containers']:,} replicas ({args.services:,} services x {args.replicas}) over "
          f"{args.hosts} hosts:")
    print(f"  managed blocks:  {files:>7,} files  {_kb(size):>12}  (rendered in {took:.2f} s)")
    print(f"  resolver files:  {names_count:>7,} files  {_kb(names_size):>12}  (one per service per host, rendered "
          f"once in {names_took:.2f} s)")
    print(f"  then one service +1 replica: blocks {block_files:,} files {_kb(block_bytes)}; "
          f"resolver {change_files:,} files {_kb(change_bytes)}")
    per, per_resolver = big["extra_hosts"]
    print(f"  create-time extra_hosts per container: {_kb(per)} without a resolver, {_kb(per_resolver)} with one\n"
          f"  "
          f"(x {big['containers']:,} containers: {_kb(per * big['containers'])} / "
          f"{_kb(per_resolver * big['containers'])}, written by Docker at each start)")


if __name__ == "__main__":
    main()
