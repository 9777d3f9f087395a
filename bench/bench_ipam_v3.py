"""IPAM on etcd's v2 API (etcd://, python-etcd) and its v3 API (etcd3://, etcd3gw): reservations per second with
1 and 16 allocators, each beside the raw create-if-absent rate of the same API measured right before it in the
same run, and zero duplicates checked against the stored records after every run.

Goals: >= 0.5x raw on v2 (a reservation is two writes there: the owner's claim, then the address) and
>= 0.8x raw on v3 (the claim and the address in one transaction).

Starts its own etcd 3.4 member on 127.0.0.1 (free ports, temporary data dir, both APIs) and kills it at
the end. Allocators are threads of this process, each with its own Ipam and its own store client.

    python3 bench/bench_ipam_v3.py [--per-run 600] [--allocators 1,16] [--rounds 1]

Each client thread alternates one raw create-if-absent (python-etcd ``prevExist=false`` on v2, etcd3gw's
create transaction on v3) and one reservation, timing each, so both see the same load and concurrency;
``res/s`` and ``raw/s`` are clients / mean latency, ``x raw`` their ratio.
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


def paired(api: str, port: int, pool: Pool, clients: int, total: int):
    """``clients`` threads, each alternating one raw create-if-absent and one reservation, timing each.

    Alternating op by op puts both under the same load of this shared machine (which moves within
    seconds), at the same concurrency. Returns (reservations, raw seconds, reservation seconds,
    store calls, duplicates); the final hint flush counts as reservation time.
    """
    prefix = f"/bench-{api}-" + uuid.uuid4().hex[:8]
    Ipam(store(api, port), pool, prefix, SystemClock(), lambda: uuid.uuid4().hex).init()  # outside the timing
    per = max(1, total // clients)
    counts, lock = {}, threading.Lock()
    barrier = threading.Barrier(clients + 1)
    results, raw_s, res_s = [None] * clients, [0.0] * clients, [0.0] * clients

    def work(n):
        create = raw_client(api, port)
        create(f"/raw{prefix}/warm-{n}")  # connections are opened outside the timing
        ipam = Ipam(Counting(store(api, port), counts, lock), pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
        ipam._check_pool()  # the one read of the pool record per run
        got = []
        barrier.wait()
        for i in range(per):
            t0 = time.perf_counter()
            create(f"/raw{prefix}/{n}-{i}")
            t1 = time.perf_counter()
            got.append(ipam.ensure(f"a{n}/web/{i}", f"node{n}"))
            t2 = time.perf_counter()
            raw_s[n] += t1 - t0
            res_s[n] += t2 - t1
        t3 = time.perf_counter()
        ipam.flush()
        res_s[n] += time.perf_counter() - t3
        results[n] = got

    with ThreadPoolExecutor(clients) as ex:
        futures = [ex.submit(work, n) for n in range(clients)]
        barrier.wait()
        counts.clear()
        [f.result() for f in futures]
    got = [a for r in results for a in r]
    return got, sum(raw_s), sum(res_s), sum(counts.values()), duplicates(store(api, port), prefix, got)


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
    args = ap.parse_args()
    counts_wanted = [int(x) for x in args.allocators.split(",")]
    pool = Pool.build(SUBNET, "10.78.0.1", [SUBNET])
    proc, port, data, log = start_etcd()
    try:
        version = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout.split()[2]
        print(f"etcd {version} (1 member on loopback, both APIs, data in {data}); pool {pool.describe()}; "
              f"allocators are threads; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        rows = []
        for _ in range(args.rounds):
            for api in ("v2", "v3"):
                for n in counts_wanted:
                    got, raw_s, res_s, trips, dup = paired(api, port, pool, n, args.per_run)
                    # every client did as many raw creates as reservations: throughput = clients / latency
                    raw, rate = n * len(got) / raw_s, n * len(got) / res_s
                    rows.append((api, n, len(got), rate, raw, rate / raw, trips / len(got), dup))
        print()
        print(f"{'api':<4} {'alloc':>5} {'reserved':>8} {'res/s':>7} {'raw/s':>7} {'x raw':>6} {'goal':>6} "
              f"{'trips/res':>9} {'dups':>4}")
        for api, n, count, rate, raw, ratio, trips, dup in rows:
            mark = "" if ratio >= GOALS[api] else "  (missed)"
            print(f"{api:<4} {n:>5} {count:>8} {rate:>7.0f} {raw:>7.0f} {ratio:>6.2f} {GOALS[api]:>5.1f}x "
                  f"{trips:>9.2f} {dup:>4}{mark}")
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
