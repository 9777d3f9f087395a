"""`ps` with one host cut off the switch: the old 10 s connect timeout against the 2 s default.

Runs on a lab of its own (`napdh`, 198.18.27.0/24, 3 hosts under /tmp/napdh), because it pulls a host's
cable (`ip link set <veth> down`). In the same run it times `ps` (a fresh process, as users run it,
median of --runs) of --containers containers with every host up, then with the last host's link down
under `ssh.connect_timeout: 10` (what every host got before the setting existed) and under the default.
Goal: `ps` with one dead host answers within about 3 s.

    python3 bench/bench_dead_host.py [--containers 30] [--runs 5] [--keep-lab] [--before-tree /work/main]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import uuid

import yaml

import benchlib as lib

LAB_NAME, LAB_SUBNET, LAB_DIR = "napdh", "198.18.27.0/24", "/tmp/napdh"


def timed_ps(cluster, workdir, project, runs, tree=None):
    env = lib.nap_env(cluster)
    if tree:
        env["PYTHONPATH"] = tree
    times = []
    for _ in range(runs):
        seconds, result = lib.run(lib.nap_argv("-p", project, "ps"), env=env, cwd=workdir, check=False)
        assert result.returncode in (0, 8), result.stderr
        times.append(seconds)
    return statistics.median(times), result


def with_timeout(cluster_file, seconds):
    with open(cluster_file) as f:
        data = yaml.safe_load(f)
    data.setdefault("ssh", {})["connect_timeout"] = seconds
    path = os.path.join(os.path.dirname(cluster_file), f"cluster-timeout-{seconds:g}.yml")
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--before-tree", metavar="DIR",
                        help="also time `ps` of an older source tree (e.g. /work/main) with its own defaults")
    args = parser.parse_args()
    lib.run(lib.nap_argv("lab", "up", "--name", LAB_NAME, "--subnet", LAB_SUBNET, "--hosts", "3", "--dir", LAB_DIR))
    cluster = os.path.join(LAB_DIR, "nap-cluster.yml")
    old = with_timeout(cluster, 10)
    workdir = tempfile.mkdtemp(prefix="bench-dh-")
    project = f"dh{uuid.uuid4().hex[:6]}"
    lib.write_compose(workdir, {"version": "2.4", "services": {"s": {
        "image": lib.IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": args.containers}}})
    veth = f"{LAB_NAME}-n3"
    try:
        lib.run(lib.nap_argv("-p", project, "up", "-d"), env=lib.nap_env(cluster), cwd=workdir)
        alive, _ = timed_ps(cluster, workdir, project, args.runs)
        subprocess.run(["ip", "link", "set", veth, "down"], check=True)
        try:
            before, _ = timed_ps(old, workdir, project, args.runs)
            after, result = timed_ps(cluster, workdir, project, args.runs)
            tree = timed_ps(cluster, workdir, project, args.runs, args.before_tree)[0] if args.before_tree else None
        finally:
            subprocess.run(["ip", "link", "set", veth, "up"], check=True)
        print(f"ps of {args.containers} containers on 3 hosts, median of {args.runs} fresh processes")
        print(f"  every host up:                              {alive:5.2f} s")
        print(f"  node3 cut off, ssh.connect_timeout: 10 s:   {before:5.2f} s")
        print(f"  node3 cut off, ssh.connect_timeout: 2 s:    {after:5.2f} s (default)")
        if tree is not None:
            print(f"  node3 cut off, the tree in {args.before_tree}: {tree:5.2f} s")
        print(f"  dead host, 2 s / 10 s = {lib.ratio(after, before)}; dead host / all up = {lib.ratio(after, alive)}")
        print("  " + result.stderr.strip().splitlines()[-1])
        lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=lib.nap_env(cluster), cwd=workdir, check=False)
    finally:
        if not args.keep_lab:
            lib.run(lib.nap_argv("lab", "down", "--dir", LAB_DIR), check=False)


if __name__ == "__main__":
    main()
