"""A whole `up -d` in process over the test doubles: CPU seconds and peak memory for three sizes.

Everything runs in this process: the fake engines and files of tests/fakes_engine.py, the real IPAM
on the in-memory store of tests/fakes_kv.py, and the real observe -> plan -> execute road, driven
through the command line's own parser (tests/nap.py). A project of S services x 10 replicas, each
service linking the one before it, on H hosts, with the product's default cluster network: a names
resolver on every host (`--no-resolver`: the cluster file's `resolver: false`, every peer in every
hosts file). Per size, in a fresh child process (so each peak resident size is that size's own):

  first     `up -d` from nothing: addresses, creates, starts, the hosts blocks
  second    the same `up -d` again: nothing changes, nothing is written; run three times in a row
            (--seconds), the median of them
  peak RSS  the child's maximum resident size (getrusage), interpreter and test doubles included

What the doubles keep is what a real host would keep on its own disk, not in the operator's
process, trimmed where the real thing costs the operator nothing:
  - each engine forgets a container's extra_hosts once it started it (a real one keeps them on its host);
  - each host's resolver directory (one names file and one mark per service: 1,000,000 entries at
    10,000/500) is kept as {name: the very bytes object `up` passed} (each name one interned string
    for every host), listed in the order written, with no call log: the same files go to every
    host, and a remote file system holds them for nothing. Every other path goes to the FakeFiles
    of tests/fakes_engine.py as it is.

CPU seconds are time.process_time (every thread of the process), so the figures hold on a loaded
machine; wall seconds are printed beside them. Goals: 10,000 replicas on 500 hosts <= 15 s, a
second `up` <= 2 s, <= 12x growth from 1,000/50 to 10,000/500 (10x the work), peak RSS <= 500 MB.

    python3 bench/bench_whole_up.py [--sizes 1000/50,3000/150,10000/500] [--workers 16] [--repeat N] [--seconds 3]
                                    [--no-resolver]
    python3 bench/bench_whole_up.py --sizes 1000/50 --profile first   # cProfile of one stage
    python3 bench/bench_whole_up.py --inline   # every parallel call in the calling thread
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import ipaddress
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import benchlib as lib  # noqa: F401  (puts the project root on sys.path)

sys.path.insert(0, lib.ROOT)

REPLICAS_PER_SERVICE = 10


def compose_text(services: int) -> str:
    lines = ["version: '2.4'", "services:"]
    for i in range(1, services + 1):
        lines += [f"  s{i:04d}:", "    image: busybox", "    command: [sleep, '3600']",
                  f"    scale: {REPLICAS_PER_SERVICE}"]
        if i > 1:
            lines.append(f"    links: [s{i - 1:04d}]")
    return "\n".join(lines) + "\n"


def make_cluster(hosts: int, resolver: bool = False, isolation: bool = True):
    from napcompose.clustermodel import Cluster, ClusterNetwork, Host, ResolverSpec, StoreSpec

    # Documentation-range addresses on in-memory doubles: nothing is ever sent to them.
    base = int(ipaddress.ip_address("198.18.0.0"))
    members = tuple(Host(f"node{i:03d}", str(ipaddress.ip_address(base + i)),
                         f"ssh://root@{ipaddress.ip_address(base + i)}") for i in range(1, hosts + 1))
    network = ClusterNetwork("flat", "198.18.0.0/16", "198.18.255.254", ("198.18.4.0-198.18.254.255",),
                             resolver=ResolverSpec() if resolver else None, isolation=isolation)
    return Cluster(hosts=members, network=network, store=StoreSpec("file:///nonexistent.json"))


def one_size(replicas: int, hosts: int, workers: int, profile: str, resolver: bool,
             inline: bool = False, isolation: bool = True, second_runs: int = 3) -> Dict[str, float]:
    """Both `up`s of one size in this process; their CPU and wall seconds, and the peak RSS."""
    from napcompose.config import parse_project
    from napcompose.orchestrator import Orchestrator
    from napcompose.ports import NullReporter
    from tests import nap
    from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
    from tests.fakes_kv import MemoryKV

    project = parse_project([("docker-compose.yml", compose_text(replicas // REPLICAS_PER_SERVICE))],
                            project_name="bench")
    cluster = make_cluster(hosts, resolver, isolation)
    world = FakeWorld(tuple(h.name for h in cluster.hosts))
    clock = FakeClock()
    engines = {host: _Remote(engine) for host, engine in world.engines.items()}
    names = cluster.network.resolver
    files = {host: _RemoteFiles(fake, names.host_directory(host) if names else None)
             for host, fake in world.files_by_host.items()}
    orc = Orchestrator(cluster, engines, files.__getitem__, make_ipam(cluster, clock, MemoryKV()),
                       NullReporter(), clock, max_workers=workers, images=world.images,
                       bridge_filter=world.bridge if isolation else None)
    if profile or inline:
        _run_inline()
    figures: Dict[str, float] = {}
    seconds: List[Tuple[float, float]] = []
    for stage in ["first"] + ["second"] * max(1, second_runs):
        if len(seconds) == 1:
            # the peak of one `up` and one again, as a user's process sees; each later one starts from a
            # collected heap, as the first second `up` did (a run's cycles wait for a full collection)
            figures["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        if seconds:
            gc.collect()
        profiler = cProfile.Profile() if profile == stage and not seconds else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        report = nap.up(orc, project)
        if profiler:
            profiler.disable()
        took = (time.process_time() - cpu, time.perf_counter() - wall)
        assert not report.failed, report.failed[:3]
        if stage == "first":
            figures["first_cpu"], figures["first_wall"] = took
        else:
            seconds.append(took)
        if profiler:
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            total = sum(row[2] for row in stats.stats.values())
            doubles = sum(row[2] for (path, _, name), row in stats.stats.items()
                          if os.sep + "tests" + os.sep in path
                          or (path == os.path.abspath(__file__) and name in _DOUBLES))
            print(f"{stage} up: {doubles:.2f} of {total:.2f} profiled seconds in the test doubles (tests/ "
                  "and this file's wrappers)", file=sys.stderr)
    # a second `up` is a tenth of a second at the smallest size, where one stray pause moves the growth
    # past a whole x: the median of several, each a whole `up` that finds nothing to change
    figures["second_cpu"] = statistics.median(cpu for cpu, _ in seconds)
    figures["second_wall"] = statistics.median(wall for _, wall in seconds)
    running = [c for c in world.all_containers() if c.state == "running"]
    assert len(running) == replicas, (len(running), replicas)
    figures.setdefault("peak_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


# what this file's wrappers of the doubles run (counted with the doubles in a profile)
_DOUBLES = {"start_container", "__getattr__", "_name", "listdir", "makedirs", "put", "put_many", "remove_tree"}


class _Remote:
    """A fake engine that, like a real one, keeps a container's extra_hosts on its own host, not in
    the operator's process: once Docker's lines are written at start, the double forgets them (each
    of a large project's containers holds every peer's names; 500 hosts' copies are no operator cost)."""

    def __init__(self, engine):
        self._engine = engine

    def start_container(self, container_id: str) -> None:
        self._engine.start_container(container_id)
        container = self._engine.containers[container_id]
        container.request = dataclasses.replace(container.request, extra_hosts=())

    def __getattr__(self, name):
        return getattr(self._engine, name)


class _RemoteFiles:
    """A host's FakeFiles but for its resolver directory, kept as {name: the bytes object put} (the
    same object for every host: a remote file system holds the files, not the operator's process),
    listed in the order written, with no call log."""

    def __init__(self, files, directory: Optional[str]):
        self._files = files
        self._directory = directory
        self._prefix = f"{directory}/" if directory else None
        self._names: Optional[Dict[str, bytes]] = None  # None: the directory does not exist

    def _name(self, path: str) -> Optional[str]:
        """The name of ``path`` in the resolver directory (one object for every host), or None."""
        if self._prefix is None or not path.startswith(self._prefix) or "/" in path[len(self._prefix):]:
            return None
        return sys.intern(path[len(self._prefix):])

    def listdir(self, path: str) -> List[str]:
        if path == self._directory:
            return list(self._names or ())
        return self._files.listdir(path)

    def makedirs(self, path: str, mode: int) -> None:
        if path == self._directory:
            self._names = {} if self._names is None else self._names
            return
        self._files.makedirs(path, mode)

    def put(self, path: str, data, mode: int) -> None:
        name = self._name(path)
        if name is None:
            return self._files.put(path, data, mode)
        if self._names is None:
            raise AssertionError(f"{path}: no such directory")
        self._names[name] = data

    def put_many(self, items) -> None:
        prefix, names, intern = self._prefix, self._names, sys.intern
        at = len(prefix) if prefix else 0
        for path, load, mode in items:  # the names files of a first `up`: a million at 10,000/500
            if names is not None and path.startswith(prefix) and path.find("/", at) < 0:
                names[intern(path[at:])] = load()
            else:
                self.put(path, load(), mode)

    def put_stages(self, directory: str, stages, mode: int, remove=()) -> None:
        if directory != self._directory:
            return self._files.put_stages(directory, stages, mode, remove)
        names = self._names = {} if self._names is None else self._names
        intern = sys.intern
        for stage in stages:  # the names files and marks of a first `up`: a million at 10,000/500
            for name, load in stage:
                names[intern(name)] = load()
        for name in remove:
            names.pop(name, None)

    def remove_tree(self, path: str) -> None:
        name = self._name(path)
        if name is None:
            return self._files.remove_tree(path)
        if self._names is not None:
            self._names.pop(name, None)

    def __getattr__(self, name):
        return getattr(self._files, name)


class _Inline:
    """An executor that runs each call at once in the calling thread, so cProfile sees all the work."""

    def __init__(self, max_workers=None, thread_name_prefix=""):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: B902  (the Future carries it, as a pool's would)
            future.set_exception(exc)
        return future


def _run_inline() -> None:
    import napcompose.parallel

    napcompose.parallel.ThreadPoolExecutor = _Inline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000/50,3000/150,10000/500",
                        help="REPLICAS/HOSTS pairs; replicas are a multiple of 10")
    parser.add_argument("--workers", type=int, default=16, help="the orchestrator's max_workers (default 16)")
    parser.add_argument("--profile", choices=("first", "second"), default="",
                        help="print a cProfile of that `up` to stderr (every parallel call then runs inline)")
    parser.add_argument("--no-resolver", dest="resolver", action="store_false",
                        help="a cluster without the per-host resolver (`resolver: false`): every container's "
                             "hosts file holds every peer's names")
    parser.add_argument("--resolver", dest="resolver", action="store_true",
                        help="the default: a names resolver on every host (kept for older command lines)")
    parser.set_defaults(resolver=True)
    parser.add_argument("--no-isolation", dest="isolation", action="store_false",
                        help="a cluster with `isolation: false`: no bridge filter is loaded")
    parser.add_argument("--inline", action="store_true",
                        help="every parallel call runs at once in the calling thread (as under --profile): "
                             "the CPU the work itself costs, without threads handing it to each other")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each size in this many fresh processes, one size after the other in turn, "
                             "and print each figure's median (a loaded machine spreads single runs widely)")
    parser.add_argument("--seconds", type=int, default=3,
                        help="how many second `up`s each process runs in a row (each finds nothing to change); "
                             "the second `up`'s figure is their median (default 3)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        replicas, hosts = (int(x) for x in args.child.split("/"))
        print(json.dumps(one_size(replicas, hosts, args.workers, args.profile, args.resolver, args.inline,
                                  args.isolation, args.seconds)))
        return

    sizes: List[Tuple[int, int]] = [tuple(int(x) for x in s.split("/")) for s in args.sizes.split(",")]
    print(f"whole `up -d` in process (test doubles), {REPLICAS_PER_SERVICE} replicas per service, each service "
          f"linking the one before; {'a resolver per host' if args.resolver else 'no resolver (every peer in every hosts file)'}; "
          f"{'isolation groups (a bridge filter per host)' if args.isolation else 'no isolation'}; "
          f"{'every parallel call inline' if args.inline or args.profile else f'max_workers {args.workers}'}; "
          f"load average {lib_load()}")
    print(f"  {'replicas/hosts':>14} {'first CPU s':>12} {'(wall)':>8} {'second CPU s':>13} {'(wall)':>8} "
          f"{'peak RSS MiB':>13}")
    runs: Dict[Tuple[int, int], List[Dict[str, float]]] = {size: [] for size in sizes}
    for _ in range(max(1, args.repeat)):  # in turn: every size meets the same spells of load
        for replicas, hosts in sizes:
            argv = [sys.executable, os.path.abspath(__file__), "--child", f"{replicas}/{hosts}",
                    "--workers", str(args.workers), "--seconds", str(args.seconds)] + (["--profile", args.profile] if args.profile else []) \
                + (["--inline"] if args.inline else []) \
                + ([] if args.resolver else ["--no-resolver"]) + ([] if args.isolation else ["--no-isolation"])
            done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True)
            runs[(replicas, hosts)].append(json.loads(done.stdout.strip().splitlines()[-1]))
    results: Dict[Tuple[int, int], Dict[str, float]] = {
        size: {name: statistics.median(run[name] for run in found) for name in found[0]}
        for size, found in runs.items()}
    for (replicas, hosts), got in results.items():
        spread = "" if args.repeat <= 1 else \
            "  second " + " ".join(f"{run['second_cpu']:.2f}" for run in runs[(replicas, hosts)])
        print(f"  {f'{replicas}/{hosts}':>14} {got['first_cpu']:12.2f} {got['first_wall']:8.2f} "
              f"{got['second_cpu']:13.2f} {got['second_wall']:8.2f} {got['peak_mib']:13.0f}{spread}", flush=True)
    if args.repeat > 1:
        print(f"  (medians of {args.repeat} fresh processes per size)")
    small, large = results.get((1000, 50)), results.get((10000, 500))
    if large:
        print(f"  10,000 on 500: first {large['first_cpu']:.2f} CPU s (goal <= 15), second "
              f"{large['second_cpu']:.2f} CPU s (goal <= 2), peak {large['peak_mib']:.0f} MiB (goal <= 500 MB)")
    if small and large:
        # each round's large run over the same round's small one: the pair met the same spell of load
        pairs = list(zip(runs[(1000, 50)], runs[(10000, 500)]))
        growth = {stage: statistics.median(b[f"{stage}_cpu"] / a[f"{stage}_cpu"] for a, b in pairs)
                  for stage in ("first", "second")}
        print(f"  growth 1,000/50 -> 10,000/500 for 10x the work (goal <= 12x): first "
              f"{growth['first']:.2f}x, second {growth['second']:.2f}x"
              + ("" if len(pairs) == 1 else f" (medians of {len(pairs)} rounds' ratios)"))
    print(f"  load average at the end {lib_load()}")


def lib_load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
