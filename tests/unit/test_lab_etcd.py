"""Where the lab's etcd members live: member 1 on the operator address as always, the others beside it."""

import shutil
import tempfile

import pytest

from napcompose.errors import UsageError
from napcompose.lab import etcd
from napcompose.lab.cluster_file import lab_cluster
from napcompose.lab.daemons import pidfiles
from napcompose.lab.layout import make_layout


@pytest.fixture
def tmp_path():
    """A short directory: the lab's daemons' unix socket paths under it must stay under 108 bytes."""
    import pathlib

    path = tempfile.mkdtemp(prefix="nle-", dir="/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_one_member_by_default_on_the_operator_address(tmp_path):
    layout = make_layout("e3", "198.18.23.0/24", 1, str(tmp_path / "l"))
    (only,) = etcd.members(layout)
    assert (only.key, only.name, only.address, only.pidfile) == ("etcd", "lab-e3", "198.18.23.254",
                                                                 layout.etcd_pidfile)
    assert only.data_dir == str(tmp_path / "l" / "etcd" / "data")
    assert etcd.store_url(layout) == "etcd://198.18.23.254:2379" == layout.etcd_url
    assert lab_cluster(layout).store.url == "etcd://198.18.23.254:2379"


def test_three_members_on_their_own_lab_addresses_and_every_endpoint_in_the_cluster_file(tmp_path):
    layout = make_layout("e3", "198.18.23.0/24", 1, str(tmp_path / "l"))
    etcd.record(layout, 3)
    members = etcd.members(layout)
    assert [(m.key, m.name, m.address) for m in members] == [
        ("etcd", "lab-e3", "198.18.23.254"), ("etcd2", "lab-e3-2", "198.18.23.253"),
        ("etcd3", "lab-e3-3", "198.18.23.252")]
    assert all(layout.dir in m.data_dir for m in members)  # all data stays under the lab's DIR
    assert len({m.data_dir for m in members}) == 3 and len({m.pidfile for m in members}) == 3
    url = "etcd://198.18.23.254:2379,198.18.23.253:2379,198.18.23.252:2379"
    assert etcd.store_url(layout) == url == lab_cluster(layout).store.url
    assert {k: v for k, v in pidfiles(layout).items() if k.startswith("etcd")} == {m.key: m.pidfile for m in members}
    pool_first, pool_last = layout.pool.split("-")
    hosts = {h.address for h in layout.hosts} | {layout.router}
    assert not any(m.address in hosts or pool_first <= m.address <= pool_last for m in members)


@pytest.mark.parametrize("count", [0, 2, 4, 7])
def test_an_even_or_odd_count_outside_1_3_5_is_refused(count):
    with pytest.raises(UsageError) as err:
        etcd.check_count(count)
    assert str(err.value) == (f"--etcd-members {count}: a lab runs 1, 3 or 5 etcd members (an odd number keeps a "
                              "majority when one fails)")


def _cli(*argv, cwd):
    import io

    from napcompose.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(cwd))
    return status, out.getvalue(), err.getvalue()


def test_lab_up_with_two_members_is_refused_before_anything_is_made(tmp_path):
    status, out, err = _cli("lab", "up", "--etcd-members", "2", "--dir", "l", cwd=tmp_path)
    assert (status, out) == (2, "")
    assert err == ("ERROR: --etcd-members 2: a lab runs 1, 3 or 5 etcd members (an odd number keeps a majority "
                   "when one fails)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["status", "kill-leader", "revive"])
def test_lab_etcd_commands_name_a_missing_lab(tmp_path, command):
    status, out, err = _cli("lab", "etcd", command, "--dir", "nolab", cwd=tmp_path)
    assert (status, out) == (9, "")
    assert err == f"ERROR: no lab in {tmp_path}/nolab (no state.json)\n"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- TLS


def test_the_members_speak_tls_only_and_ask_clients_for_a_certificate(tmp_path):
    layout = make_layout("e3", "198.18.23.0/24", 1, str(tmp_path / "l"))
    etcd.record(layout, 3)
    tls = etcd.store_tls(layout)
    second = etcd.members(layout)[1]
    argv = etcd.argv(layout, second)
    assert "--listen-client-urls=https://198.18.23.253:2379" in argv
    assert "--listen-peer-urls=https://198.18.23.253:2380" in argv
    assert ("--initial-cluster=lab-e3=https://198.18.23.254:2380,lab-e3-2=https://198.18.23.253:2380,"
            "lab-e3-3=https://198.18.23.252:2380") in argv
    for flag in ("--client-cert-auth", f"--trusted-ca-file={tls.ca}", f"--cert-file={tls.server_cert}",
                 f"--key-file={tls.server_key}", "--peer-client-cert-auth", f"--peer-trusted-ca-file={tls.ca}",
                 f"--peer-cert-file={tls.server_cert}", f"--peer-key-file={tls.server_key}"):
        assert flag in argv
    assert not [a for a in argv if "http://" in a]
    store = lab_cluster(layout).store
    assert (store.ca_cert, store.cert, store.key) == (tls.ca, tls.client_cert, tls.client_key)
    assert tls.dir == str(tmp_path / "l" / "etcd" / "tls")


def test_lab_up_makes_a_ca_a_member_certificate_for_every_member_address_and_a_client_certificate(tmp_path):
    import os
    import pathlib
    import ssl

    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    layout = make_layout("e3", "198.18.23.0/24", 1, str(tmp_path / "l"))
    etcd.record(layout, 3)
    tls = etcd.make_certs(layout)
    assert tls.complete()
    for key in (tls.ca_key, tls.server_key, tls.client_key):
        assert os.stat(key).st_mode & 0o777 == 0o600
    assert os.stat(tls.dir).st_mode & 0o777 == 0o700
    with open(tls.server_cert, "rb") as fh:
        server = x509.load_pem_x509_certificate(fh.read())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == [
        "198.18.23.254", "198.18.23.253", "198.18.23.252"]
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    with open(tls.client_cert, "rb") as fh:
        client = x509.load_pem_x509_certificate(fh.read())
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    # both chain to the CA, and the client context trusts only it
    with open(tls.ca, "rb") as fh:
        ca = x509.load_pem_x509_certificate(fh.read())
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    assert isinstance(tls.client_context(), ssl.SSLContext)
    first = pathlib.Path(tls.ca).read_text()
    etcd.make_certs(layout)  # a lab built again gets a fresh CA
    assert pathlib.Path(tls.ca).read_text() != first
