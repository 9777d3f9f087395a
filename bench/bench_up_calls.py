"""What `up -d` asks of each host and of the store, call by call: the 60-container chain of bench_up.

Runs `up -d` (and then a second `up -d` that changes nothing) in this process with the real adapters,
counting every Docker API request by verb and route, every hosts-file read and write over SFTP and every
store operation, with the time each took (summed: requests run in parallel, so the sums exceed the wall
time). The point is what `up` does per container besides create and start.

    python3 bench/bench_up_calls.py [--services 20] [--scale 3] [--hosts 3] [--keep-lab]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import tempfile
import threading
import time
import uuid
from collections import defaultdict

import benchlib as lib

from napcompose.cli import main as nap_main
from napcompose.cli.wiring import Wiring

_ID = re.compile(r"/[0-9a-f]{64}(?=/|$)")


def route(method: str, url: str) -> str:
    """``GET containers/{id}/json``: the request with ids, names and the query left out."""
    path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    path = re.sub(r"^v1\.\d+/", "", path)
    path = _ID.sub("/{id}", "/" + path)[1:]
    path = re.sub(r"^images/(?!json$|create$).+/(json|push|tag|history)$", r"images/{name}/\1", path)
    path = re.sub(r"^containers/(?!json$|create$|\{id\})[^/]+", "containers/{name}", path)
    return f"{method} {path}"


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = defaultdict(lambda: [0, 0.0])

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            entry = self.calls[kind]
            entry[0] += 1
            entry[1] += seconds

    def timed(self, kind: str, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.add(kind, time.perf_counter() - start)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()


class _CountingConnections:
    def __init__(self, inner, tally: Tally):
        self._inner = inner
        self._tally = tally
        self._wrapped = set()

    def docker(self, host):
        client = self._inner.docker(host)
        api = client.api
        if id(api) not in self._wrapped:
            self._wrapped.add(id(api))
            send, tally = api.send, self._tally

            def counted(request, **kwargs):
                return tally.timed(f"docker {route(request.method, request.url)}", send, request, **kwargs)

            api.send = counted
        return client

    def files(self, host):
        files, tally = self._inner.files(host), self._tally

        class Counting:
            def read(self, path, *limit):
                return tally.timed("sftp read", files.read, path, *limit)

            def write_in_place(self, path, data):
                return tally.timed("sftp write", files.write_in_place, path, data)

            def __getattr__(self, name):  # shipping's operations, uncounted
                return getattr(files, name)

        return Counting()

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _CountingStore:
    def __init__(self, inner, tally: Tally):
        self._inner = inner
        self._tally = tally

    def __getattr__(self, name):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        return lambda *a, **k: self._tally.timed(f"store {name}", attribute, *a, **k)


class _CountingWiring(Wiring):
    def __init__(self, tally: Tally):
        self.tally = tally

    def connections(self, cluster, accept_new_host_keys=False):
        return _CountingConnections(super().connections(cluster, accept_new_host_keys), self.tally)

    def store(self, cluster):
        return _CountingStore(super().store(cluster), self.tally)


def nap(workdir, cluster, tally, *argv):
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    status = nap_main(list(argv), stdout=out, stderr=err, cwd=workdir,
                      environ={**os.environ, "NAP_CLUSTER": cluster}, wiring=_CountingWiring(tally))
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"nap-compose {' '.join(argv)} exited {status}:\n{err.getvalue()}")
    return seconds


def report(title: str, seconds: float, tally: Tally, containers: int) -> None:
    print(f"{title}: {seconds:.2f} s wall")
    print(f"  {'call':<44} {'count':>6} {'per ctr':>8} {'sum s':>8} {'ms each':>8}")
    for kind, (count, total) in sorted(tally.calls.items(), key=lambda kv: -kv[1][1]):
        print(f"  {kind:<44} {count:6d} {count / containers:8.2f} {total:8.2f} {1000 * total / count:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()
    total = args.services * args.scale
    started = lib.ensure_lab(5)
    project = f"bc{uuid.uuid4().hex[:6]}"
    workdir = tempfile.mkdtemp(prefix="bench-up-calls-")
    cluster = lib.cluster_subset(args.hosts)
    tally = Tally()
    try:
        lib.write_compose(workdir, lib.chain_services(args.services, args.scale))
        seconds = nap(workdir, cluster, tally, "-p", project, "up", "-d")
        report(f"up -d of {total} containers ({args.services} services x {args.scale}) on {args.hosts} hosts",
               seconds, tally, total)
        tally.reset()
        seconds = nap(workdir, cluster, tally, "-p", project, "up", "-d")
        report("second up -d (nothing to change)", seconds, tally, total)
    finally:
        nap(workdir, cluster, Tally(), "-p", project, "down", "-t", "1")
        if started and not args.keep_lab:
            lib.lab_down()


if __name__ == "__main__":
    main()
