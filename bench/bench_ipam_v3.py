"""IPAM on etcd's v2 API (etcd://, python-etcd) and its v3 API (etcd3://, etcd3gw): reservations per second with
1 and 16 allocators, each beside the raw create-if-absent rate of the same API measured right before it in the
same run, and zero duplicates checked against the stored records after every run.

Goals: >= 0.5x raw on v2 (a reservation is two writes there: the owner's claim, then the address) and
>= 0.8x raw on v3 (the claim and the address in one transaction).

Starts its own etcd 3.4 member on 127.0.0.1 (free ports, temporary data dir, both APIs) and kills it at
the end. Allocators are threads of this process, each with its own Ipam and its own store client.

    python3 bench/bench_ipam_v3.py [--per-run 600] [--allocators 1,16] [--chunks 6] [--rounds 1]

``x raw`` is the reservation rate over the raw rate, each summed over all chunks of the row; ``chunks``
is the range of that ratio chunk by chunk (how much this machine's load moved it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import etcd  # noqa: E402
import etcd3gw  # noqa: E402

from bench_ipam import Counting, start_etcd  # noqa: E402
from napcompose.adapters.etcd3_store import Etcd3Store  # noqa: E402
from napcompose.adapters.etcd_store import EtcdStore  # noqa: E402
from napcompose.adapters.system import SystemClock  # noqa: E402
from napcompose.ipam import Ipam, Pool  # noqa: E402
from napcompose.ipam.records import Keys  # noqa: E402

SUBNET = "10.78.0.0/16"  # only ever a key in etcd: no packet goes to these addresses
GOALS = {"v2": 0.5, "v3": 0.8}


def raw_client(api: str, port: int):
    """The raw create-if-absent of one API: python-etcd's prevExist=false, or etcd3gw's create transaction."""
    if api == "v2":
        client = etcd.Client(host=(("127.0.0.1", port),), allow_reconnect=True, read_timeout=10)
        return lambda key: client.write(key, "x", prevExist=False)
    client = etcd3gw.client(host="127.0.0.1", port=port, timeout=10)
    client.session.trust_env = False
    return lambda key: client.create(key, "x")


def store(api: str, port: int):
    if api == "v2":
        return EtcdStore([("127.0.0.1", port)], timeout_s=10)
    return Etcd3Store([("127.0.0.1", port)], timeout_s=10)


def raw_rate(api: str, port: int, threads: int, total: int) -> float:
    prefix = f"/raw-{api}-" + uuid.uuid4().hex[:8]
    per = max(1, total // threads)
    barrier = threading.Barrier(threads + 1)

    def work(n):
        create = raw_client(api, port)
        create(f"{prefix}/warm-{n}")  # the connection is opened outside the timing
        barrier.wait()
        for i in range(per):
            create(f"{prefix}/{n}-{i}")

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(work, n) for n in range(threads)]
        barrier.wait()
        start = time.perf_counter()
        [f.result() for f in futures]
    return per * threads / (time.perf_counter() - start)


def reserve(api: str, port: int, pool: Pool, allocators: int, total: int):
    prefix = f"/bench-{api}-" + uuid.uuid4().hex[:8]
    setup = Ipam(store(api, port), pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
    setup.init()  # records the pool and its (empty) hints, outside the timing
    per = max(1, total // allocators)
    counts, lock = {}, threading.Lock()
    barrier = threading.Barrier(allocators + 1)
    results = [None] * allocators

    def work(n):
        ipam = Ipam(Counting(store(api, port), counts, lock), pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
        ipam._check_pool()  # the one read of the pool record per run, outside the timing
        barrier.wait()
        results[n] = [ipam.ensure(f"a{n}/web/{i}", f"node{n}") for i in range(per)]
        ipam.flush()

    with ThreadPoolExecutor(allocators) as ex:
        futures = [ex.submit(work, n) for n in range(allocators)]
        barrier.wait()
        counts.clear()
        start = time.perf_counter()
        [f.result() for f in futures]
        elapsed = time.perf_counter() - start
    got = [a for r in results for a in r]
    return got, elapsed, counts, duplicates(store(api, port), prefix, got)


def duplicates(checker, prefix: str, got) -> int:
    """Addresses given twice, owners holding two addresses, records that disagree with what ensure returned."""
    keys = Keys(prefix)
    records = {k[len(keys.addresses):]: json.loads(v) for k, (v, _) in checker.list(keys.addresses).items()}
    ips = [a.ip for a in got]
    dup = (len(ips) - len(set(ips))) + (len(records) - len({r["owner"] for r in records.values()}))
    dup += sum(1 for a in got if records.get(a.ip, {}).get("owner") != a.owner)
    return dup + abs(len(records) - len(got))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-run", type=int, default=600, help="reservations per measurement (default 600)")
    ap.add_argument("--allocators", default="1,16")
    ap.add_argument("--rounds", type=int, default=1, help="measure every row this many times (default 1)")
    ap.add_argument("--chunks", type=int, default=6,
                    help="alternate raw and reservation measurements this many times per row (default 6)")
    args = ap.parse_args()
    counts_wanted = [int(x) for x in args.allocators.split(",")]
    pool = Pool.build(SUBNET, "10.78.0.1", [SUBNET])
    proc, port, data, log = start_etcd()
    try:
        version = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout.split()[2]
        print(f"etcd {version} (1 member on loopback, both APIs, data in {data}); pool {pool.describe()}; "
              f"allocators are threads; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        rows = []
        chunk = max(16, args.per_run // args.chunks)
        for _ in range(args.rounds):
            for api in ("v2", "v3"):
                for n in counts_wanted:
                    # Raw and reservations alternate in short chunks, so that the load of this shared
                    # machine, which drifts within seconds, weighs on both alike.
                    raw_s = res_s = 0.0
                    raw_done, got_all, trips, dup, ratios = 0, 0, 0, 0, []
                    for _ in range(args.chunks):
                        raw = raw_rate(api, port, n, chunk)
                        got, elapsed, counts, d = reserve(api, port, pool, n, chunk)
                        done = (chunk // n) * n
                        raw_s += done / raw
                        raw_done += done
                        res_s += elapsed
                        got_all += len(got)
                        trips += sum(counts.values())
                        dup += d
                        ratios.append(len(got) / elapsed / raw)
                    rate, raw = got_all / res_s, raw_done / raw_s
                    rows.append((api, n, got_all, rate, raw, rate / raw, trips / got_all, dup, min(ratios),
                                 max(ratios)))
        print()
        print(f"{'api':<4} {'alloc':>5} {'reserved':>8} {'res/s':>7} {'raw/s':>7} {'x raw':>6} {'goal':>6} "
              f"{'chunks':>11} {'trips/res':>9} {'dups':>4}")
        for api, n, count, rate, raw, ratio, trips, dup, low, high in rows:
            mark = "" if ratio >= GOALS[api] else "  (missed)"
            print(f"{api:<4} {n:>5} {count:>8} {rate:>7.0f} {raw:>7.0f} {ratio:>6.2f} {GOALS[api]:>5.1f}x "
                  f"{low:>5.2f}-{high:<5.2f} {trips:>9.2f} {dup:>4}{mark}")
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        met = {api: all(r[5] >= GOALS[api] for r in rows if r[0] == api) for api in GOALS}
        okdup = all(r[7] == 0 for r in rows)
        print(f"goal >= 0.5x raw on v2: {'met' if met['v2'] else 'MISSED'}; goal >= 0.8x raw on v3: "
              f"{'met' if met['v3'] else 'MISSED'}; zero duplicates: {'met' if okdup else 'MISSED'}")
        return 0 if okdup else 1
    finally:
        proc.kill()
        proc.wait()
        log.close()
        import shutil

        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
