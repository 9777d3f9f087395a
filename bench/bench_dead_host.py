"""`ps` with one host cut off the switch: the 1 s connect deadline (the default) against 2 s and 10 s.

Runs on a lab of its own (`napdh`, 198.18.27.0/24, 3 hosts under /tmp/napdh), because it pulls a host's
cable (`ip link set <veth> down`). In the same run it times `ps` (a fresh process, as users run it,
median of --runs) of --containers containers with every host up, then with the last host's link down
under the default and under `ssh.connect_timeout: 2` (the default before) and `10` (what every host
got before the setting existed). The host is cut off with `nap-compose lab partition node3` (its
switch port leaves the switch; its side of the link stays up), or with `--fault link` by taking its
link down. The dead host's neighbour entry is pinned while it is cut off, as on a LAN right after a
host dies (otherwise the kernel gives up on ARP after about 3 s and a connection fails then, whatever
the timeout). Every `ps` with all hosts up must list every host, and every one with node3 cut off
must name node3 alone as unreachable: any other is counted as a false "unreachable". The load
average is printed at the start and the end (the machine is shared); `--busy N` adds N processes
that spin on the CPU while `ps` is timed, for a loaded machine on demand. Goal: `ps` with one dead host
answers within 2 s. `--before-tree DIR` also times an older source tree (e.g. /work/main) in the
same rounds. The package's bytecode is compiled first, as `pip install` does.

    python3 bench/bench_dead_host.py [--containers 30] [--runs 5] [--fault partition|link] [--keep-lab]
                                     [--before-tree /work/main] [--busy N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid

import yaml

import benchlib as lib

# NAP_BENCH_LAB_NAME / _SUBNET / _DIR choose another lab (as for the other benchmarks).
LAB_NAME = os.environ.get("NAP_BENCH_LAB_NAME", "napdh")
LAB_SUBNET = os.environ.get("NAP_BENCH_LAB_SUBNET", "198.18.27.0/24")
LAB_DIR = os.environ.get("NAP_BENCH_LAB_DIR", "/tmp/napdh")


HOSTS = ("node1", "node2", "node3")


def unreachable(result):
    """The hosts a `ps` run named as not answering (the indented lines under its partial-listing error)."""
    return {line.split(":", 1)[0].strip() for line in result.stderr.splitlines()
            if line.startswith("  ") and line.strip().split(":", 1)[0] in HOSTS}


def timed_ps(conditions, workdir, project, runs):
    """{name: median seconds} of `ps` under each (cluster file, PYTHONPATH) condition, runs interleaved
    so that every condition meets the same load and the same neighbour-table state; with the results."""
    times = {name: [] for name in conditions}
    results = []
    for _ in range(runs):
        for name, (cluster, tree) in conditions.items():
            env = lib.nap_env(cluster)
            if tree:
                env["PYTHONPATH"] = tree
            seconds, result = lib.run(lib.nap_argv("-p", project, "ps"), env=env, cwd=workdir, check=False)
            assert result.returncode in (0, 8), result.stderr
            times[name].append(seconds)
            results.append(result)
    return {name: statistics.median(t) for name, t in times.items()}, results


def spinners(count):
    """``count`` processes that spin on the CPU until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def load_average():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def neighbour(address):
    """(device, MAC) of the machine's ARP entry of ``address``, or None."""
    found = subprocess.run(["ip", "neigh", "show", address], capture_output=True, text=True).stdout.split()
    if "lladdr" not in found:
        return None
    return found[found.index("dev") + 1], found[found.index("lladdr") + 1]


def pin_neighbour(address, entry):
    """Put back the machine's ARP entry of ``address`` as it was before the host was cut off (``entry``,
    from ``neighbour``), for good: what a host that just went away looks like (a connection waits for
    its timeout instead of failing after ARP gives up). Pinned after the cut: a switch port leaving
    the switch can change the switch's MAC address, which flushes its entries, pinned ones too.
    Returns the command that undoes it."""
    if entry is None:
        return None
    dev, mac = entry
    subprocess.run(["ip", "neigh", "replace", address, "lladdr", mac, "dev", dev, "nud", "permanent"], check=True)
    return ["ip", "neigh", "del", address, "dev", dev]


def cut(fault, veth, off):
    """Cut node3 off the switch (``off``) or put it back, the way ``fault`` says."""
    if fault == "partition":
        lib.run(lib.nap_argv("lab", "partition" if off else "heal", "node3", "--dir", LAB_DIR))
    else:
        subprocess.run(["ip", "link", "set", veth, "down" if off else "up"], check=True)


