"""`ps` of 100 containers on 5 lab hosts beside docker-compose 1.29.2 `ps` of 100 on one host.

Both are timed as their users run them: a fresh process each time (nap-compose on the operator's
machine over SSH; docker-compose on the host, through its local socket). Median of --runs.
nap-compose runs twice per round: reaching Docker over a stream-local channel to each host's socket
(the cluster file names it), and over `docker system dial-stdio` (the stream-local open refused), so
the two transports are compared in the same run. `--before-tree DIR` also times an older source tree
(e.g. /work/main) in the same rounds. The load average is printed at the start and the end (the machine
is shared). Goal: nap-compose (stream-local) <= 0.8x docker-compose.

    python3 bench/bench_ps.py [--containers 100] [--hosts 5] [--runs 5] [--keep-lab] [--before-tree DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import uuid

import benchlib as lib


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--before-tree", metavar="DIR",
                        help="also time `ps` of an older source tree (e.g. /work/main), stream-local")
    args = parser.parse_args()
    lib.compile_package()
    started = lib.ensure_lab(max(5, args.hosts))
    workdir = tempfile.mkdtemp(prefix="bench-ps-")
    cluster = lib.cluster_subset(args.hosts, wide_pool=True)
    dial_cluster = lib.cluster_subset(args.hosts, socket_paths=False, wide_pool=True)
    project, dc_project = f"bp{uuid.uuid4().hex[:6]}", f"dp{uuid.uuid4().hex[:6]}"
    spec = {"image": lib.IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL",
            "scale": args.containers}
    lib.write_compose(workdir, {"version": "2.4", "services": {"s": spec}})
    dc_dir = lib.host_workdir("node1", "bench-ps-dc-")
    dc_file = lib.write_compose(dc_dir, {
        "version": "2.4", "services": {"s": spec},
        "networks": {"default": {"internal": True, "ipam": {"config": [{"subnet": lib.COMPOSE_SUBNET}]}}}})
    env = lib.nap_env(cluster)
    try:
        lib.use_pool_of(cluster)
        lib.run(lib.nap_argv("-p", project, "up", "-d"), env=env, cwd=workdir)
        argv, dc_env = lib.on_lab_host("node1", ["docker-compose", "-f", dc_file, "-p", dc_project, "up", "-d"])
        lib.run(argv, env=dc_env)

        nap_times, dial_times, dc_times, before_times = [], [], [], []
        load_at_start = load_average()
        for _ in range(args.runs):
            seconds, result = lib.run(lib.nap_argv("-p", project, "ps"), env=env, cwd=workdir)
            rows = result.stdout.splitlines()[1:]
            assert len(rows) == args.containers, result.stdout
            assert not result.stderr, result.stderr
            nap_times.append(seconds)
            seconds, result = lib.run(lib.nap_argv("-p", project, "ps"), env=lib.nap_env(dial_cluster),
                                      cwd=workdir)
            assert len(result.stdout.splitlines()[1:]) == args.containers, result.stdout
            dial_times.append(seconds)
            if args.before_tree:
                seconds, result = lib.run(lib.nap_argv("-p", project, "ps"),
                                          env=dict(env, PYTHONPATH=args.before_tree), cwd=workdir)
                assert len(result.stdout.splitlines()[1:]) == args.containers, result.stdout
                before_times.append(seconds)
            argv, dc_env = lib.on_lab_host("node1", ["docker-compose", "-f", dc_file, "-p", dc_project, "ps"])
            seconds, result = lib.run(argv, env=dc_env)
            assert len([l for l in result.stdout.splitlines() if l.startswith(dc_project)]) == args.containers
            dc_times.append(seconds)
        load_at_end = load_average()
        hosts = sorted({row.split()[2] for row in rows})
        nap_median, dc_median = statistics.median(nap_times), statistics.median(dc_times)
        dial_median = statistics.median(dial_times)
        print(f"ps of {args.containers} containers, median of {args.runs} runs (fresh process each); "
              f"load average {load_at_start} at the start, {load_at_end} at the end")
        print(f"  nap-compose, {len(hosts)} hosts, SSH stream-local:  {nap_median:5.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in nap_times)})")
        print(f"  nap-compose, {len(hosts)} hosts, SSH dial-stdio:    {dial_median:5.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in dial_times)})")
        if args.before_tree:
            print(f"  nap-compose of {args.before_tree}, stream-local: {statistics.median(before_times):5.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in before_times)})")
        print(f"  docker-compose 1.29.2, 1 host (local socket): {dc_median:5.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in dc_times)})")
        print(f"  nap-compose / docker-compose = {lib.ratio(nap_median, dc_median)} (goal <= 0.8x); "
              f"with dial-stdio {lib.ratio(dial_median, dc_median)}")
    finally:
        lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=env, cwd=workdir, check=False)
        argv, dc_env = lib.on_lab_host("node1", ["docker-compose", "-f", dc_file, "-p", dc_project, "down", "-t", "1"])
        lib.run(argv, env=dc_env, check=False)
        lib.restore_lab_pool()
        shutil.rmtree(dc_dir, ignore_errors=True)
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    main()
