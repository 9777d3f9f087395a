"""Allocator processes for the concurrency tests: each opens the store itself, like a separate run."""

import time
import uuid

from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.ipam import Ipam, Pool
from napcompose.clustermodel import StoreSpec


def allocate(url, prefix, subnet, worker, count, start_at):
    """Reserve ``count`` addresses for owners p<worker>/web/<i>; return [(owner, ip)]."""
    store = open_store(StoreSpec(url=url, prefix=prefix))
    pool = Pool.build(subnet, subnet.split("/")[0][:-1] + "1", [subnet])
    ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
    while time.time() < start_at:  # all workers start together
        time.sleep(0.001)
    got = [(f"p{worker}/web/{i}", ipam.ensure(f"p{worker}/web/{i}", f"node{worker}").ip) for i in range(count)]
    ipam.flush()
    return got


def run_workers(url, prefix, subnet, workers=8, count=50):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0
    with ctx.Pool(workers) as pool:
        results = pool.starmap(allocate, [(url, prefix, subnet, w, count, start_at) for w in range(workers)])
    return [pair for result in results for pair in result]


def allocate_retrying(spec, prefix, pool, worker, count, start_at, pause_s):
    """Reserve ``count`` addresses for owners p<worker>/web/<i> in the store ``spec`` names (a StoreSpec:
    URL and certificates), retrying a reservation that fails with a StoreError or IpamError (e.g. while
    etcd elects a new leader). Returns [(owner, ip, errors, done_at)]."""
    from napcompose.errors import IpamError, StoreError

    store = open_store(spec)
    ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
    while time.time() < start_at:
        time.sleep(0.001)
    got = []
    for i in range(count):
        owner, errors = f"p{worker}/web/{i}", []
        while True:
            try:
                ip = ipam.ensure(owner, None).ip
                break
            except (StoreError, IpamError) as exc:
                errors.append(str(exc))
                if len(errors) > 30:
                    raise
                time.sleep(0.2)
        got.append((owner, ip, errors, time.time()))
        time.sleep(pause_s)
    for _ in range(30):
        try:
            ipam.flush()
            break
        except StoreError:
            time.sleep(0.2)
    return got
