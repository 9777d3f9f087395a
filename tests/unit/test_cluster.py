"""The cluster file: what it means when right, and the exact sentence when wrong."""

import os

import pytest

from napcompose.cluster import load_cluster_file, parse_cluster, render_cluster
from napcompose.errors import ConfigError
from napcompose.clustermodel import SshSpec, StoreSpec

SRC = "/etc/nap/nap-cluster.yml"

GOOD = """\
network: {name: nap, bridge: br0, subnet: 198.18.0.0/24, router: 198.18.0.1,
          pools: ["198.18.0.100-198.18.0.249"], reserved: [198.18.0.99], mtu: 1500}
store: {url: "etcd://198.18.0.254:2379", prefix: /nap-compose, timeout: 5}
ssh: {user: root, key_file: id_ed25519, known_hosts: known_hosts}
hosts:
  - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11", labels: {zone: a}}
  - name: node2
    address: 198.18.0.12
    ssh: {user: deploy, port: 2222, key_file: /keys/node2}
  - {name: node3, address: 198.18.0.13, docker_url: "tcp://198.18.0.13:2376",
     tls_ca: tls/ca.pem, tls_cert: tls/cert.pem, tls_key: tls/key.pem}
"""


def test_a_complete_file():
    cluster = parse_cluster(GOOD, SRC)
    assert [h.name for h in cluster.hosts] == ["node1", "node2", "node3"]
    net = cluster.network
    assert (net.name, net.bridge, net.subnet, net.router, net.pools, net.reserved, net.mtu) == (
        "nap", "br0", "198.18.0.0/24", "198.18.0.1", ("198.18.0.100-198.18.0.249",), ("198.18.0.99",), 1500)
    assert cluster.store == StoreSpec(url="etcd://198.18.0.254:2379", prefix="/nap-compose", timeout_s=5.0)
    node1, node2, node3 = cluster.hosts
    assert node1.ssh == SshSpec(user="root", port=22, key_file="/etc/nap/id_ed25519",
                                known_hosts="/etc/nap/known_hosts")
    assert node1.labels == (("zone", "a"),)
    # per-host ssh overrides the defaults key by key
    assert node2.ssh == SshSpec(user="deploy", port=2222, key_file="/keys/node2", known_hosts="/etc/nap/known_hosts")
    assert node2.docker_url == "ssh://deploy@198.18.0.12"
    assert (node3.tls_ca, node3.tls_cert, node3.tls_key) == (
        "/etc/nap/tls/ca.pem", "/etc/nap/tls/cert.pem", "/etc/nap/tls/key.pem")
    assert cluster.source == SRC and cluster.accept_new_host_keys is False


def test_absent_store_is_a_file_store_beside_the_cluster_file():
    text = GOOD.replace('store: {url: "etcd://198.18.0.254:2379", prefix: /nap-compose, timeout: 5}\n', "")
    assert parse_cluster(text, SRC).store == StoreSpec(url="file:///etc/nap/nap-ipam.json")


def test_an_etcd3_store_with_several_endpoints():
    text = GOOD.replace('url: "etcd://198.18.0.254:2379"', 'url: "etcd3://198.18.0.254:2379,198.18.0.253:2379"')
    store = parse_cluster(text, SRC).store
    assert store == StoreSpec(url="etcd3://198.18.0.254:2379,198.18.0.253:2379", prefix="/nap-compose", timeout_s=5.0)
    assert parse_cluster(render_cluster(parse_cluster(text, SRC)), SRC).store == store


def test_a_store_with_client_certificates_relative_to_the_file():
    text = GOOD.replace("prefix: /nap-compose,", "prefix: /nap-compose, ca_cert: tls/ca.pem, cert: tls/client.pem, "
                                                "key: tls/client.key,")
    store = parse_cluster(text, SRC).store
    assert (store.ca_cert, store.cert, store.key) == ("/etc/nap/tls/ca.pem", "/etc/nap/tls/client.pem",
                                                      "/etc/nap/tls/client.key")
    rendered = render_cluster(parse_cluster(text, SRC), base_dir="/etc/nap")
    assert "ca_cert: tls/ca.pem" in rendered and "key: tls/client.key" in rendered
    assert parse_cluster(rendered, SRC).store == store


