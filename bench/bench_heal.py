"""The reconciler's figures: median of --runs runs of the lab scenarios of tests/integration/test_watch.py.

Each run is one pass of that module (its own 3-host lab ``napheal``, two `nap-compose watch`
processes, grace 3 s, lease 4 s): a replica killed on its host, a container Docker restarts, a host
cut off the switch and healed, the leader stalled, etcd down (60 s here, 25 s in the test). The module prints one
``FIGURE <what>: <seconds> s`` line per measure; this prints the median of each over the runs, beside
the swarm-mode figures of the same kind of lab (a node marked down after 3 x 5 s heartbeats, then a
5 s restart delay: replacements 24 s after the loss, old tasks gone 8-12 s after heal).

    python3 bench/bench_heal.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURE = re.compile(r"^FIGURE (.+?): ([0-9.]+)")
SWARM = {"partition -> replacement running and resolvable": "24 s",
         "heal -> stale copy removed": "8-12 s"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = {}
    for run in range(args.runs):
        done = subprocess.run([sys.executable, "-m", "pytest", "-m", "integration", "tests/integration/test_watch.py",
                               "-q", "-s", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=ROOT, NAP_HEAL_ETCD_DOWN_S="60"))
        tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
        print(f"run {run + 1}: exit {done.returncode}, {tail[0]}", flush=True)
        if done.returncode != 0:  # what failed, for whoever reads the figures
            print(done.stdout[-6000:], done.stderr[-2000:], flush=True)
        for line in done.stdout.splitlines():
            found = FIGURE.match(line)
            if found:
                figures.setdefault(found.group(1), []).append(float(found.group(2)))
    for what, values in figures.items():
        beside = f"   (swarm mode: {SWARM[what]})" if what in SWARM else ""
        unit = "" if what.endswith("(count)") else " s"
        print(f"{what}: median {statistics.median(values):.2f}{unit} of {len(values)} "
              f"({', '.join(f'{v:.2f}' for v in values)}){beside}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
