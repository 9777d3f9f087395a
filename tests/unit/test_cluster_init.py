"""``nap-compose cluster init``: a starting cluster file the parser accepts; bad input named, nothing written."""

import io
import os

from napcompose.cli import main
from napcompose.cluster import load_cluster_file

HOSTS = ["--host", "node1=192.168.10.11", "--host", "node2=192.168.10.12", "--host", "node3=192.168.10.13"]


def run(tmp_path, *words):
    out, err = io.StringIO(), io.StringIO()
    status = main(["cluster", "init", *words], stdout=out, stderr=err, environ={}, cwd=str(tmp_path))
    return status, out.getvalue(), err.getvalue()


def test_the_file_written_parses_with_the_hosts_router_and_a_pool_clear_of_them(tmp_path):
    status, out, err = run(tmp_path, *HOSTS, "--subnet", "192.168.10.0/24",
                           "--store", "etcd3://192.168.10.11:2379,192.168.10.12:2379,192.168.10.13:2379")
    assert (status, err) == (0, "")
    path = tmp_path / "nap-cluster.yml"
    assert out.startswith(f"wrote {path}: 3 host(s)")
    cluster = load_cluster_file(str(path))
    assert [(h.name, h.address) for h in cluster.hosts] == [("node1", "192.168.10.11"), ("node2", "192.168.10.12"),
                                                            ("node3", "192.168.10.13")]
    assert cluster.network.router == "192.168.10.1"
    assert cluster.network.pools == ("192.168.10.128-192.168.10.254",)
    assert cluster.network.bridge == "br0" and cluster.network.host_block == 28
    assert cluster.store.url == "etcd3://192.168.10.11:2379,192.168.10.12:2379,192.168.10.13:2379"
    text = path.read_text()
    assert "# resolver: false" in text and "docs/cluster-file.md" in text


def test_a_host_in_the_upper_half_shortens_the_pool_and_the_default_store_is_a_file(tmp_path):
    status, out, _ = run(tmp_path, "--host", "a=10.0.0.200", "--subnet", "10.0.0.0/24", "--router", "10.0.0.254",
                         "-o", "-")
    assert status == 0
    assert '"10.0.0.128-10.0.0.199"' in out
    path = tmp_path / "c.yml"
    path.write_text(out)
    cluster = load_cluster_file(str(path))
    assert cluster.store.url == f"file://{tmp_path}/nap-ipam.json"
    assert not (tmp_path / "nap-cluster.yml").exists()


def test_an_existing_file_is_kept_without_force(tmp_path):
    path = tmp_path / "nap-cluster.yml"
    path.write_text("# mine\n")
    status, out, err = run(tmp_path, *HOSTS, "--subnet", "192.168.10.0/24")
    assert status == 2
    assert err == f"ERROR: cluster init: {path} exists; pass --force to overwrite it\n"
    assert path.read_text() == "# mine\n"
    status, _, _ = run(tmp_path, *HOSTS, "--subnet", "192.168.10.0/24", "--force")
    assert status == 0
    assert load_cluster_file(str(path)).hosts[0].name == "node1"


def check_refused(tmp_path, words, message, status=2):
    got, out, err = run(tmp_path, *words)
    assert (got, out) == (status, "")
    assert err == f"ERROR: {message}\n"
    assert os.listdir(tmp_path) == []


def test_bad_addresses_and_names_are_named(tmp_path):
    check_refused(tmp_path, ["--host", "node1=192.168.10.300", "--subnet", "192.168.10.0/24"],
                  "cluster init: --host node1=192.168.10.300: '192.168.10.300' is not an IPv4 address")
    check_refused(tmp_path, ["--host", "node1=192.168.11.5", "--subnet", "192.168.10.0/24"],
                  "cluster init: --host node1=192.168.11.5: 192.168.11.5 is not a host address of the subnet "
                  "192.168.10.0/24")
    check_refused(tmp_path, ["--host", "no de=192.168.10.5", "--subnet", "192.168.10.0/24"],
                  "cluster init: --host 'no de=192.168.10.5': give NAME=ADDRESS, the name matching "
                  "[a-zA-Z0-9][a-zA-Z0-9_.-]*")
    check_refused(tmp_path, ["--host", "a=192.168.10.5", "--host", "b=192.168.10.5", "--subnet", "192.168.10.0/24"],
                  "cluster init: --host b=192.168.10.5: 192.168.10.5 is also the address of a")
    check_refused(tmp_path, ["--host", "a=192.168.10.1", "--subnet", "192.168.10.0/24"],
                  "cluster init: --host a=192.168.10.1: that is the router's address")
    check_refused(tmp_path, ["--host", "a=192.168.10.5", "--subnet", "192.168.10.1/24"],
                  "cluster init: --subnet '192.168.10.1/24' is not an IPv4 network in CIDR form (e.g. "
                  "192.168.10.0/24, host bits zero)")
    check_refused(tmp_path, ["--host", "a=192.168.10.5", "--subnet", "192.168.10.0/24", "--router", "10.0.0.1"],
                  "cluster init: --router 10.0.0.1 is outside the subnet 192.168.10.0/24")


def test_a_store_url_the_parser_refuses_is_named_and_nothing_is_written(tmp_path):
    check_refused(tmp_path, ["--host", "a=192.168.10.5", "--subnet", "192.168.10.0/24", "--store", "http://x:2379"],
                  f"{tmp_path}/nap-cluster.yml: store.url: 'http://x:2379' must be etcd://host:port[,host:port] "
                  "(v2 API), etcd3://host:port[,host:port] (v3 API) or file:///path", status=3)
