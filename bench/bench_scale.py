"""`scale web=30` from 3, with 3 consumers linking web: total time and the share spent on hosts files.

The hosts phase is timed from the first hosts-file session opened (the orchestrator writes hosts
files last, after every container runs) to the end of the command. Goal: <= 10%.

    python3 bench/bench_scale.py [--from 3] [--to 30] [--hosts 3] [--keep-lab]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import threading
import time
import uuid

import benchlib as lib

from napcompose.cli import main as nap_main
from napcompose.cli.wiring import Wiring


class _TimedConnections:
    """HostConnections that note when the first hosts-file session is asked for, and every write."""

    def __init__(self, inner, marks):
        self._inner = inner
        self._marks = marks

    def files(self, host):
        with self._marks["lock"]:
            self._marks.setdefault("first_files", time.perf_counter())
        files = self._inner.files(host)
        marks = self._marks

        class Counting:
            def read(self, path):
                return files.read(path)

            def write_in_place(self, path, data):
                files.write_in_place(path, data)
                with marks["lock"]:
                    marks["writes"] = marks.get("writes", 0) + 1

        return Counting()

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _TimedWiring(Wiring):
    def __init__(self, marks):
        self.marks = marks

    def connections(self, cluster, accept_new_host_keys=False):
        return _TimedConnections(super().connections(cluster, accept_new_host_keys), self.marks)


def nap(workdir, cluster, *argv, marks=None):
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    status = nap_main(list(argv), stdout=out, stderr=err, cwd=workdir,
                      environ={**os.environ, "NAP_CLUSTER": cluster},
                      wiring=_TimedWiring(marks) if marks is not None else None)
    end = time.perf_counter()
    if status != 0:
        raise SystemExit(f"nap-compose {' '.join(argv)} exited {status}:\n{err.getvalue()}")
    return start, end, err.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", type=int, default=3)
    parser.add_argument("--to", dest="end", type=int, default=30)
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()
    started = lib.ensure_lab(5)
    project = f"bs{uuid.uuid4().hex[:6]}"
    workdir = tempfile.mkdtemp(prefix="bench-scale-")
    cluster = lib.cluster_subset(args.hosts)
    try:
        base = {"image": lib.IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL"}
        lib.write_compose(workdir, {"version": "2.4", "services": {
            "web": dict(base, scale=args.start),
            "client": dict(base, scale=args.consumers, links=["web"]),
        }})
        nap(workdir, cluster, "-p", project, "up", "-d")
        marks = {"lock": threading.Lock()}
        start, end, log = nap(workdir, cluster, "-p", project, "scale", f"web={args.end}", marks=marks)
        total = end - start
        hosts_phase = end - marks["first_files"]
        created = log.count("Creating web_")
        updated = log.count("Updating hosts of")
        down_start = time.perf_counter()
        nap(workdir, cluster, "-p", project, "down", "-t", "1")
        down_seconds = time.perf_counter() - down_start
        print(f"scale web={args.start} -> {args.end} ({args.consumers} consumers linking web, {args.hosts} hosts)")
        print(f"  total:        {total:6.2f} s ({created} containers created)")
        print(f"  hosts phase:  {hosts_phase:6.2f} s = {100 * hosts_phase / total:.1f}% of the scale "
              f"({updated} hosts files rewritten, {marks.get('writes', 0)} in-place writes; goal <= 10%)")
        print(f"  down of {args.end + args.consumers} containers: {down_seconds:.2f} s")
    finally:
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    main()
