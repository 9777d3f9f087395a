"""Names at create time: every peer by service and replica name, in the container before its process runs."""


import pytest

from napcompose.errors import ConfigError
from napcompose.model import Link, NetworkAttachment, Project, Replica, ServiceSpec
from napcompose.names.hostsfile import merge, render_block
from napcompose.names.startnames import StartNames, replica_names
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook


def project():
    return Project(name="shop", services=(
        ServiceSpec(name="api", image="x", scale=3,
                    networks=(NetworkAttachment("default", aliases=("backend",)),)),
        ServiceSpec(name="db", image="x"),
        ServiceSpec(name="web", image="x", links=(Link("db", "database"), Link("api", "api"))),
    ))


ADDRESSES = {Replica("shop", "api", 2): "10.0.0.12", Replica("shop", "api", 1): "10.0.0.11",
             Replica("shop", "api", 3): "10.0.0.13", Replica("shop", "db", 1): "10.0.0.21",
             Replica("other", "api", 1): "10.0.0.99"}


def test_replica_names_are_the_four_forms():
    assert replica_names(Replica("shop", "api", 2)) == ("api_2", "api-2", "shop-api-2", "shop_api_2")


def test_a_service_name_points_at_the_lowest_replica_and_every_replica_has_its_names():
    names = dict(StartNames(project(), ADDRESSES).for_service("db"))
    assert (names["api"], names["backend"], names["db"]) == ("10.0.0.11", "10.0.0.11", "10.0.0.21")
    assert (names["api-2"], names["api_3"], names["shop-api-3"], names["shop_api_1"]) == (
        "10.0.0.12", "10.0.0.13", "10.0.0.13", "10.0.0.11")
    assert "web" not in names  # no replica has an address: nothing to point at
    assert "10.0.0.99" not in names.values()  # another project's replicas are never names here


def test_link_aliases_are_the_consumers_own_and_its_own_extra_hosts_come_first():
    names = StartNames(project(), ADDRESSES)
    given = (("db", "192.0.2.1"), ("db", "192.0.2.2"))
    web = names.for_service("web", given)
    assert web[:3] == (("db", "192.0.2.1"), ("db", "192.0.2.2"), ("database", "10.0.0.21"))
    assert [name for name, _ in web].count("db") == 2  # ours never repeats a name the file gave
    assert "database" not in dict(names.for_service("db"))


def test_a_name_that_cannot_go_into_a_hosts_file_is_refused():
    bad = Project(name="shop", services=(ServiceSpec(name="api", image="x", networks=(
        NetworkAttachment("default", aliases=("a b",)),)),))
    with pytest.raises(ConfigError, match=r"invalid name 'a b' for a hosts file"):
        StartNames(bad, {Replica("shop", "api", 1): "10.0.0.1"})


def test_merge_drops_a_create_time_line_whose_peer_moved_even_without_a_block_entry():
    text = "127.0.0.1\tlocalhost\n10.0.0.11\tapi-2\n10.0.0.12\tapi_2\n192.0.2.9\tproxy\n"
    block = render_block("shop", [])
    merged = merge(text, "shop", block, {"api-2": "10.0.0.12", "api_2": "10.0.0.12"})
    assert "10.0.0.11\tapi-2" not in merged and "10.0.0.12\tapi_2" in merged and "proxy" in merged
    assert merge(merged, "shop", block, {"api-2": "10.0.0.12"}) == merged


def test_a_service_without_links_finds_every_peer_in_its_hosts_file_from_its_start():
    rig = Rig()
    nap.up(rig.orc, guestbook())
    web1, web2, db = rig.address("web", 1), rig.address("web", 2), rig.address("db", 1)
    lone = rig.world.container("gb_lone_1")
    view = lone.view_hosts()
    for line in (f"{web1}\tweb", f"{web2}\tweb-2", f"{web2}\tgb-web-2", f"{db}\tdb", f"{db}\tdb_1"):
        assert line + "\n" in view
    # a start nobody ran nap-compose for (Docker's restart policy, `docker restart`): still there
    engine = rig.world.engines[lone.request.host]
    engine.stop_container(lone.id)
    engine.start_container(lone.id)
    assert f"{web2}\tweb-2\n" in lone.view_hosts() and f"{db}\tdb\n" in lone.view_hosts()


def test_scaling_a_peer_never_recreates_a_consumer():
    rig = Rig()
    nap.up(rig.orc, guestbook())
    before = rig.ids()
    nap.up(rig.orc, guestbook(web_scale=3))
    after = rig.ids()
    assert {name: after[name] for name in before} == before
    assert f"{rig.address('web', 3)}\tweb-3\n" in rig.world.container("gb_web_3").view_hosts()
