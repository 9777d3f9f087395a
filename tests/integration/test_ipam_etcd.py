"""IPAM on a real etcd 3.4 (v2 API) started by this module on loopback, with its own ports and data."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
import uuid

import pytest

from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.cli import main
from napcompose.errors import AddressFencedError, NotOwnerError, PoolExhaustedError, StoreError
from napcompose.ipam import Ipam, Pool
from napcompose.clustermodel import StoreSpec
from tests.ipam_workers import run_workers

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """One etcd member on 127.0.0.1 with free ports and a temporary data dir; ``stop`` kills it."""

    def __init__(self, enable_v2: bool = True, tls: dict = None):
        self.dir = tempfile.mkdtemp(prefix="nap-etcd-")
        self.port, peer = free_port(), free_port()
        name = "m" + uuid.uuid4().hex[:6]
        scheme = "https" if tls else "http"
        argv = ["etcd", "--name", name, "--data-dir", os.path.join(self.dir, "data"),
                "--listen-client-urls", f"{scheme}://127.0.0.1:{self.port}",
                "--advertise-client-urls", f"{scheme}://127.0.0.1:{self.port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"{name}=http://127.0.0.1:{peer}", "--log-outputs", "stderr",
                "--logger", "zap", "--log-level", "error"]
        if enable_v2:
            argv.append("--enable-v2=true")
        if tls:
            argv += ["--cert-file", tls["server_cert"], "--key-file", tls["server_key"],
                     "--trusted-ca-file", tls["ca"], "--client-cert-auth"]
        self.log = open(os.path.join(self.dir, "etcd.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"etcd did not start; see {self.dir}/etcd.log")
                time.sleep(0.05)
        self.url = f"etcd://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def etcd():
    server = Etcd()
    try:
        deadline = time.time() + 20
        while True:  # the port answers a little before the member serves requests
            try:
                open_store(StoreSpec(url=server.url)).close()
                break
            except StoreError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix():
    return "/t" + uuid.uuid4().hex[:10]


def ipam_on(url, prefix, subnet="198.18.0.0/22"):
    pool = Pool.build(subnet, subnet.split("/")[0][:-1] + "1", [subnet])
    return Ipam(open_store(StoreSpec(url=url)), pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)


def test_unreachable_etcd_is_named():
    port = free_port()
    with pytest.raises(StoreError) as err:
        open_store(StoreSpec(url=f"etcd://127.0.0.1:{port}", timeout_s=2))
    assert str(err.value) == f"cannot reach etcd at 127.0.0.1:{port}: 127.0.0.1:{port}: connection refused"


def test_etcd_without_the_v2_api_is_detected():
    server = Etcd(enable_v2=False)
    try:
        deadline = time.time() + 20
        while True:
            try:
                open_store(StoreSpec(url=server.url))
                pytest.fail("a store opened on an etcd without the v2 API")
            except StoreError as exc:
                if "connection refused" in str(exc) and time.time() < deadline:
                    time.sleep(0.1)
                    continue
                assert str(exc) == (f"etcd 3.4.23 at 127.0.0.1:{server.port} does not serve the v2 API: start "
                                    "etcd with --enable-v2=true (etcd 3.4/3.5; 3.6 removed the v2 API)")
                break
    finally:
        server.stop()


def test_port_semantics_on_etcd(etcd, prefix):
    store = open_store(StoreSpec(url=etcd.url))
    v1 = store.create(f"{prefix}/a", "one")
    assert store.create(f"{prefix}/a", "two") is None
    assert store.get(f"{prefix}/a") == ("one", v1)
    v2 = store.compare_and_swap(f"{prefix}/a", "two", v1)
    assert v2 > v1 and store.compare_and_swap(f"{prefix}/a", "three", v1) is None
    with pytest.raises(StoreError):
        store.compare_and_swap(f"{prefix}/a", "x", 0)  # prevIndex=0 would always pass
    store.create(f"{prefix}/d/b", "b")
    assert set(store.list(f"{prefix}/")) == {f"{prefix}/a", f"{prefix}/d/b"}
    assert store.list(f"{prefix}/none/") == {}
    assert not store.compare_and_delete(f"{prefix}/a", v1)
    assert store.compare_and_delete(f"{prefix}/a", v2) and store.get(f"{prefix}/a") is None


def test_a_second_endpoint_is_used_when_the_first_is_down(etcd, prefix):
    dead = free_port()
    store = open_store(StoreSpec(url=f"etcd://127.0.0.1:{dead},127.0.0.1:{etcd.port}", timeout_s=2))
    assert store.create(f"{prefix}/k", "v") is not None
    assert store.get(f"{prefix}/k")[0] == "v"


def test_a_create_resent_after_it_landed_is_recognised_as_ours(etcd, prefix):
    store = open_store(StoreSpec(url=etcd.url))
    first = store._client.write(f"{prefix}/k", "mine", prevExist=False)  # the send whose reply was lost
    assert store.create(f"{prefix}/k", "mine") == first.modifiedIndex  # the resend
    assert store.create(f"{prefix}/k", "theirs") is None


def test_eight_processes_times_fifty_reservations_on_etcd(etcd, prefix):
    got = run_workers(etcd.url, prefix, "198.18.0.0/22")
    assert len(got) == 400 and len({ip for _, ip in got}) == 400
    store = open_store(StoreSpec(url=etcd.url))
    records = {k.rsplit("/", 1)[1]: json.loads(v) for k, (v, _) in store.list(f"{prefix}/addresses/").items()}
    assert len(records) == 400 and len({r["owner"] for r in records.values()}) == 400
    assert {(r["owner"], ip) for ip, r in records.items()} == set(got)


def test_small_pool_is_exhausted_cleanly_on_etcd(etcd, prefix):
    ipam = ipam_on(etcd.url, prefix, "198.18.0.0/29")
    first = ipam.ensure_many([(f"shop/web/{i}", "node1", None) for i in range(1, 4)])
    store = open_store(StoreSpec(url=etcd.url))
    before = store.list(f"{prefix}/addresses/"), store.list(f"{prefix}/owners/")
    with pytest.raises(PoolExhaustedError) as err:
        ipam.ensure_many([(f"shop/db/{i}", "node1", None) for i in range(1, 4)])
    assert str(err.value) == "address pool 198.18.0.0-198.18.0.7 is exhausted: 5 addresses, 3 in use, 3 asked for"
    assert (store.list(f"{prefix}/addresses/"), store.list(f"{prefix}/owners/")) == before
    assert [a.ip for a in ipam.allocations()] == sorted((a.ip for a in first), key=lambda ip: int(ip.split(".")[3]))


def test_reserve_again_is_idempotent_and_release_needs_the_owner(etcd, prefix):
    alloc = ipam_on(etcd.url, prefix).ensure("shop/web/1", "node1")
    other = ipam_on(etcd.url, prefix)
    assert other.ensure("shop/web/1", "node1").ip == alloc.ip
    with pytest.raises(AddressFencedError) as fenced:  # bound to node1 until node1 is seen without it
        other.ensure("shop/web/1", "node2")
    assert str(fenced.value).startswith(f"address {alloc.ip} of shop/web/1 is reserved on node1; refusing it on "
                                        "node2: ")
    with pytest.raises(NotOwnerError) as err:
        other.release(alloc.ip, "shop/web/2")
    assert str(err.value) == f"address {alloc.ip} is reserved by shop/web/1, not by shop/web/2"
    assert other.lookup("shop/web/1").ip == alloc.ip
    other.release(alloc.ip, "shop/web/1")
    assert other.allocations() == []


class TimeoutAfterWrite:
    """The real etcd store, except that the first address create times out after it was applied."""

    def __init__(self, store):
        self._store, self.fired = store, []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def create(self, key, value):
        version = self._store.create(key, value)
        if "/addresses/" in key and not self.fired:
            self.fired.append(key)
            raise StoreError(f"etcd at test failed on {key}: timed out")
        return version


def test_a_reply_lost_after_the_write_landed_resolves_to_one_allocation_on_etcd(etcd, prefix):
    pool = Pool.build("198.18.0.0/22", "198.18.0.1", ["198.18.0.0/22"])
    store = TimeoutAfterWrite(open_store(StoreSpec(url=etcd.url)))
    ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
    with pytest.raises(StoreError):
        ipam.ensure("shop/web/1", "node1")
    assert store.fired
    alloc = ipam.ensure("shop/web/1", "node1")
    assert store.fired == [f"{prefix}/addresses/{alloc.ip}"]
    mine = [a for a in ipam.allocations() if a.owner == "shop/web/1"]
    assert [a.ip for a in mine] == [alloc.ip] and len(ipam.allocations()) == 1


def test_the_commands_against_etcd(etcd, prefix, tmp_path):
    (tmp_path / "nap-cluster.yml").write_text(textwrap.dedent(f"""\
        network: {{name: nap, subnet: 198.18.0.0/24, router: 198.18.0.1, pools: ["198.18.0.100-198.18.0.109"]}}
        store: {{url: "{etcd.url}", prefix: "{prefix}"}}
        hosts:
          - {{name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}}
        """))

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path))
        return status, out.getvalue(), err.getvalue()

    assert run("ipam", "init")[0:2] == (0, f"address pool 198.18.0.100-198.18.0.109 (10 addresses) recorded in "
                                           f"{etcd.url}\n")
    assert run("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.105") == (0, "198.18.0.105\n", "")
    assert run("ipam", "reserve", "--owner", "shop/web/1") == (0, "198.18.0.105\n", "")
    status, out, _ = run("ipam", "ls", "--format", "json")
    assert [(d["address"], d["owner"]) for d in json.loads(out)] == [("198.18.0.105", "shop/web/1")]
    assert run("ipam", "release", "--owner", "shop/web/1") == (0, "released 198.18.0.105 (shop/web/1)\n", "")
    port = free_port()
    (tmp_path / "nap-cluster.yml").write_text(
        (tmp_path / "nap-cluster.yml").read_text().replace(etcd.url, f"etcd://127.0.0.1:{port}"))
    assert run("ipam", "ls") == (4, "", f"ERROR: cannot reach etcd at 127.0.0.1:{port}: 127.0.0.1:{port}: "
                                        "connection refused\n")


def make_tls(directory: str, server_usage: str = "serverAuth") -> dict:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (openssl)."""
    def run(*argv):
        subprocess.run(["openssl", *argv], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=nap-test-ca")
    for name, usage, subject in (("server", server_usage, "/CN=127.0.0.1"), ("client", "clientAuth", "/CN=nap")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        with open(os.path.join(directory, f"{name}.ext"), "w") as fh:
            fh.write(f"subjectAltName=IP:127.0.0.1\nextendedKeyUsage={usage}\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
    path = lambda f: os.path.join(directory, f)  # noqa: E731
    return {"ca": path("ca.pem"), "server_cert": path("server.pem"), "server_key": path("server.key"),
            "client_cert": path("client.pem"), "client_key": path("client.key")}


def test_tls_with_a_client_certificate(tmp_path, prefix):
    tls = make_tls(str(tmp_path))
    server = Etcd(tls=tls)
    try:
        spec = StoreSpec(url=server.url, ca_cert=tls["ca"], cert=tls["client_cert"], key=tls["client_key"])
        deadline = time.time() + 20
        while True:
            try:
                store = open_store(spec)
                break
            except StoreError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        pool = Pool.build("198.18.0.0/29", "198.18.0.1", ["198.18.0.0/29"])
        ipam = Ipam(store, pool, prefix, SystemClock(), lambda: uuid.uuid4().hex)
        alloc = ipam.ensure("shop/web/1", "node1")
        assert ipam.lookup("shop/web/1") == alloc
        with pytest.raises(StoreError) as err:  # the server insists on a client certificate
            open_store(StoreSpec(url=server.url, ca_cert=tls["ca"], timeout_s=2))
        assert str(err.value).startswith(f"cannot reach etcd at 127.0.0.1:{server.port}: 127.0.0.1:{server.port}: "
                                         "TLS handshake failed (")
        assert str(err.value).endswith("; check store.ca_cert, store.cert and store.key")
    finally:
        server.stop()


def test_user_and_password(prefix):
    server = Etcd()
    try:
        env = dict(os.environ, ETCDCTL_API="2")
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
        etcdctl("auth", "enable")
        etcdctl("--username", "root:s3cret", "role", "revoke", "guest", "--path", "/*", "--readwrite")
        store = open_store(StoreSpec(url=server.url, username="root", password="s3cret"))
        assert store.create(f"{prefix}/k", "v") is not None
        for spec in (StoreSpec(url=server.url), StoreSpec(url=server.url, username="root", password="wrong")):
            with pytest.raises(StoreError) as err:
                open_store(spec).create(f"{prefix}/k2", "v")
            assert str(err.value) == (f"etcd at 127.0.0.1:{server.port} refused access to {prefix}/k2: check "
                                      "store.username and store.password")
    finally:
        server.stop()
