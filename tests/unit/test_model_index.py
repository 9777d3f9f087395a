"""The name indexes of the model answer as the scans they replace did."""

import pickle

import pytest

from napcompose.model import Placement, Project, Replica, ServiceSpec
from napcompose.clustermodel import Cluster, ClusterNetwork, Host, StoreSpec


def project(*names):
    return Project(name="p", services=tuple(ServiceSpec(name=n, image=f"img-{i}") for i, n in enumerate(names)))


def test_service_lookup_and_names():
    p = project("db", "web")
    assert p.service("web").image == "img-1"
    assert p.service_names == ("db", "web")
    assert "db" in p.service_names and "cache" not in p.service_names and ["db"] not in p.service_names
    assert list(p.service_names) == ["db", "web"] and p.service_names[1] == "web"
    with pytest.raises(KeyError) as err:
        p.service("cache")
    assert err.value.args == ("cache",)


def test_a_repeated_name_finds_the_first_as_a_scan_did():
    p = project("web", "web")
    assert p.service("web").image == "img-0"


def test_indexes_leave_equality_hashing_and_pickling_alone():
    first, second = project("db", "web"), project("db", "web")
    first.service("db")  # builds the index on one of them only
    assert first == second and hash(first) == hash(second)
    again = pickle.loads(pickle.dumps(first))
    assert again == first and "web" in again.service_names and again.service("web").image == "img-1"


def test_cluster_host_and_placement_host_of():
    hosts = (Host("n1", "198.18.9.1", "ssh://root@198.18.9.1"), Host("n2", "198.18.9.2", "ssh://root@198.18.9.2"))
    cluster = Cluster(hosts, ClusterNetwork("flat", "198.18.9.0/24", "198.18.9.254", ()), StoreSpec("file:///x"))
    assert cluster.host("n2").address == "198.18.9.2"
    with pytest.raises(KeyError):
        cluster.host("n3")
    a, b = Replica("p", "web", 1), Replica("p", "web", 2)
    placement = Placement(((a, "n1"), (b, "n2")))
    assert placement.host_of(b) == "n2" and placement.replicas == (a, b)
    with pytest.raises(KeyError) as err:
        placement.host_of(Replica("p", "web", 3))
    assert err.value.args == ("p_web_3",)