def test_load_cluster_file_makes_paths_absolute_from_the_files_directory(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "nap-cluster.yml"
    path.write_text(GOOD)
    monkeypatch.chdir("/")
    cluster = load_cluster_file(str(path))
    assert cluster.source == str(path)
    assert cluster.hosts[0].ssh.key_file == str(tmp_path / "conf" / "id_ed25519")


def test_missing_file():
    with pytest.raises(ConfigError) as err:
        load_cluster_file("/nonexistent/nap-cluster.yml")
    assert str(err.value) == "/nonexistent/nap-cluster.yml: cannot read the file: No such file or directory"


def test_lock_lease_and_connect_timeout_default_and_override():
    cluster = parse_cluster(GOOD, SRC)
    assert cluster.lock_ttl_s == 30.0
    assert [h.ssh.connect_timeout_s for h in cluster.hosts] == [1.0, 1.0, 1.0]
    text = _bad("ssh: {user: root,", "lock: {ttl: 12}\nssh: {connect_timeout: 1.5, user: root,")
    text = text.replace("ssh: {user: deploy,", "ssh: {connect_timeout: 4, user: deploy,")
    cluster = parse_cluster(text, SRC)
    assert cluster.lock_ttl_s == 12.0
    assert [h.ssh.connect_timeout_s for h in cluster.hosts] == [1.5, 4.0, 1.5]
    assert parse_cluster(render_cluster(cluster, base_dir="/etc/nap"), SRC) == cluster


def test_render_then_parse_gives_the_same_cluster():
    cluster = parse_cluster(GOOD, SRC)
    again = parse_cluster(render_cluster(cluster, base_dir="/etc/nap"), SRC)
    assert again == cluster
    assert "key_file: id_ed25519" in render_cluster(cluster, base_dir="/etc/nap")


def _bad(old, new):
    assert old in GOOD, old
    return GOOD.replace(old, new)


BAD = [
    ("no hosts", GOOD.split("\nhosts:")[0] + "\nhosts: []\n",
     "hosts: no hosts: give at least one host with a name and an address"),
    ("duplicate name", _bad("name: node2", "name: node1"),
     "hosts[1] (node1): duplicate host name 'node1' (also hosts[0])"),
    ("duplicate address", _bad("address: 198.18.0.12", "address: 198.18.0.11"),
     "hosts[1] (node2): address 198.18.0.11 is also the address of host 'node1'"),
    ("outside subnet", _bad("address: 198.18.0.12", "address: 10.1.2.3"),
     "hosts[1] (node2): address 10.1.2.3 is outside the subnet 198.18.0.0/24"),
    ("host in pool", _bad("address: 198.18.0.12", "address: 198.18.0.150"),
     "hosts[1] (node2): address 198.18.0.150 is inside the container pool '198.18.0.100-198.18.0.249'"),
    ("host is router", _bad("address: 198.18.0.12", "address: 198.18.0.1"),
     "hosts[1] (node2): address 198.18.0.1 is the router's address"),
    ("router in pool", _bad("router: 198.18.0.1,", "router: 198.18.0.120,"),
     "network.router: 198.18.0.120 is inside the container pool '198.18.0.100-198.18.0.249'"),
    ("router outside", _bad("router: 198.18.0.1,", "router: 198.19.0.1,"),
     "network.router: 198.19.0.1 is outside the subnet 198.18.0.0/24"),
    ("pool outside", _bad('pools: ["198.18.0.100-198.18.0.249"]', 'pools: ["198.18.0.100-198.18.1.20"]'),
     "network.pools[0]: '198.18.0.100-198.18.1.20' is not inside the subnet 198.18.0.0/24"),
    ("pool backwards", _bad('pools: ["198.18.0.100-198.18.0.249"]', 'pools: ["198.18.0.200-198.18.0.100"]'),
     "network.pools[0]: '198.18.0.200-198.18.0.100' ends before it starts"),
    ("pool garbage", _bad('pools: ["198.18.0.100-198.18.0.249"]', 'pools: ["lots"]'),
     "network.pools[0]: 'lots' is not a range 'first-last' or a CIDR"),
    ("unknown top key", GOOD + "hostz: []\n",
     "top level: unknown key 'hostz' (did you mean 'hosts'?)"),
    ("unknown network key", _bad("mtu: 1500}", "mtu: 1500, subnett: x}"),
     "network: unknown key 'subnett' (did you mean 'subnet'?)"),
    ("unknown host key", _bad("labels: {zone: a}}", "label: {zone: a}}"),
     "hosts[0]: unknown key 'label' (did you mean 'labels'?)"),
    ("unknown ssh key", _bad("ssh: {user: deploy,", "ssh: {usr: deploy,"),
     "hosts[1] (node2).ssh: unknown key 'usr' (did you mean 'user'?)"),
    ("unknown key without a near miss", _bad("timeout: 5}", "timeout: 5, zzz: 1}"),
     "store: unknown key 'zzz' (known keys: url, prefix, timeout, ca_cert, cert, key, username, password)"),
    ("plain tcp", _bad("docker_url: \"tcp://198.18.0.13:2376\",\n     tls_ca: tls/ca.pem, tls_cert: tls/cert.pem, "
                       "tls_key: tls/key.pem}", "docker_url: \"tcp://198.18.0.13:2375\"}"),
     "hosts[2] (node3).docker_url: 'tcp://198.18.0.13:2375' is plain TCP without TLS: anyone who can reach that "
     "port is root on the host. Give tls_ca/tls_cert/tls_key, use ssh://, or set insecure_tcp: true to accept "
     "the risk"),
    ("tcp client cert without ca", _bad("tls_ca: tls/ca.pem, tls_cert: tls/cert.pem, ", "tls_cert: tls/cert.pem, "),
     "hosts[2] (node3).tls_ca: 'tcp://198.18.0.13:2376' has a client certificate but no tls_ca: the engine's own "
     "certificate would not be verified, so anyone on the path could pose as the host. Give tls_ca, or set "
     "insecure_tcp: true to accept the risk"),
    ("tls cert without key", _bad("tls_cert: tls/cert.pem, tls_key: tls/key.pem}", "tls_cert: tls/cert.pem}"),
     "hosts[2] (node3).tls_key: tls_cert and tls_key go together (the client certificate and its key)"),
    ("bad scheme", _bad('docker_url: "ssh://root@198.18.0.11"', 'docker_url: "http://198.18.0.11"'),
     "hosts[0] (node1).docker_url: 'http://198.18.0.11' must start with ssh://, tcp:// or unix://"),
    ("bad address", _bad("address: 198.18.0.12", "address: node2.example"),
     "hosts[1] (node2).address: 'node2.example' is not an IPv4 address"),
    ("bad host name", _bad("name: node2", "name: 'no de'"),
     "hosts[1].name: 'no de' is not a valid host name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
    ("bad subnet", _bad("subnet: 198.18.0.0/24", "subnet: 198.18.0.7/24"),
     "network.subnet: '198.18.0.7/24' is not an IPv4 network in CIDR form"),
    ("bad store url", _bad('url: "etcd://198.18.0.254:2379"', 'url: "redis://x"'),
     "store.url: 'redis://x' must be etcd://host:port[,host:port] (v2 API), etcd3://host:port[,host:port] (v3 API) "
     "or file:///path"),
    ("store key without cert", _bad("prefix: /nap-compose,", "prefix: /nap-compose, key: client.key,"),
     "store.key: is given without store.cert (the client certificate it belongs to)"),
    ("tls for a file store", _bad('url: "etcd://198.18.0.254:2379"', 'url: "file:///var/lib/nap.json", ca_cert: ca.pem'),
     "store: ca_cert, cert and key are for an etcd store; a file:// store has no TLS"),
    ("bad mtu", _bad("mtu: 1500", "mtu: 9"),
     "network.mtu: must be an integer from 576 to 65535, not 9"),
    ("no network", "hosts: [{name: a, address: 1.2.3.4}]\n",
     "network: is required (name, subnet, router, pools)"),
    ("reserved outside", _bad("reserved: [198.18.0.99]", "reserved: [198.18.5.99]"),
     "network.reserved[0]: 198.18.5.99 is outside the subnet 198.18.0.0/24"),
    ("lock ttl too short", GOOD + "lock: {ttl: 0.5}\n",
     "lock.ttl: must be a number of seconds from 1 to 3600, not 0.5"),
    ("lock ttl not a number", GOOD + "lock: {ttl: soon}\n",
     "lock.ttl: must be a number of seconds from 1 to 3600, not 'soon'"),
    ("unknown lock key", GOOD + "lock: {tll: 5}\n", "lock: unknown key 'tll' (did you mean 'ttl'?)"),
    ("connect timeout zero", _bad("ssh: {user: root,", "ssh: {connect_timeout: 0, user: root,"),
     "ssh.connect_timeout: must be a number of seconds from 0.1 to 600, not 0"),
    ("insecure not bool", _bad("labels: {zone: a}}", "insecure_tcp: yes please}"),
     "hosts[0] (node1).insecure_tcp: must be true or false, not 'yes please'"),
]


@pytest.mark.parametrize("text,message", [(t, m) for _, t, m in BAD], ids=[i for i, _, _ in BAD])
def test_bad_cluster_files(text, message):
    with pytest.raises(ConfigError) as err:
        parse_cluster(text, SRC)
    assert str(err.value) == f"{SRC}: {message}"


def test_duplicate_keys_are_refused_with_lines():
    with pytest.raises(ConfigError) as err:
        parse_cluster(GOOD + "network: {}\n", SRC)
    assert str(err.value) == f"{SRC}:12: duplicate key 'network' (first defined on line 1)"


def test_invalid_yaml_names_the_line():
    with pytest.raises(ConfigError) as err:
        parse_cluster("hosts:\n  - {name: a\n", SRC)
    assert str(err.value) == f"{SRC}:3:1: while parsing a flow mapping, expected ',' or '}}', but got '<stream end>'"


def test_yaml_tags_are_not_constructed():
    with pytest.raises(ConfigError) as err:
        parse_cluster("hosts: !!python/object/apply:os.system ['true']\n", SRC)
    assert str(err.value) == (f"{SRC}:1:8: could not determine a constructor for the tag "
                              "'tag:yaml.org,2002:python/object/apply:os.system'")


def test_cluster_files_share_the_compose_loaders_bounds():
    # One loader reads both kinds of file: the alias bound and the recursion check hold here too.
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7))
    with pytest.raises(ConfigError) as err:
        parse_cluster(laughs, SRC)
    assert str(err.value) == (f"{SRC}: the document expands to more than 2000000 nodes through aliases; "
                              "refusing to load it")
    with pytest.raises(ConfigError) as err:
        parse_cluster("hosts: &h [*h]\n", SRC)
    assert str(err.value) == (f"{SRC}:1: an alias here refers to a node that contains it; a recursive structure "
                              "cannot be loaded")


def test_an_unreadable_value_names_its_line():
    with pytest.raises(ConfigError) as err:
        parse_cluster(GOOD.replace("mtu: 1500", "mtu: " + "9" * 5000), SRC)
    assert str(err.value).startswith(f"{SRC}:2:")
    assert str(err.value).endswith(": it has too many digits")


def test_insecure_tcp_is_accepted_when_asked_for():
    text = _bad("docker_url: \"tcp://198.18.0.13:2376\",\n     tls_ca: tls/ca.pem, tls_cert: tls/cert.pem, "
                "tls_key: tls/key.pem}", "docker_url: \"tcp://198.18.0.13:2375\", insecure_tcp: true}")
    assert parse_cluster(text, SRC).hosts[2].insecure_tcp is True


def test_loading_a_bad_file_creates_nothing_beside_it(tmp_path):
    path = tmp_path / "nap-cluster.yml"
    path.write_text(GOOD.split("\nhosts:")[0] + "\nhosts: []\n")
    with pytest.raises(ConfigError) as err:
        load_cluster_file(str(path))
    assert str(err.value) == f"{path}: hosts: no hosts: give at least one host with a name and an address"
    assert os.listdir(tmp_path) == ["nap-cluster.yml"]
