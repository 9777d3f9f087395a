"""IPAM on etcd's v3 API (etcd3://) against real etcd 3.4 members started on loopback by these tests,
among them one WITHOUT the v2 API: nap-compose must work on an etcd that no longer serves v2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import textwrap
import time
import uuid

import pytest

from napcompose.adapters import etcd3_store
from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.cli import main
from napcompose.errors import PoolExhaustedError, StoreError
from napcompose.ipam import Ipam, Pool
from napcompose.clustermodel import StoreSpec
from tests.integration.test_ipam_etcd import Etcd, free_port, make_tls
from tests.ipam_workers import run_workers

pytestmark = pytest.mark.integration


def _wait_open(spec: StoreSpec):
    deadline = time.time() + 20
    while True:  # the port answers a little before the member serves requests
        try:
            return open_store(spec)
        except StoreError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def etcd_v3_only():
    server = Etcd(enable_v2=False)
    server.url3 = f"etcd3://127.0.0.1:{server.port}"
    try:
        _wait_open(StoreSpec(url=server.url3)).close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix():
    return "/t" + uuid.uuid4().hex[:10]


def test_unreachable_endpoints_are_all_named():
    ports = free_port(), free_port()
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url=f"etcd3://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}", timeout_s=2))
    assert str(err.value) == (f"cannot reach etcd at 127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}: "
                              f"127.0.0.1:{ports[0]}: connection refused; 127.0.0.1:{ports[1]}: connection refused")


def test_the_v2_store_is_refused_and_the_v3_store_works_on_an_etcd_without_v2(etcd_v3_only, prefix):
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url=f"etcd://127.0.0.1:{etcd_v3_only.port}"))
    assert "does not serve the v2 API: start etcd with --enable-v2=true" in str(err.value)
    store = open_store(StoreSpec(url=etcd_v3_only.url3))
    assert store.create(f"{prefix}/a", "v") is not None


def test_a_second_endpoint_is_used_when_the_first_is_down(etcd_v3_only, prefix):
    dead = free_port()
    store = open_store(StoreSpec(url=f"etcd3://127.0.0.1:{dead},127.0.0.1:{etcd_v3_only.port}", timeout_s=2))
    assert store.create(f"{prefix}/k", "v") is not None
    assert store.get(f"{prefix}/k")[0] == "v"


def test_list_reads_page_by_page_at_one_revision(etcd_v3_only, prefix, monkeypatch):
    store = open_store(StoreSpec(url=etcd_v3_only.url3))
    made = {f"{prefix}/k/{i:03d}": store.create(f"{prefix}/k/{i:03d}", str(i)) for i in range(23)}
    monkeypatch.setattr(etcd3_store, "PAGE", 5)
    assert {k: v for k, (_, v) in store.list(f"{prefix}/k/").items()} == made


def test_eight_processes_times_fifty_reservations_on_etcd3(etcd_v3_only, prefix):
    got = run_workers(etcd_v3_only.url3, prefix, "198.18.0.0/22")
    assert len(got) == 400 and len({ip for _, ip in got}) == 400
    store = open_store(StoreSpec(url=etcd_v3_only.url3))
    records = {k.rsplit("/", 1)[1]: json.loads(v) for k, (v, _) in store.list(f"{prefix}/addresses/").items()}
    assert len(records) == 400 and len({r["owner"] for r in records.values()}) == 400
    assert {(r["owner"], ip) for ip, r in records.items()} == set(got)
    claims = store.list(f"{prefix}/owners/")
    assert len(claims) == 400  # every claim was written with its address, in one transaction


def test_small_pool_is_exhausted_cleanly_on_etcd3(etcd_v3_only, prefix):
    pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
    store = open_store(StoreSpec(url=etcd_v3_only.url3))
    ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
    ipam.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(1, 4)])
    before = store.list(f"{prefix}/addresses/"), store.list(f"{prefix}/owners/")
    with pytest.raises(PoolExhaustedError) as err:
        ipam.ensure_many([(f"shop/db/{i}", "node1", None) for i in range(1, 4)])
    assert str(err.value) == "address pool 198.18.0.0-198.18.0.7 is exhausted: 5 addresses, 3 in use, 3 asked for"
    assert (store.list(f"{prefix}/addresses/"), store.list(f"{prefix}/owners/")) == before


def test_the_commands_against_etcd3(etcd_v3_only, prefix, tmp_path):
    url = etcd_v3_only.url3
    (tmp_path / "nap-cluster.yml").write_text(textwrap.dedent(f"""\
        network: {{name: nap, subnet: 198.18.0.0/24, router: 198.18.0.1, pools: ["198.18.0.100-198.18.0.109"]}}
        store: {{url: "{url}", prefix: "{prefix}"}}
        hosts:
          - {{name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}}
        """))

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path))
        return status, out.getvalue(), err.getvalue()

    assert run("ipam", "init")[0:2] == (0, f"address pool 198.18.0.100-198.18.0.109 (10 addresses) recorded in {url}\n")
    assert run("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.105") == (0, "198.18.0.105\n", "")
    assert run("ipam", "reserve", "--owner", "shop/web/1") == (0, "198.18.0.105\n", "")
    status, out, _ = run("ipam", "ls", "--format", "json")
    assert [(d["address"], d["owner"]) for d in json.loads(out)] == [("198.18.0.105", "shop/web/1")]
    assert run("ipam", "release", "--owner", "shop/web/1") == (0, "released 198.18.0.105 (shop/web/1)\n", "")
    port = free_port()
    (tmp_path / "nap-cluster.yml").write_text(
        (tmp_path / "nap-cluster.yml").read_text().replace(url, f"etcd3://127.0.0.1:{port}"))
    assert run("ipam", "ls") == (4, "", f"ERROR: cannot reach etcd at 127.0.0.1:{port}: 127.0.0.1:{port}: "
                                        "connection refused\n")


def test_tls_with_a_client_certificate_on_etcd3(tmp_path, prefix):
    # etcd's v3 gateway reaches its own gRPC server with the server's certificate, so under
    # --client-cert-auth that certificate must be good for client auth too (etcd issue 17969).
    tls = make_tls(str(tmp_path), server_usage="serverAuth,clientAuth")
    server = Etcd(enable_v2=False, tls=tls)
    try:
        url = f"etcd3://127.0.0.1:{server.port}"
        store = _wait_open(StoreSpec(url=url, ca_cert=tls["ca"], cert=tls["client_cert"], key=tls["client_key"]))
        pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
        ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
        alloc = ipam.ensure("shop/web/1", "node1")
        assert ipam.lookup("shop/web/1") == alloc
        with pytest.raises(StoreError) as err:  # the server insists on a client certificate
            open_store(StoreSpec(url=url, ca_cert=tls["ca"], timeout_s=2))
        assert str(err.value).startswith(f"cannot reach etcd at 127.0.0.1:{server.port}: 127.0.0.1:{server.port}: "
                                         "TLS handshake failed (")
        assert str(err.value).endswith("; check store.ca_cert, store.cert and store.key")
    finally:
        server.stop()


def test_user_and_password_on_etcd3(prefix):
    server = Etcd(enable_v2=False)
    try:
        env = dict(os.environ, ETCDCTL_API="3")
        endpoint = f"http://127.0.0.1:{server.port}"

        def etcdctl(*argv):
            deadline = time.time() + 20
            while True:
                done = subprocess.run(["etcdctl", "--endpoints", endpoint, *argv], env=env, capture_output=True,
                                      text=True)
                if done.returncode == 0 or time.time() > deadline:
                    assert done.returncode == 0, done.stderr
                    return
                time.sleep(0.2)

        etcdctl("user", "add", "root:s3cret")
        etcdctl("user", "add", "nap:n4p")
        etcdctl("--user", "root:s3cret", "role", "add", "napper")
        etcdctl("--user", "root:s3cret", "role", "grant-permission", "napper", "--prefix=true", "readwrite", prefix)
        etcdctl("--user", "root:s3cret", "user", "grant-role", "nap", "napper")
        etcdctl("auth", "enable")
        url = f"etcd3://127.0.0.1:{server.port}"
        store = open_store(StoreSpec(url=url, username="nap", password="n4p"))
        assert store.create(f"{prefix}/k", "v") is not None
        with pytest.raises(StoreError) as err:  # outside what the role may touch
            store.create("/elsewhere/k", "v")
        assert str(err.value) == (f"etcd at 127.0.0.1:{server.port} refused access to /elsewhere/k: check "
                                  "store.username and store.password")
        with pytest.raises(StoreError) as err:
            open_store(StoreSpec(url=url)).create(f"{prefix}/k2", "v")
        assert str(err.value) == (f"etcd at 127.0.0.1:{server.port} refused access to {prefix}/k2: check "
                                  "store.username and store.password")
        with pytest.raises(StoreError) as err:
            open_store(StoreSpec(url=url, username="nap", password="wrong"))
        assert str(err.value) == (f"etcd at 127.0.0.1:{server.port} refused access to authentication: check "
                                  "store.username and store.password")
    finally:
        server.stop()


def test_a_pool_moves_from_the_v2_api_to_the_v3_api_of_one_etcd(prefix, tmp_path):
    server = Etcd(enable_v2=True)
    try:
        v2, v3 = f"etcd://127.0.0.1:{server.port}", f"etcd3://127.0.0.1:{server.port}"
        _wait_open(StoreSpec(url=v2)).close()
        cluster = tmp_path / "nap-cluster.yml"
        base = textwrap.dedent(f"""\
            network: {{name: nap, subnet: 198.18.0.0/24, router: 198.18.0.1, pools: ["198.18.0.100-198.18.0.139"]}}
            hosts:
              - {{name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}}
            """)
        cluster.write_text(base + f'store: {{url: "{v2}", prefix: "{prefix}"}}\n')

        def run(*argv):
            out, err = io.StringIO(), io.StringIO()
            status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path))
            return status, out.getvalue(), err.getvalue()

        for i in range(1, 21):
            assert run("ipam", "reserve", "--owner", f"shop/web/{i}", "--host", "node1")[0] == 0
        before = json.loads(run("ipam", "ls", "--format", "json")[1])
        status, out, err = run("ipam", "migrate", "--to", v3)
        assert (status, err) == (0, "")
        assert out.splitlines()[0] == (f"copied 42 key(s) under {prefix} from {v2} to {v3}: 20 addresses, 1 blocks, "
                                       "20 owners, 1 pool")
        # A second migration into the now filled v3 key space is refused and changes nothing there.
        status, out, err = run("ipam", "migrate", "--to", v3)
        assert (status, out) == (4, "") and err.startswith(f"ERROR: the target store {v3} is not empty: it holds 42 ")
        cluster.write_text(base + f'store: {{url: "{v3}", prefix: "{prefix}"}}\n')
        assert json.loads(run("ipam", "ls", "--format", "json")[1]) == before
        held = {a["owner"]: a["address"] for a in before}
        assert run("ipam", "reserve", "--owner", "shop/web/7")[1] == held["shop/web/7"] + "\n"
        status, out, _ = run("ipam", "reserve", "--owner", "shop/db/1")
        assert status == 0 and out.strip() not in {a["address"] for a in before}
    finally:
        server.stop()
