"""A 3-member etcd in a lab of its own loses its leader while 8 allocator processes reserve 15 addresses each,
through etcd's v3 API and through its v2 API: a leader change costs retries, never a duplicate."""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import replace

import pytest

from napcompose.adapters.stores import open_store
from napcompose.cli import main
from napcompose.cluster import load_cluster_file
from napcompose.ipam import Ipam, Pool
from napcompose.lab import etcd as lab_etcd
from napcompose.lab import lab_down, lab_up
from napcompose.lab.layout import make_layout
from tests.ipam_workers import allocate_retrying

pytestmark = pytest.mark.integration

NAME, SUBNET = "napetcd", "198.18.9.0/24"
WORKERS, EACH = 8, 15


class Later:
    """A clock an hour ahead: every stray address is past the grace period for gc."""

    def now(self):
        return time.time() + 3600

    def sleep(self, seconds):
        time.sleep(seconds)


@pytest.fixture(scope="module")
def etcd_lab(lab):  # `lab`: the integration lock is held, so no other session builds labs meanwhile
    directory = os.path.join(tempfile.mkdtemp(prefix="napetcd-", dir="/tmp"), "l")
    say = lambda line: sys.stderr.write(f"[etcd lab] {line}\n")  # noqa: E731
    try:
        lab_up(NAME, SUBNET, 1, directory, say, etcd_members=3)
        yield make_layout(NAME, SUBNET, 1, directory)
    finally:
        left = lab_down(directory, say) if os.path.exists(os.path.join(directory, "state.json")) else []
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        assert left == []


def _connect(layout, address: str) -> http.client.HTTPSConnection:
    """A connection to one member, with the lab's client certificate (the members refuse any other)."""
    return http.client.HTTPSConnection(address, 2379, timeout=2, context=lab_etcd.store_tls(layout).client_context())


def _local_get(layout, address: str, key: str, api: str):
    """Read ``key`` from one member's own copy of the data (a serializable v3 read, a non-quorum v2 read)."""
    import base64

    conn = _connect(layout, address)
    try:
        if api == "etcd":
            conn.request("GET", "/v2/keys" + key)
            reply = conn.getresponse()
            data = json.loads(reply.read().decode())
            return data["node"]["value"] if reply.status == 200 else None
        body = json.dumps({"key": base64.b64encode(key.encode()).decode(), "serializable": True})
        conn.request("POST", "/v3/kv/range", body=body, headers={"Content-Type": "application/json"})
        kvs = json.loads(conn.getresponse().read().decode()).get("kvs") or []
        return base64.b64decode(kvs[0]["value"]).decode() if kvs else None
    finally:
        conn.close()


def _member_list(layout, address: str):
    conn = _connect(layout, address)
    try:
        conn.request("POST", "/v3/cluster/member/list", body="{}", headers={"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read().decode())["members"]
    finally:
        conn.close()


@pytest.mark.parametrize("api", ["etcd3", "etcd"])
def test_a_leader_killed_mid_run_costs_retries_never_a_duplicate(etcd_lab, api):
    layout = etcd_lab
    endpoints = lab_etcd.store_url(layout)[len("etcd://"):]
    url = f"{api}://{endpoints}"
    prefix = f"/leader-{api}-{uuid.uuid4().hex[:6]}"
    # WORKERS x EACH addresses are only keys here (no container is made), so the pool spans the lab's
    # host blocks too: the lab's own pool is smaller than what the run asks for.
    net = ipaddress.IPv4Network(SUBNET)
    pool = Pool.build(SUBNET, layout.router, [f"{net[32]}-{net[249]}"],
                      hosts=[(h.name, h.address) for h in layout.hosts])
    spec = replace(load_cluster_file(layout.cluster_file).store, url=url, prefix=prefix)
    watcher = open_store(spec)
    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0
    with ctx.Pool(WORKERS) as workers:
        pending = workers.starmap_async(allocate_retrying,
                                        [(spec, prefix, pool, w, EACH, start_at, 0.15) for w in range(WORKERS)])
        deadline = time.time() + 60
        while len(watcher.list(f"{prefix}/addresses/")) < 24:  # a fifth of the run is done
            assert time.time() < deadline, "the allocators made no progress"
            time.sleep(0.05)
        killed = lab_etcd.kill_leader(layout)
        killed_at = time.time()
        results = [row for rows in pending.get(timeout=300) for row in rows]

    # Every reservation succeeded once; those that failed first failed with a sentence naming the endpoints.
    assert len(results) == WORKERS * EACH
    owners = [owner for owner, _, _, _ in results]
    assert len(set(owners)) == WORKERS * EACH
    ips = [ip for _, ip, _, _ in results]
    assert len(set(ips)) == WORKERS * EACH, "two owners were given one address"
    errors = [e for _, _, errs, _ in results for e in errs]
    clear = re.compile(r"^(etcd at \S+ (failed on|has no leader|refused)|cannot reach etcd at |no address settled)")
    assert all(clear.match(e) for e in errors), errors
    sys.stderr.write(f"[{api}] leader {killed.name} killed; {len(errors)} failed attempt(s) retried: "
                     f"{sorted(set(re.sub(r'/leader-[^ ]+', 'KEY', e) for e in errors))}\n")
    assert any(done < killed_at for *_, done in results) and any(done > killed_at for *_, done in results)

    # The store agrees: one address record and one claim per owner, each naming the other.
    records = {k.rsplit("/", 1)[1]: json.loads(v) for k, (v, _) in watcher.list(f"{prefix}/addresses/").items()}
    assert {(r["owner"], ip) for ip, r in records.items()} == {(o, ip) for o, ip, _, _ in results}
    claims = {k.rsplit("/", 1)[1].replace("~", "/"): json.loads(v)["ip"]
              for k, (v, _) in watcher.list(f"{prefix}/owners/").items()}
    assert claims == {o: ip for o, ip, _, _ in results}
    later = Ipam(watcher, pool, prefix, Later(), lambda: uuid.uuid4().hex)
    assert later.gc({}, set()) == []  # no stray address, however old

    # `ipam gc` over the lab's host finds nothing to collect.
    cluster_file = os.path.join(layout.dir, f"cluster-{api}.yml")  # beside the lab's: its relative paths hold
    with open(layout.cluster_file) as fh:
        text = fh.read().replace(f"etcd://{endpoints}", url).replace("prefix: /nap-compose", f"prefix: {prefix}")
    with open(cluster_file, "w") as fh:
        fh.write(text)
    out, err = io.StringIO(), io.StringIO()
    status = main(["--cluster", cluster_file, "ipam", "gc"], stdout=out, stderr=err,
                  environ={}, cwd=layout.dir)
    assert (status, out.getvalue(), err.getvalue()) == (0, "no leaked addresses\n", "")

    # The killed member, revived, rejoins: three members listed and healthy, and its own copy of the data
    # holds what was written while it was down.
    assert [m.key for m in lab_etcd.revive(layout)] == [killed.key]
    statuses = lab_etcd.status(layout)
    assert all(s["running"] and s["answers"] for s in statuses)
    assert sum(s["leader"] for s in statuses) == 1
    assert len(_member_list(layout, killed.address)) == 3
    written_while_down = f"{prefix}/addresses/{ips[-1]}"
    deadline = time.time() + 15
    while _local_get(layout, killed.address, written_while_down, api) is None:
        assert time.time() < deadline, f"{killed.name} did not catch up after it rejoined"
        time.sleep(0.2)
    watcher.close()
