"""The lab's store is closed to whoever lacks the lab's client certificate (a container on the segment, the
operator without the cluster file's certificates), and a junk key in it is skipped, not fatal."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import replace

import pytest

from napcompose.adapters.stores import open_store
from napcompose.errors import StoreError
from napcompose.lab.certs import StoreTls
from tests.integration.deploy_support import DeployProject, sleeper

pytestmark = pytest.mark.integration

JUNK = "/nap-compose/addresses/junk"


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="tls")
    yield p
    p.cleanup()


def _tls(lab) -> StoreTls:
    return StoreTls(lab.cluster.store.ca_cert.rsplit("/", 1)[0])


def test_a_container_and_a_client_without_the_certificate_get_nothing_from_the_store(lab, project):
    project.write({"probe": sleeper()})
    project.ok("up", "-d")
    where = f"{lab.etcd_host}:{lab.etcd_port}"

    def fetch(url):
        return project.run_in(f"{project.name}_probe_1", "sh", "-c", f"timeout 10 wget -O- '{url}' 2>&1")

    # (busybox's own timeout: Debian's static busybox wget crashes when given -T)
    # plain HTTP reaches etcd, which closes the connection without an answer
    code, out = fetch(f"http://{where}/v2/keys/?recursive=true")
    assert code != 0 and "error getting response" in out and '"node"' not in out, out
    # HTTPS without a client certificate (busybox does not check the server's): the handshake is refused
    code, out = fetch(f"https://{where}/v2/keys/?recursive=true")
    assert code != 0 and '"node"' not in out, out
    # wget did speak TLS (it notes that it skips the server's certificate) and etcd cut the handshake
    assert "TLS certificate validation not implemented" in out and "error getting response" in out, out

    # the operator without the certificates: refused, named, over both APIs
    for url in (lab.cluster.store.url, lab.cluster.store.url.replace("etcd://", "etcd3://")):
        with pytest.raises(StoreError) as err:
            open_store(replace(lab.cluster.store, url=url, cert=None, key=None, timeout_s=3))
        assert str(err.value).startswith(f"cannot reach etcd at {where}: {where}: TLS handshake failed (")
        with pytest.raises(StoreError) as err:
            open_store(replace(lab.cluster.store, url=url, ca_cert=None, cert=None, key=None, timeout_s=3))
        assert str(err.value).startswith(f"cannot reach etcd at {where}: {where}: ")
    conn = http.client.HTTPSConnection(lab.etcd_host, lab.etcd_port, timeout=3,
                                       context=ssl.create_default_context(cafile=_tls(lab).ca))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        conn.request("GET", "/v2/keys/")
        conn.getresponse()
    conn.close()
    # ... and with them, the same store answers
    store = open_store(lab.cluster.store)
    assert store.get("/nap-compose/pool") is not None
    store.close()


def _put(lab, key: str, value: str) -> None:
    """A plain v2 PUT, as anyone holding the lab's client certificate could send."""
    conn = http.client.HTTPSConnection(lab.etcd_host, lab.etcd_port, timeout=5, context=_tls(lab).client_context())
    try:
        conn.request("PUT", "/v2/keys" + key, body=f"value={value}",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        reply = conn.getresponse()
        assert reply.status in (200, 201), reply.read()
        reply.read()
    finally:
        conn.close()


def _delete(lab, key: str) -> None:
    conn = http.client.HTTPSConnection(lab.etcd_host, lab.etcd_port, timeout=5, context=_tls(lab).client_context())
    try:
        conn.request("DELETE", "/v2/keys" + key)
        conn.getresponse().read()
    finally:
        conn.close()


def test_a_junk_key_under_addresses_is_skipped_and_reported_by_network_check(lab, project):
    _put(lab, JUNK, "junk")
    try:
        project.write({"web": sleeper(), "db": sleeper()})
        status, out, err = project.nap("up", "-d")
        assert status == 0, f"{out}\n{err}"
        assert f"WARNING: the store holds a malformed address record at {JUNK} (its key names no address)" in err
        assert len(project.allocations()) == 2 and len(project.containers()) == 2

        status, out, err = project.nap("network", "check", "--format", "json")
        found = [f for f in json.loads(out)["findings"] if f["kind"] == "malformed-record"]
        assert status == 1 and [(f["host"], f["address"]) for f in found] == [("store", None)], out
        assert JUNK in found[0]["message"]
        status, out, _ = project.nap("ipam", "ls")
        assert status == 0 and JUNK in out
    finally:
        _delete(lab, JUNK)
    store = open_store(lab.cluster.store)
    assert store.get(JUNK) is None
    store.close()
