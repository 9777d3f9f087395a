"""Putting the guestbook's three images on 3 lab hosts: build once + copy, against build on each host.

Run: python3 bench/bench_images.py [--repeat 3] [--keep-lab]
Uses the bench lab (benchlib: `napbn`, started here if it is not running) and its first 3 hosts,
reached as the product reaches them (ssh:// Docker transport). Each round starts cold: the images
and their build-cache layers are removed from every host, then ``nap-compose build`` runs
with ``--no-cache``. A warm round (nothing changed since the last build) is timed too. Prints the best
and median of each, and which strategy is faster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import benchlib as lib

EXAMPLE = os.path.join(lib.ROOT, "examples", "guestbook")
SERVICES = ("redis-master", "redis-slave", "web")


def stage() -> str:
    """A copy of the example with its rootfs staged, in a temporary directory."""
    directory = os.path.join(tempfile.mkdtemp(prefix="nap-bench-images-"), "guestbook")
    shutil.copytree(EXAMPLE, directory, ignore=shutil.ignore_patterns("rootfs", "rootfs.*"))
    subprocess.run([os.path.join(directory, "make-rootfs")], cwd=directory, check=True, capture_output=True)
    return directory


def remove_images(connections, hosts, project) -> None:
    """The project's images and the intermediate layers their builds left, on every host."""
    for host in hosts:
        api = connections.docker(host).api
        for service in SERVICES:
            try:
                api.remove_image(f"{project}_{service}", force=True)
            except Exception:  # absent on that host
                pass
        api.prune_images(filters={"dangling": True})


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()

    from napcompose.adapters.ssh import HostConnections
    from napcompose.cli import main as nap
    from napcompose.cluster import load_cluster_file
    from napcompose.planner.build import BUILD_EACH, COPY

    started = lib.ensure_lab(5)
    directory = stage()
    try:
        cluster_file = lib.cluster_subset(3)
        cluster = load_cluster_file(cluster_file)
        hosts = [host.name for host in cluster.hosts]
        project_name = f"bi{uuid.uuid4().hex[:6]}"

        def build(strategy, *more):
            argv = ["-p", project_name, "--cluster", cluster_file, "build", "--strategy", strategy, *more]
            assert nap(argv, stderr=open(os.devnull, "w"), cwd=directory) == 0, "build failed"

        sizes = {name: sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in
                           os.walk(os.path.join(directory, name)) for f in fs
                           if not os.path.islink(os.path.join(d, f))) for name in SERVICES}
        results = {COPY: {"cold": [], "warm": []}, BUILD_EACH: {"cold": [], "warm": []}}
        with HostConnections(cluster) as connections:
            for host in hosts:  # connect first so that no round pays for the SSH handshakes
                connections.docker(host).api.ping()
            for _ in range(args.repeat):
                for strategy in (COPY, BUILD_EACH):
                    remove_images(connections, hosts, project_name)
                    results[strategy]["cold"].append(timed(lambda: build(strategy, "--no-cache")))
                    results[strategy]["warm"].append(timed(lambda: build(strategy)))
            remove_images(connections, hosts, project_name)
        print(f"guestbook images ({', '.join(f'{n} {sizes[n] / 1e6:.1f} MB' for n in SERVICES)}) "
              f"on {len(hosts)} hosts ({', '.join(hosts)}), {args.repeat} rounds")
        for strategy in (COPY, BUILD_EACH):
            for kind in ("cold", "warm"):
                times = results[strategy][kind]
                print(f"{strategy:>10} {kind}: best {min(times):.2f} s, median {statistics.median(times):.2f} s")
        cold = {s: statistics.median(results[s]["cold"]) for s in results}
        faster = min(cold, key=cold.get)
        slower = max(cold, key=cold.get)
        print(f"faster from cold: {faster} ({cold[slower] / cold[faster]:.2f}x less time than {slower})")
        return 0
    finally:
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    sys.exit(main())