def with_timeout(cluster_file, seconds, directory):
    """A copy of the cluster file with another connect timeout (paths made absolute: it lives elsewhere)."""
    base = os.path.dirname(cluster_file)
    with open(cluster_file) as f:
        data = yaml.safe_load(f)
    data.setdefault("ssh", {})["connect_timeout"] = seconds
    for key in ("key_file", "known_hosts"):
        if key in data["ssh"]:
            data["ssh"][key] = os.path.join(base, data["ssh"][key])
    for host in data["hosts"]:
        for key in ("key_file", "known_hosts"):
            if key in host.get("ssh", {}):
                host["ssh"][key] = os.path.join(base, host["ssh"][key])
    if "store" in data and str(data["store"].get("url", "")).startswith("file://"):
        data["store"]["url"] = "file://" + os.path.join(base, data["store"]["url"][len("file://"):])
    path = os.path.join(directory, f"cluster-timeout-{seconds:g}.yml")
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def measure_rounds(args, conditions, cluster, workdir, project, address, veth):
    """Every round: `ps` with all hosts up, then with node3 cut off under each condition. Returns the
    times with all up, {condition: times} cut off, the last cut-off run, the live hosts called
    unreachable and the number of runs."""
    alive, dead, last = [], {name: [] for name in conditions}, None
    false_unreachable, runs = 0, 0
    for _ in range(args.runs):
        got, results = timed_ps({"alive": (cluster, None)}, workdir, project, 1)
        alive.append(got["alive"])
        runs += len(results)
        false_unreachable += sum(len(unreachable(r)) for r in results)
        entry, undo = neighbour(address), None
        cut(args.fault, veth, True)
        try:
            undo = pin_neighbour(address, entry)
            got, results = timed_ps(conditions, workdir, project, 1)
        finally:
            cut(args.fault, veth, False)
            if undo:
                subprocess.run(undo, check=False, stderr=subprocess.DEVNULL)
        for name, seconds in got.items():
            dead[name].append(seconds)
        runs += len(results)
        false_unreachable += sum(len(unreachable(r) - {"node3"}) for r in results)
        last = results[0]
    return alive, dead, last, false_unreachable, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--fault", choices=("partition", "link"), default="partition",
                        help="cut node3 off with `lab partition` (default) or by taking its link down")
    parser.add_argument("--before-tree", metavar="DIR",
                        help="also time `ps` of an older source tree (e.g. /work/main) with its own defaults")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="N processes spinning on the CPU while ps is timed (default 0: the load as it is)")
    args = parser.parse_args()
    lib.compile_package()
    lib.run(lib.nap_argv("lab", "up", "--name", LAB_NAME, "--subnet", LAB_SUBNET, "--hosts", "3", "--dir", LAB_DIR))
    cluster = os.path.join(LAB_DIR, "nap-cluster.yml")
    workdir = tempfile.mkdtemp(prefix="bench-dh-")
    old = with_timeout(cluster, 10, workdir)
    before = with_timeout(cluster, 2, workdir)
    project = f"dh{uuid.uuid4().hex[:6]}"
    lib.write_compose(workdir, {"version": "2.4", "services": {"s": {
        "image": lib.IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": args.containers}}})
    veth = f"{LAB_NAME}-n3"
    try:
        lib.run(lib.nap_argv("-p", project, "up", "-d"), env=lib.nap_env(cluster), cwd=workdir)
        conditions = {"1 s": (cluster, None), "2 s": (before, None), "10 s": (old, None)}
        if args.before_tree:
            conditions["before"] = (cluster, args.before_tree)
        address = next(h["address"] for h in yaml.safe_load(open(cluster))["hosts"] if h["name"] == "node3")
        busy = spinners(args.busy)
        load_at_start = load_average()
        try:
            rounds = measure_rounds(args, conditions, cluster, workdir, project, address, veth)
            load_at_end = load_average()
        finally:
            for process in busy:
                process.kill()
                process.wait()
        alive, dead, last, false_unreachable, runs = rounds
        alive = statistics.median(alive)
        dead = {name: statistics.median(times) for name, times in dead.items()}
        print(f"ps of {args.containers} containers on 3 hosts, median of {args.runs} fresh processes each; "
              f"node3 cut off by {'`lab partition`' if args.fault == 'partition' else 'its link down'}; "
              f"load average {load_at_start} at the start, {load_at_end} at the end"
              + (f"; {args.busy} processes spinning" if args.busy else ""))
        print(f"  every host up:                              {alive:5.2f} s")
        print(f"  node3 cut off, ssh.connect_timeout: 1 s:    {dead['1 s']:5.2f} s (default)")
        print(f"  node3 cut off, ssh.connect_timeout: 2 s:    {dead['2 s']:5.2f} s")
        print(f"  node3 cut off, ssh.connect_timeout: 10 s:   {dead['10 s']:5.2f} s")
        if args.before_tree:
            print(f"  node3 cut off, the tree in {args.before_tree}: {dead['before']:5.2f} s")
        print(f"  dead host / all up = {lib.ratio(dead['1 s'], alive)}; "
              f"live hosts called unreachable: {false_unreachable} in {runs} runs")
        print("  " + last.stderr.strip().splitlines()[-1])
        lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=lib.nap_env(cluster), cwd=workdir, check=False)
    finally:
        if not args.keep_lab:
            lib.run(lib.nap_argv("lab", "down", "--dir", LAB_DIR), check=False)


if __name__ == "__main__":
    main()
