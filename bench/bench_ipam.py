"""IPAM benchmark: reservations per second on a /16 pool at 0%, 50% and 90% full, with 1, 4 and 16
concurrent allocators, beside the raw etcd create-if-absent rate measured in the same run (and again, with as many
clients, right before each measurement, since the load of a shared machine drifts).

Starts its own etcd 3.4 member on 127.0.0.1 (free ports, temporary data dir, --enable-v2=true) and
kills it at the end. Allocators are threads of this process, each with its own Ipam and its own
python-etcd client (one connection pool each), as separate `up` runs would have. The pool is
pre-filled with raw creates of uniformly random addresses (the hardest layout for an allocator:
no long free runs), then the free-space hints are rebuilt once, as `ipam init` does.

    python3 bench/bench_ipam.py [--per-run 1000] [--fills 0,50,90] [--allocators 1,4,16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import etcd  # noqa: E402

from napcompose.adapters.etcd_store import EtcdStore  # noqa: E402
from napcompose.adapters.system import SystemClock  # noqa: E402
from napcompose.ipam import Ipam, Pool  # noqa: E402
from napcompose.ipam.records import Keys  # noqa: E402

SUBNET = "10.77.0.0/16"  # only ever a key in etcd: no packet goes to these addresses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_etcd():
    data = tempfile.mkdtemp(prefix="nap-bench-etcd-")
    port, peer = free_port(), free_port()
    argv = ["etcd", "--name", "bench", "--data-dir", os.path.join(data, "d"),
            "--listen-client-urls", f"http://127.0.0.1:{port}", "--advertise-client-urls", f"http://127.0.0.1:{port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"bench=http://127.0.0.1:{peer}", "--enable-v2=true", "--log-level", "error",
            "--logger", "zap", "--quota-backend-bytes", str(4 << 30)]
    log = open(os.path.join(data, "etcd.log"), "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            EtcdStore([("127.0.0.1", port)]).close()
            return proc, port, data, log
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"etcd did not start; see {data}/etcd.log")
            time.sleep(0.1)


def client(port):
    return etcd.Client(host=(("127.0.0.1", port),), allow_reconnect=True, read_timeout=10)


def raw_rate(port, threads: int, total: int) -> float:
    """Creates per second of unique keys with prevExist=false, ``threads`` clients in parallel."""
    prefix = "/raw" + uuid.uuid4().hex[:8]
    per = total // threads
    barrier = threading.Barrier(threads + 1)

    def work(n):
        c = client(port)
        barrier.wait()
        for i in range(per):
            c.write(f"{prefix}/{n}-{i}", "x", prevExist=False)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(work, n) for n in range(threads)]
        barrier.wait()
        start = time.perf_counter()
        [f.result() for f in futures]
    return per * threads / (time.perf_counter() - start)


def prefill(port, prefix, pool: Pool, fraction: float) -> int:
    """Raw creates of ``fraction`` of the pool at random addresses, 16 clients in parallel."""
    keys = Keys(prefix)
    chosen = random.Random(42).sample(range(pool.size), int(pool.size * fraction))
    record = json.dumps({"owner": "fill/x/0", "host": None, "state": "reserved", "since": 0.0, "alloc_id": "fill"})
    chunks = [chosen[i::16] for i in range(16)]

    def work(chunk):
        c = client(port)
        for index in chunk:
            c.write(keys.address(pool.address_at(index)), record, prevExist=False)

    with ThreadPoolExecutor(16) as ex:
        list(ex.map(work, chunks))
    return len(chosen)


class Counting:
    """The store, counting round trips per method."""

    def __init__(self, store, counts, lock):
        self._store, self._counts, self._lock = store, counts, lock

    def __getattr__(self, name):
        method = getattr(self._store, name)

        def counted(*args, **kwargs):
            with self._lock:
                self._counts[name] = self._counts.get(name, 0) + 1
            return method(*args, **kwargs)
        return counted


def run_allocators(port, prefix, pool, allocators: int, total: int, tag: str):
    per = max(1, total // allocators)
    counts, lock = {}, threading.Lock()
    barrier = threading.Barrier(allocators + 1)
    results = [None] * allocators

    def work(n):
        store = Counting(EtcdStore([("127.0.0.1", port)], timeout_s=10), counts, lock)
        ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
        ipam._check_pool()  # the one read of the pool record per run, outside the timing
        barrier.wait()
        results[n] = [ipam.ensure(f"{tag}/a{n}/{i}", f"node{n}") for i in range(per)]
        ipam.flush()

    with ThreadPoolExecutor(allocators) as ex:
        futures = [ex.submit(work, n) for n in range(allocators)]
        barrier.wait()
        counts.clear()
        start = time.perf_counter()
        [f.result() for f in futures]
        elapsed = time.perf_counter() - start
    got = [a for r in results for a in r]
    return got, elapsed, counts


def check_and_release(port, prefix, pool, got):
    """Zero duplicates: distinct addresses, one per owner, each record naming its owner; then release."""
    store = EtcdStore([("127.0.0.1", port)], timeout_s=30)
    keys = Keys(prefix)
    records = {k[len(keys.addresses):]: json.loads(v) for k, (v, _) in store.list(keys.addresses).items()}
    ips = [a.ip for a in got]
    mine = {ip: r for ip, r in records.items() if r["owner"] != "fill/x/0"}
    duplicates = (len(ips) - len(set(ips))) + (len(mine) - len({r["owner"] for r in mine.values()}))
    duplicates += sum(1 for a in got if records.get(a.ip, {}).get("owner") != a.owner)
    ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
    for a in got:
        ipam.release(a.ip, a.owner)
    ipam.flush()
    return duplicates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-run", type=int, default=1000, help="reservations per measurement (default 1000)")
    ap.add_argument("--fills", default="0,50,90")
    ap.add_argument("--allocators", default="1,4,16")
    args = ap.parse_args()
    fills = [int(x) for x in args.fills.split(",")]
    allocator_counts = [int(x) for x in args.allocators.split(",")]
    pool = Pool.build(SUBNET, "10.77.0.1", [SUBNET])
    proc, port, data, log = start_etcd()
    try:
        print(f"etcd {subprocess.run(['etcd', '--version'], capture_output=True, text=True).stdout.split()[2]} "
              f"(1 member, data dir on {data}), python-etcd {etcd.__version__ if hasattr(etcd, '__version__') else '0.4.5'}; "
              f"pool {pool.describe()} ({pool.size} addresses); allocators are threads; {os.cpu_count()} cores")
        raw = {n: raw_rate(port, n, 2000 if n == 1 else 4000) for n in allocator_counts}
        print("raw create-if-absent: " + ", ".join(f"{n} client(s) {raw[n]:.0f}/s" for n in allocator_counts)
              + f"; load average {os.getloadavg()[0]:.1f}")
        rows, cost = [], {}
        for fill in fills:
            prefix = f"/bench{fill}-" + uuid.uuid4().hex[:6]
            t0 = time.perf_counter()
            filled = prefill(port, prefix, pool, fill / 100.0)
            setup = Ipam(EtcdStore([("127.0.0.1", port)], timeout_s=60), pool, prefix, SystemClock(),
                         lambda: uuid.uuid4().hex)
            setup.init()  # records the pool and rebuilds the hints from one full read
            print(f"filled {fill}% ({filled} addresses) in {time.perf_counter() - t0:.1f}s")
            for n in allocator_counts:
                # the raw rate again right before each run: this machine's load drifts within minutes
                raw[n] = raw_rate(port, n, max(n, args.per_run))
                got, elapsed, counts = run_allocators(port, prefix, pool, n, args.per_run, f"f{fill}n{n}")
                dup = check_and_release(port, prefix, pool, got)
                rate = len(got) / elapsed
                trips = sum(counts.values()) / len(got)
                cost[(fill, n)] = elapsed / len(got)
                rows.append((fill, n, len(got), rate, rate / raw[n], trips, counts.get("create", 0) / len(got), dup))
        print()
        print(f"{'fill':>4} {'alloc':>5} {'reserved':>8} {'res/s':>7} {'raw/s':>7} {'x raw':>6} {'trips/res':>9} "
              f"{'creates/res':>11} {'cost vs 0%':>10} {'dups':>4}")
        for fill, n, count, rate, ratio, trips, creates, dup in rows:
            raw_then = rate / ratio
            base = cost.get((0, n))
            vs = f"{cost[(fill, n)] / base:.2f}x" if base else "-"
            print(f"{fill:>3}% {n:>5} {count:>8} {rate:>7.0f} {raw_then:>7.0f} {ratio:>6.2f} {trips:>9.2f} "
                  f"{creates:>11.2f} {vs:>10} {dup:>4}")
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print()
        ok1 = all(r[4] >= 0.5 for r in rows if r[1] == 1 and r[0] == 0)
        ok90 = all(cost[(90, n)] <= 2 * cost[(0, n)] for n in allocator_counts if (90, n) in cost and (0, n) in cost)
        okdup = all(r[7] == 0 for r in rows)
        print(f"goal >= 0.5x raw with 1 allocator (empty pool): {'met' if ok1 else 'MISSED'}; "
              f"90% full <= 2x the 0% cost: {'met' if ok90 else 'MISSED'}; zero duplicates: "
              f"{'met' if okdup else 'MISSED'}")
        return 0 if okdup else 1
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
