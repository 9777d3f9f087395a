"""Shipping a 10 MB tree of 1,000 files to 3 lab hosts, beside a naive SFTP copy file by file.

Both sides run in the same process and the same run, hosts in parallel, each from a fresh SSH
connection per host:
- naive: paramiko's ``SFTPClient.put`` of every file (one session per host), directories made first;
- nap-compose: ``shipping_copy.ship_to_host`` of the scanned tree over the host's RemoteFiles.
Then a no-change run of nap-compose, counting its calls to each host's RemoteFiles (the goal: one
listing per host, nothing sent). Prints seconds (median of --runs) and the ratio nap-compose / naive.

    python3 bench/bench_ship.py [--lab-dir DIR] [--files 1000] [--size 10240] [--hosts 3] [--runs 3]

Without --lab-dir it uses the bench lab (started when it does not run, torn down at the end unless
--keep-lab).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import benchlib as lib

from napcompose.adapters.ssh import HostConnections
from napcompose.cluster import load_cluster_file
from napcompose.model import Project, ServiceSpec
from napcompose.shipping.manifest import shipped_by_service
from napcompose.shipping.copy import remove_project_files, ship_to_host


def make_tree(root: str, files: int, size: int) -> str:
    tree = os.path.join(root, "tree")
    for i in range(files):
        directory = os.path.join(tree, f"d{i // 50:03d}")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"f{i:04d}.bin"), "wb") as fh:
            fh.write(os.urandom(size))
    return tree


def naive_copy(cluster, hosts, tree: str, remote: str) -> float:
    """One fresh SSH connection and SFTP session per host, every file put one after the other."""
    def one(host):
        with HostConnections(cluster) as connections:
            sftp = connections.ssh(host).open_sftp()
            try:
                sftp.mkdir(remote)
                for dirpath, dirnames, filenames in os.walk(tree):
                    dirnames.sort()
                    rel = os.path.relpath(dirpath, tree)
                    target = remote if rel == "." else f"{remote}/{rel}"
                    if rel != ".":
                        sftp.mkdir(target)
                    for name in sorted(filenames):
                        sftp.put(os.path.join(dirpath, name), f"{target}/{name}")
            finally:
                sftp.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(one, hosts))
    return time.perf_counter() - start


class Counting:
    """A RemoteFiles wrapper that counts calls (each is at least one round trip)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def counted(*args):
            self.calls.append(name)
            return method(*args)
        return counted


def ours(cluster, hosts, project, sources, counted=None) -> float:
    def one(host):
        with HostConnections(cluster) as connections:
            files = Counting(connections.files(host))
            ship_to_host(host, files, project, sources)
            if counted is not None:
                counted[host] = files.calls

    start = time.perf_counter()
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(one, hosts))
    return time.perf_counter() - start


def cleanup(cluster, hosts, project, remote):
    with HostConnections(cluster) as connections:
        for host in hosts:
            remove_project_files(connections.files(host), project)
            connections.files(host).remove_tree(remote)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", default=None)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10240)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()
    started = False
    if args.lab_dir:
        cluster_file = os.path.join(args.lab_dir, "nap-cluster.yml")
    else:
        started = lib.ensure_lab(max(5, args.hosts))
        cluster_file = lib.cluster_file()
    cluster = load_cluster_file(cluster_file)
    hosts = [h.name for h in cluster.hosts][:args.hosts]
    workdir = tempfile.mkdtemp(prefix="bench-ship-")
    tree = make_tree(workdir, args.files, args.size)
    project_spec = Project(name=f"bs{uuid.uuid4().hex[:6]}", working_dir=workdir,
                           services=(ServiceSpec(name="s", image="x", volumes=(f"{tree}:/tree:ro",)),))
    try:
        naive_s, ours_s, again_s, calls = [], [], [], {}
        for run in range(args.runs):
            project = f"{project_spec.name}{run}"
            scanned = time.perf_counter()
            sources = shipped_by_service(project_spec)["s"]
            scan_s = time.perf_counter() - scanned
            remote = f"/var/lib/nap-compose/bench-naive-{project}"
            naive_s.append(naive_copy(cluster, hosts, tree, remote))
            ours_s.append(scan_s + ours(cluster, hosts, project, sources))
            again_s.append(ours(cluster, hosts, project, sources, calls))
            cleanup(cluster, hosts, project, remote)
        size_mb = args.files * args.size / 1e6
        naive, mine, again = (statistics.median(x) for x in (naive_s, ours_s, again_s))
        print(f"tree: {args.files} files, {size_mb:.1f} MB, to {len(hosts)} hosts in parallel; "
              f"median of {args.runs} runs")
        print(f"naive SFTP put, file by file:       {naive:6.2f} s")
        print(f"nap-compose ship (scan + copy):     {mine:6.2f} s   ratio {mine / naive:.2f}x naive")
        print(f"nap-compose ship, nothing changed:  {again:6.2f} s   calls per host: "
              + ", ".join(f"{h}={len(c)} ({'+'.join(c)})" for h, c in sorted(calls.items())))
        ok = all(c == ["listdir"] for c in calls.values())
        print(f"goal: a no-change run makes one call per host: {'met' if ok else 'MISSED'}")
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
        if started and not args.keep_lab:
            lib.run(lib.nap_argv("lab", "down", "--dir", lib.LAB_DIR), check=False)


if __name__ == "__main__":
    sys.exit(main())
