"""`up -d` of 60 containers (20 services x 3, each linking the one before) across 3 lab hosts.

Beside it, in the same run: docker-compose 1.29.2 `up -d` of the same 60 on ONE lab host (run on that
host against its local socket, as its users run it), and raw docker-py create+start of the same
containers on the same hosts with the same addresses, in the same 20 dependency waves, parallel
within a wave. Goals: nap-compose <= 0.8x docker-compose and <= 1.03x raw (every lab host shares the
machine's CPUs, so raw docker-py is the floor here). ``--rounds N`` runs the three N times, in a
different order each round, and compares the medians (and each round's own ratios: a load that drifts
over the rounds weighs on both runs of a round alike); the load average is printed with them.

With --before-tree DIR it measures instead this tree's `up -d` against an older source tree's (DIR, a
checkout of the package before a change), alternating which goes first each round, `up -d` then `down`
for each, --rounds times, on the same lab; medians and their ratio. With --scale 1 (one container per
wave) the lab's CPUs are not all busy starting containers, so what a change takes off a wave's
critical path shows.

With --lock-cost it measures instead what the project lock costs `up -d`: the same 60 containers,
`up -d` then `down`, alternately through the command line and through bench/nolock_cli.py (the same
command line with the lock taken out), --rounds times each, in the same run; then the lock's own
store calls (take and give back, a renewal) on the lab's etcd.

    python3 bench/bench_up.py [--services 20] [--scale 3] [--rounds 1] [--keep-lab] [--lock-cost [--rounds 3]]
                              [--before-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import benchlib as lib


NOLOCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nolock_cli.py")


def nap_up(workdir, cluster, project, lock=True):
    import sys

    argv = lib.nap_argv("-p", project, "up", "-d") if lock else [sys.executable, NOLOCK, "-p", project, "up", "-d"]
    seconds, _ = lib.run(argv, env=lib.nap_env(cluster), cwd=workdir)
    _, ps = lib.run(lib.nap_argv("-p", project, "ps", "--format", "json"), env=lib.nap_env(cluster), cwd=workdir)
    return seconds, [json.loads(line) for line in ps.stdout.splitlines() if line]  # JSON Lines


def nap_down(workdir, cluster, project):
    seconds, _ = lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=lib.nap_env(cluster), cwd=workdir)
    return seconds


def docker_compose(host, compose_file, project, *verb):
    argv, env = lib.on_lab_host(host, ["docker-compose", "-f", compose_file, "-p", project, *verb])
    seconds, _ = lib.run(argv, env=env)
    return seconds


def raw_up(cluster_path, rows, network, services):
    """create+start every container like nap-compose placed it, wave by wave, 16 at a time."""
    from napcompose.adapters.ssh import HostConnections
    from napcompose.cluster import load_cluster_file

    connections = HostConnections(load_cluster_file(cluster_path))
    hosts = sorted({row["Host"] for row in rows})
    for host in hosts:  # connect first: raw is the floor, not the transport
        connections.docker(host).ping()
    tag = uuid.uuid4().hex[:6]
    created = []

    def one(row):
        api = connections.docker(row["Host"]).api
        prev = int(row["Service"][1:]) - 1
        extra = [f"s{prev:02d}:{r['IP']}" for r in rows if r["Service"] == f"s{prev:02d}"][:1]
        container = api.create_container(
            image=lib.IMAGE, command=["sleep", "3600"], name=f"raw{tag}_{row['Service']}_{row['Number']}",
            stop_signal="SIGKILL", labels={"bench": tag},
            host_config=api.create_host_config(network_mode=network, extra_hosts=extra or None),
            networking_config=api.create_networking_config(
                {network: api.create_endpoint_config(ipv4_address=row["IP"])}))
        api.start(container["Id"])
        created.append((row["Host"], container["Id"]))

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for index in range(1, services + 1):
            wave = [r for r in rows if r["Service"] == f"s{index:02d}"]
            list(pool.map(one, wave))
    seconds = time.perf_counter() - start
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda hc: connections.docker(hc[0]).api.remove_container(hc[1], force=True), created))
    connections.close()
    return seconds


def tree_vs(workdir, cluster, before_tree: str, rounds: int, total: int) -> None:
    """`up -d` of this tree and of ``before_tree``, alternating which goes first, each followed by `down`."""
    times = {"this": [], "before": []}
    loads = [lib.load_average()]
    for round_ in range(rounds):
        for name in (("this", "before") if round_ % 2 == 0 else ("before", "this")):
            env = lib.nap_env(cluster)
            if name == "before":
                env = dict(env, PYTHONPATH=before_tree)
            project = f"bt{uuid.uuid4().hex[:6]}"
            seconds, _ = lib.run(lib.nap_argv("-p", project, "up", "-d"), env=env, cwd=workdir)
            lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=env, cwd=workdir)
            times[name].append(seconds)
        loads.append(lib.load_average())
    this, before = statistics.median(times["this"]), statistics.median(times["before"])
    print(f"up -d of {total} containers, this tree against {before_tree}, {rounds} rounds alternating (median); "
          f"load average {' -> '.join(loads)}")
    print(f"  this tree: {this:6.2f} s  [{' '.join(f'{t:.2f}' for t in times['this'])}]")
    print(f"  before:    {before:6.2f} s  [{' '.join(f'{t:.2f}' for t in times['before'])}]")
    print(f"  this / before = {lib.ratio(this, before)}; faster in "
          f"{sum(a < b for a, b in zip(times['this'], times['before']))} of {rounds} rounds")


def lock_cost(workdir, cluster, rounds: int, total: int) -> None:
    """`up -d` with and without the project lock, alternating, on the same hosts in the same run."""
    import statistics

    times = {True: [], False: []}
    for round_ in range(rounds):
        for lock in ((True, False) if round_ % 2 == 0 else (False, True)):
            project = f"bl{uuid.uuid4().hex[:6]}"
            seconds, rows = nap_up(workdir, cluster, project, lock=lock)
            assert len(rows) == total and all(r["State"] == "running" for r in rows), rows
            nap_down(workdir, cluster, project)
            times[lock].append(seconds)
    with_lock, without = statistics.median(times[True]), statistics.median(times[False])
    take, renew = lock_operations(cluster)
    print(f"up -d of {total} containers, {rounds} runs each, alternating (median)")
    print(f"  with the project lock:    {with_lock:6.1f} s  {' '.join(f'{t:.1f}' for t in times[True])}")
    print(f"  without the project lock: {without:6.1f} s  {' '.join(f'{t:.1f}' for t in times[False])}")
    print(f"  with / without = {lib.ratio(with_lock, without)}")
    print(f"  the lock's own store calls, median of {LOCK_SAMPLES}: take and give back {take * 1000:.1f} ms, "
          f"a renewal {renew * 1000:.1f} ms (every lock.ttl/3); take and give back = "
          f"{take / without * 100:.3f}% of up -d without the lock")


LOCK_SAMPLES = 200


def lock_operations(cluster):
    """Median seconds of taking and giving back a project lock, and of one renewal, on the cluster's store."""
    import getpass
    import socket
    import statistics

    from napcompose.adapters.stores import open_store
    from napcompose.adapters.system import SystemClock
    from napcompose.cluster import load_cluster_file
    from napcompose.lock import Holder, ProjectLock

    spec = load_cluster_file(cluster)
    store = open_store(spec.store)
    holder = Holder(getpass.getuser(), socket.gethostname(), os.getpid(), "bench_up.py --lock-cost")
    takes, renewals = [], []
    for _ in range(LOCK_SAMPLES):
        lock = ProjectLock(store, spec.store.prefix, f"bl{uuid.uuid4().hex[:6]}", holder, SystemClock(),
                           lambda: uuid.uuid4().hex, ttl_s=spec.lock_ttl_s)
        began = time.perf_counter()
        lock.acquire()
        taken = time.perf_counter()
        lock.refresh()
        renewed = time.perf_counter()
        lock.release()
        takes.append(taken - began + time.perf_counter() - renewed)
        renewals.append(renewed - taken)
    return statistics.median(takes), statistics.median(renewals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--lock-cost", action="store_true", help="compare up -d with and without the project lock")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before-tree", metavar="DIR",
                        help="compare this tree's up -d with that of an older source tree, alternating")
    args = parser.parse_args()
    total = args.services * args.scale
    lib.compile_package()
    started = lib.ensure_lab(5)
    try:
        cluster = lib.cluster_subset(args.hosts)
        workdir = tempfile.mkdtemp(prefix="bench-up-")
        lib.write_compose(workdir, lib.chain_services(args.services, args.scale))
        compose_file = lib.write_compose(lib.host_workdir("node1", "bench-up-dc-"),
                                         lib.chain_services(args.services, args.scale, for_docker_compose=True))
        project = f"bu{uuid.uuid4().hex[:6]}"
        if args.lock_cost:
            lock_cost(workdir, cluster, args.rounds, total)
            return
        if args.before_tree:
            tree_vs(workdir, cluster, os.path.abspath(args.before_tree), args.rounds, total)
            return

        from napcompose.cluster import load_cluster_file

        network = load_cluster_file(cluster).network.name
        times = {"nap": [], "second": [], "down": [], "dc": [], "dc_down": [], "raw": []}
        per_host, loads = {}, [lib.load_average()]
        for round_ in range(args.rounds):
            rows = []

            def ours():
                seconds, found = nap_up(workdir, cluster, project + str(round_))
                assert len(found) == total and all(r["State"] == "running" for r in found), found
                rows[:] = found
                times["nap"].append(seconds)
                times["second"].append(lib.run(lib.nap_argv("-p", project + str(round_), "up", "-d"),
                                               env=lib.nap_env(cluster), cwd=workdir)[0])
                times["down"].append(nap_down(workdir, cluster, project + str(round_)))

            def theirs():
                dc_project = f"dc{uuid.uuid4().hex[:6]}"
                times["dc"].append(docker_compose("node1", compose_file, dc_project, "up", "-d"))
                times["dc_down"].append(docker_compose("node1", compose_file, dc_project, "down", "-t", "1"))

            # raw needs nap-compose's placement and addresses: it runs after ours in every round
            steps = [ours, lambda: times["raw"].append(raw_up(cluster, rows, network, args.services))]
            for step in ([theirs] + steps if round_ % 2 else steps + [theirs]):
                step()
            loads.append(lib.load_average())
        for row in rows:
            per_host[row["Host"]] = per_host.get(row["Host"], 0) + 1
        median = {name: statistics.median(values) for name, values in times.items()}

        def each(name):
            return "" if args.rounds == 1 else f"  [{' '.join(f'{t:.1f}' for t in times[name])}]"

        print(f"up -d of {total} containers ({args.services} services x {args.scale}, each linking the one before)"
              f"{'' if args.rounds == 1 else f', median of {args.rounds} rounds'}; load average "
              + " -> ".join(loads))
        print(f"  nap-compose, {args.hosts} hosts {dict(sorted(per_host.items()))}: {median['nap']:6.1f} s "
              f"(second up, no change: {median['second']:.1f} s; down: {median['down']:.1f} s){each('nap')}")
        print(f"  docker-compose 1.29.2, 1 host (local socket):    {median['dc']:6.1f} s "
              f"(down: {median['dc_down']:.1f} s){each('dc')}")
        print(f"  raw docker-py create+start, same hosts/waves:    {median['raw']:6.1f} s{each('raw')}")
        print(f"  nap-compose / docker-compose = {lib.ratio(median['nap'], median['dc'])} (goal <= 0.80x)")
        print(f"  nap-compose / raw            = {lib.ratio(median['nap'], median['raw'])} (goal <= 1.03x)")
        if args.rounds > 1:
            # each round's own ratio: its runs follow one another, so a load that drifts over the
            # rounds weighs on both sides of it alike
            for other, label in (("raw", "raw"), ("dc", "docker-compose")):
                pairs = [n / o for n, o in zip(times["nap"], times[other])]
                print(f"  per round, nap-compose / {label}: {' '.join(f'{r:.2f}' for r in pairs)}; "
                      f"median {statistics.median(pairs):.2f}x")
    finally:
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    main()
