"""From a host's loss to its service answering again through one `up`.

Runs on a lab of its own (`naphb`, 198.18.8.0/24, 3 hosts under /tmp/naphb), since it cuts hosts off
the switch (`lab partition`). A consumer (`client`, kept on node1) links a service (`api`, kept off
node1). Each round:

1. baseline: `down`, then `up -d` from nothing, timed until the client pings `api` by name;
2. loss: the host running `api` is partitioned (its neighbour entry pinned, as on a LAN right after a
   host dies); at once `up -d` runs (it reports the lost host and exits 8), timed until the client
   pings `api` again, now at its new address on the remaining host;
3. heal: the host comes back and `up -d` removes the stale copy and releases its address (timed).

The operator's own reaction time is not counted: `up` starts the moment the host is cut off. Prints
medians of --runs rounds and the ratio of the recovery to the baseline measured in the same run.

    python3 bench/bench_host_loss.py [--runs 3] [--keep-lab]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid

import yaml

import benchlib as lib
from bench_dead_host import pin_neighbour

LAB_NAME, LAB_SUBNET, LAB_DIR = "naphb", "198.18.8.0/24", "/tmp/naphb"


def _in_client(project: str, *argv: str) -> subprocess.CompletedProcess:
    from napcompose.lab.lifecycle import exec_argv

    full, env = exec_argv(LAB_DIR, "node1", ["docker", "exec", f"{project}_client_1", *argv])
    return subprocess.run(full, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def answers_at(project: str, start: float, not_at: str = "", limit: float = 120.0):
    """(seconds since ``start``, address) once the client pings `api` by name at an address other
    than ``not_at``."""
    while time.perf_counter() - start < limit:
        got = _in_client(project, "ping", "-c1", "-W1", "api")
        if got.returncode == 0 and "(" in got.stdout:
            address = got.stdout.split("(", 1)[1].split(")", 1)[0]
            if address != not_at:
                return time.perf_counter() - start, address
        time.sleep(0.1)
    raise SystemExit(f"api did not answer within {limit:g} s")


def api_host(project: str, env, workdir) -> str:
    _, result = lib.run(lib.nap_argv("-p", project, "ps", "--format", "json"), env=env, cwd=workdir)
    rows = [r for r in map(__import__("json").loads, result.stdout.splitlines()) if r["Service"] == "api"]
    assert len(rows) == 1, rows
    return rows[0]["Host"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()
    lib.run(lib.nap_argv("lab", "up", "--name", LAB_NAME, "--subnet", LAB_SUBNET, "--hosts", "3", "--dir", LAB_DIR))
    cluster = os.path.join(LAB_DIR, "nap-cluster.yml")
    env = lib.nap_env(cluster)
    hosts = {h["name"]: h["address"] for h in yaml.safe_load(open(cluster))["hosts"]}
    workdir = tempfile.mkdtemp(prefix="bench-hl-")
    project = f"hb{uuid.uuid4().hex[:6]}"
    sleeper = {"image": lib.IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL"}
    lib.write_compose(workdir, {"version": "2.4", "services": {
        "api": dict(sleeper, deploy={"placement": {"constraints": ["node.hostname!=node1"]}}),
        "client": dict(sleeper, links=["api"], deploy={"placement": {"constraints": ["node.hostname==node1"]}})}})
    baseline, recovery, up_times, cleanup = [], [], [], []
    try:
        for _ in range(args.runs):
            lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=env, cwd=workdir)
            start = time.perf_counter()
            lib.run(lib.nap_argv("-p", project, "up", "-d"), env=env, cwd=workdir)
            seconds, old = answers_at(project, start)
            baseline.append(seconds)

            lost = api_host(project, env, workdir)
            undo = pin_neighbour(hosts[lost])
            lib.run(lib.nap_argv("lab", "partition", lost, "--dir", LAB_DIR))
            try:
                start = time.perf_counter()
                took, result = lib.run(lib.nap_argv("-p", project, "up", "-d"), env=env, cwd=workdir, check=False)
                assert result.returncode == 8, result.stderr
                assert f"host {lost} unreachable: moving api_1 to " in result.stderr, result.stderr
                seconds, new = answers_at(project, start, not_at=old)
                recovery.append(seconds)
                up_times.append(took)
            finally:
                lib.run(lib.nap_argv("lab", "heal", lost, "--dir", LAB_DIR))
                if undo:
                    subprocess.run(undo, check=False)
            took, _ = lib.run(lib.nap_argv("-p", project, "up", "-d"), env=env, cwd=workdir)
            cleanup.append(took)
        base, back = statistics.median(baseline), statistics.median(recovery)
        print(f"host loss on 3 hosts, median of {args.runs} rounds (client on node1 pings `api` by name)")
        print(f"  baseline: up -d from nothing until api answers:        {base:5.2f} s")
        print(f"  host of api partitioned -> api answers again via up:   {back:5.2f} s "
              f"(the up itself: {statistics.median(up_times):5.2f} s)")
        print(f"  host back -> up removes the stale copy:                {statistics.median(cleanup):5.2f} s")
        print(f"  recovery / baseline = {lib.ratio(back, base)}")
        lib.run(lib.nap_argv("-p", project, "down", "-t", "1"), env=env, cwd=workdir, check=False)
    finally:
        if not args.keep_lab:
            lib.run(lib.nap_argv("lab", "down", "--dir", LAB_DIR), check=False)


if __name__ == "__main__":
    main()
