"""The pool: ranges minus the addresses never handed out, and refusals that name the addresses."""

import pytest

from napcompose.errors import ConfigError, IpamError
from napcompose.ipam import Pool
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, StoreSpec


def cluster(pools=("198.18.0.100-198.18.0.249",), router="198.18.0.1", reserved=(), hosts=None):
    hosts = hosts if hosts is not None else [("node1", "198.18.0.11"), ("node2", "198.18.0.12")]
    return Cluster(hosts=tuple(Host(name=n, address=a, docker_url=f"ssh://root@{a}") for n, a in hosts),
                   network=ClusterNetwork(name="nap", subnet="198.18.0.0/24", router=router, pools=tuple(pools),
                                          reserved=tuple(reserved)),
                   store=StoreSpec(url="file:///tmp/x.json"), source="nap-cluster.yml")


def test_pool_from_cluster_counts_and_describes():
    pool = Pool.from_cluster(cluster())
    assert pool.size == 150
    assert pool.describe() == "198.18.0.100-198.18.0.249"
    assert pool.address_at(0) == "198.18.0.100"
    assert pool.address_at(149) == "198.18.0.249"
    assert pool.contains("198.18.0.100") and not pool.contains("198.18.0.99")


def test_router_hosts_reserved_network_and_broadcast_are_never_in_the_pool():
    pool = Pool.from_cluster(cluster(pools=("198.18.0.0/24",), reserved=("198.18.0.20-198.18.0.29", "198.18.0.77")))
    taken = {"198.18.0.0", "198.18.0.1", "198.18.0.11", "198.18.0.12", "198.18.0.255", "198.18.0.77"}
    taken |= {f"198.18.0.{i}" for i in range(20, 30)}
    every = [pool.address_at(i) for i in range(pool.size)]
    assert pool.size == 256 - len(taken)
    assert not taken & set(every)
    assert every == sorted(every, key=lambda a: int(a.split(".")[-1]))
    assert [pool.index_of(a) for a in every] == list(range(pool.size))
    assert pool.why_not("198.18.0.1") == "the router"
    assert pool.why_not("198.18.0.11") == "the address of host node1"
    assert pool.why_not("198.18.0.25") == "reserved (198.18.0.20-198.18.0.29)"
    assert pool.why_not("198.18.0.255") == "the broadcast address"
    assert pool.why_not("198.18.1.5") == "outside the subnet 198.18.0.0/24"


def test_several_ranges_are_numbered_in_address_order():
    pool = Pool.from_cluster(cluster(pools=("198.18.0.200/30", "198.18.0.100-198.18.0.101")))
    assert [pool.address_at(i) for i in range(pool.size)] == [
        "198.18.0.100", "198.18.0.101", "198.18.0.200", "198.18.0.201", "198.18.0.202", "198.18.0.203"]
    assert pool.describe() == "198.18.0.100-198.18.0.101,198.18.0.200-198.18.0.203"
    assert pool.why_not("198.18.0.150") == "outside the container pool 198.18.0.100-198.18.0.101,198.18.0.200-198.18.0.203"


@pytest.mark.parametrize("kwargs,message", [
    (dict(pools=("198.18.0.100-198.18.0.149", "198.18.0.140-198.18.0.199")),
     "nap-cluster.yml: pools '198.18.0.100-198.18.0.149' and '198.18.0.140-198.18.0.199' overlap at "
     "198.18.0.140-198.18.0.149"),
    (dict(pools=("198.18.0.100-198.18.1.5",)),
     "nap-cluster.yml: pool '198.18.0.100-198.18.1.5' is not inside the subnet 198.18.0.0/24"),
    (dict(pools=("198.18.0.200-198.18.0.100",)), "nap-cluster.yml: pool: '198.18.0.200-198.18.0.100' ends before it starts"),
    (dict(pools=("bogus",)),
     "nap-cluster.yml: pool: 'bogus' is not an address, a range 'first-last' or a CIDR"),
    (dict(router="198.18.1.1"), "nap-cluster.yml: router 198.18.1.1 is outside the subnet 198.18.0.0/24"),
    (dict(router="198.18.0.0"), "nap-cluster.yml: router 198.18.0.0 is the network or broadcast address of 198.18.0.0/24"),
    (dict(hosts=[("node1", "198.18.0.1")]), "nap-cluster.yml: host node1 has the router's address 198.18.0.1"),
    (dict(hosts=[("node1", "198.18.0.9"), ("node2", "198.18.0.9")]),
     "nap-cluster.yml: hosts node1 and node2 share the address 198.18.0.9"),
    (dict(reserved=("198.18.2.0/24",)), "nap-cluster.yml: reserved '198.18.2.0/24' is outside the subnet 198.18.0.0/24"),
    (dict(pools=("198.18.0.11-198.18.0.12",)),
     "nap-cluster.yml: the pools 198.18.0.11-198.18.0.12 hold no usable address once the router, the hosts "
     "and the reserved addresses are left out"),
])
def test_contradictions_are_refused_naming_the_addresses(kwargs, message):
    with pytest.raises(ConfigError) as err:
        Pool.from_cluster(cluster(**kwargs))
    assert str(err.value) == message


def test_definition_records_what_matters():
    pool = Pool.from_cluster(cluster(pools=("198.18.0.0/24",), reserved=("198.18.0.20-198.18.0.21",)))
    assert pool.definition() == {
        "subnet": "198.18.0.0/24", "router": "198.18.0.1", "pools": ["198.18.0.0-198.18.0.255"],
        "excluded": ["198.18.0.0-198.18.0.1", "198.18.0.11-198.18.0.12", "198.18.0.20-198.18.0.21",
                     "198.18.0.255"],
        "size": 249}


def test_a_host_reached_by_name_or_outside_the_subnet_is_ignored():
    pool = Pool.from_cluster(cluster(pools=("198.18.0.0/24",), hosts=[("a", "node-a.lan"), ("b", "10.9.9.9")]))
    assert pool.size == 253


def test_large_pool_is_cheap():
    pool = Pool.build("10.64.0.0/10", "10.64.0.1", ["10.64.0.0/10"])
    assert pool.size == 2 ** 22 - 3
    assert pool.address_at(pool.size - 1) == "10.127.255.254"


def test_why_not_rejects_text_that_is_no_address():
    pool = Pool.from_cluster(cluster())
    with pytest.raises(IpamError) as err:
        pool.why_not("300.1.1.1")
    assert str(err.value) == "'300.1.1.1' is not an IPv4 address"


@pytest.mark.parametrize("text", ["1.2.3.4", "0.0.0.0", "255.255.255.255", "198.18.61.249", "256.1.1.1", "01.2.3.4",
                                  "1.2.3.04", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4\n", "1..2.3", "a.b.c.d",
                                  "1.2.3.4/24", "\uff11.2.3.4", "", "1.2.3.4 "])
def test_the_quick_reading_of_an_address_agrees_with_the_standard_library(text):
    import ipaddress

    from napcompose.errors import IpamError
    from napcompose.ipam.pool import canonical, parse_address
    from napcompose.ipam.records import address_of_key

    try:
        wanted = int(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        wanted = None
    if wanted is None:
        with pytest.raises(IpamError):
            parse_address(text)
    else:
        assert parse_address(text) == wanted
    try:
        written = str(ipaddress.IPv4Address(text))
    except ValueError:
        written = None
    assert canonical(text) == (written == text)
    assert address_of_key(text) == (text if written == text else None)
