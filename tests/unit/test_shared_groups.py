"""Networks shared across projects (``external``, ``name:``) as isolation groups, and names answered
within the caller's groups when the cluster isolates."""

import textwrap
from dataclasses import replace

import pytest

from napcompose.clustermodel import ResolverSpec
from napcompose.config import parse_project
from napcompose.config.render import as_dict
from napcompose.confighash import config_hash
from napcompose.errors import ConfigError
from napcompose.execute.isolation import check_filters
from napcompose.isolation.groups import (GROUPS_LABEL, Member, groups_label, members, parse_label, peers,
                                         shares_network)
from napcompose.model import NetworkAttachment, NetworkDef, Replica, ServiceSpec
from napcompose.names.records import Lookup, names_files, render_names, search_domains
from napcompose.orchestrator import Orchestrator
from napcompose.ports import ListReporter
from tests import nap
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
from tests.fakes_kv import MemoryKV
from tests.unit.test_isolation import allocation, container
from tests.unit.test_orchestrator import NODES, cluster


def load(text, name="shop"):
    return parse_project([("docker-compose.yml", textwrap.dedent(text))], project_name=name,
                         working_dir="/srv/shop", environ={}, warn=lambda _: None)


SHOP = """\
    services:
      web: {image: busybox, networks: [front, shared]}
      api: {image: busybox, networks: {front: {}, back: {aliases: [backend]}}}
      db: {image: redis, networks: [back]}
    networks:
      front: {}
      back: {}
      shared: {external: true}
    """

BLOG = """\
    services:
      app: {image: busybox, networks: [default, outside]}
      job: {image: busybox}
    networks:
      outside: {external: {name: shared}}
    """


# ------------------------------------------------------------------ the project model


def test_external_and_named_networks_carry_their_cluster_wide_name_and_the_project_s_own_none():
    project = load("""\
        services:
          a: {image: busybox, networks: [own, ext, old, named]}
        networks:
          own: {}
          ext: {external: true}
          old: {external: {name: legacy-net}}
          named: {name: shared_net}
        """)
    assert project.networks == (NetworkDef("ext", "ext", True), NetworkDef("named", "shared_net", False),
                                NetworkDef("old", "legacy-net", True), NetworkDef("own", None, False))
    assert {a.name: a.shared for a in project.service("a").networks} == {
        "own": None, "ext": "ext", "old": "legacy-net", "named": "shared_net"}
    doc = as_dict(project)
    assert doc["networks"] == {"ext": {"external": True, "name": "ext"}, "named": {"name": "shared_net"},
                               "old": {"external": True, "name": "legacy-net"}, "own": None}


def test_an_external_default_network_puts_every_service_naming_none_on_it():
    project = load("""\
        services:
          a: {image: busybox}
        networks:
          default: {external: {name: lan}}
        """)
    assert project.service("a").networks == (NetworkAttachment("default", shared="lan"),)
    assert groups_label(project.service("a")) == "*/lan"
    assert as_dict(project)["networks"] == {"default": {"external": True, "name": "lan"}}


def test_a_service_on_its_projects_own_networks_keeps_its_config_hash():
    spec = ServiceSpec(name="a", image="busybox", networks=(NetworkAttachment("front"),))
    assert config_hash(spec) == config_hash(replace(spec, networks=(NetworkAttachment("front", shared=None),)))
    # joining a shared network changes the container (its groups label): it is recreated
    assert config_hash(spec) != config_hash(replace(spec, networks=(NetworkAttachment("front", shared="front"),)))


@pytest.mark.parametrize("definition, shown", [
    ("{external: {name: Shared}}", "'Shared'"),
    ("{name: my.net}", "'my.net'"),
    ("{external: true, name: 'a b'}", "'a b'"),
])
def test_a_shared_network_name_that_cannot_be_a_dns_label_is_refused_naming_file_line_and_services(definition, shown):
    text = f"""\
        services:
          web: {{image: busybox, networks: [lan]}}
          api: {{image: busybox, networks: [lan]}}
        networks:
          lan: {definition}
        """
    with pytest.raises(ConfigError) as error:
        load(text)
    assert str(error.value).startswith(f"docker-compose.yml:5: network 'lan' (used by services 'api', 'web'): {shown} "
                                       "cannot name a network shared across projects")


def test_up_with_a_bad_shared_network_name_says_where_and_touches_nothing(tmp_path):
    from tests.unit.test_cli_project import Cli

    cli = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent("""\
        services:
          web: {image: busybox, networks: [lan]}
        networks:
          lan: {external: {name: Bad_Name}}
        """))
    status, _, err = cli("up", "-d")
    assert status == 3, err
    assert "docker-compose.yml:4: network 'lan' (used by service 'web'): 'Bad_Name' cannot name a network " \
           "shared across projects" in err
    assert cli.untouched()


# ------------------------------------------------------------------ groups and labels


def test_the_label_lists_own_networks_by_key_and_shared_ones_by_group_and_reads_back():
    shop = load(SHOP)
    assert groups_label(shop.service("web")) == "*/shared,front"
    assert parse_label(groups_label(shop.service("web"))) == ("*/shared", "front")
    assert groups_label(shop.service("api")) == "back,front"
    # a label written before shared networks existed reads as it always did; junk is ignored
    assert parse_label("front,back") == ("back", "front")
    assert parse_label("front,*/,*/Bad Name,*/x/y,../etc") == ("front",)
    assert parse_label("*/,") is None


def test_two_projects_on_one_shared_network_share_its_group_and_nothing_else():
    shop, blog = load(SHOP), load(BLOG, name="blog")
    records = [allocation("shop/web/1", "198.18.0.101", "node1"), allocation("shop/db/1", "198.18.0.102", "node2"),
               allocation("shop/api/1", "198.18.0.103", "node1"), allocation("blog/app/1", "198.18.0.110", "node3"),
               allocation("blog/job/1", "198.18.0.111", "node3"), allocation("old/app/1", "198.18.0.120", "node2")]
    seen = [container("blog/app/1", "198.18.0.110", "node3", groups_label(blog.service("app"))),
            container("blog/job/1", "198.18.0.111", "node3", groups_label(blog.service("job"))),
            container("old/app/1", "198.18.0.120", "node2", "shared")]  # an old label: its project's own key
    found = members(records, seen, shop)
    assert found == (
        Member("198.18.0.101", "node1", ("*/shared", "shop/front")),
        Member("198.18.0.102", "node2", ("shop/back",)),
        Member("198.18.0.103", "node1", ("shop/back", "shop/front")),
        Member("198.18.0.110", "node3", ("*/shared", "blog/default")),
        Member("198.18.0.111", "node3", ("blog/default",)),
        Member("198.18.0.120", "node2", ("old/shared",)),  # never the cluster-wide group
    )
    assert peers(found, "198.18.0.101") == ("198.18.0.103", "198.18.0.110")
    assert peers(found, "198.18.0.110") == ("198.18.0.101", "198.18.0.111")
    assert peers(found, "198.18.0.102") == ("198.18.0.103",)


def test_a_container_without_a_label_keeps_its_projects_own_groups_not_the_shared_ones():
    records = [allocation("blog/app/1", "198.18.0.110", "node3"), allocation("blog/job/1", "198.18.0.111", "node3")]
    seen = [container("blog/app/1", "198.18.0.110", "node3", "*/shared,default")]
    assert members(records, seen)[1] == Member("198.18.0.111", "node3", ("blog/default",))


def test_services_on_one_shared_network_under_two_keys_share_it():
    project = load("""\
        services:
          a: {image: busybox, networks: [x]}
          b: {image: busybox, networks: [y]}
          c: {image: busybox}
        networks:
          x: {external: {name: lan}}
          y: {name: lan}
        """)
    assert shares_network(project, "a", "b") and not shares_network(project, "a", "c")


# ------------------------------------------------------------------ names within groups


def test_with_isolation_names_live_under_their_groups_domains_and_aliases_under_their_network_only():
    shop = load(SHOP)
    addresses = {r: ip for r, ip in zip(
        [nap_replica("shop", "api"), nap_replica("shop", "db"), nap_replica("shop", "web")],
        ["198.18.0.103", "198.18.0.102", "198.18.0.101"])}
    text = render_names(shop, "nap", addresses, isolated=True)
    lines = dict(line.split(" ", 1) for line in text.splitlines()[1:])
    assert lines["198.18.0.101"].split() == [
        "web.front.shop.nap", "web_1.front.shop.nap", "web-1.front.shop.nap", "shop-web-1.front.shop.nap",
        "shop_web_1.front.shop.nap",
        "web.shared.nap", "web_1.shared.nap", "web-1.shared.nap", "shop-web-1.shared.nap", "shop_web_1.shared.nap"]
    assert "db.back.shop.nap" in lines["198.18.0.102"].split() and "front" not in lines["198.18.0.102"]
    api = lines["198.18.0.103"].split()
    assert {"api.back.shop.nap", "backend.back.shop.nap", "api.front.shop.nap"} <= set(api)
    assert "backend.front.shop.nap" not in api and not any(n.endswith(".shop.nap") and n.count(".") == 2 for n in api)
    # without isolation: today's layout, every name under the project's domain
    plain = render_names(shop, "nap", addresses)
    assert "198.18.0.103 api.shop.nap backend.shop.nap api_1.shop.nap" in plain
    assert names_files(shop, "nap", addresses) == names_files(shop, "nap", addresses, isolated=False)


def nap_replica(project, service, index=1):
    return Replica(project, service, index)


def test_a_container_searches_its_own_groups_domains_only():
    shop, blog = load(SHOP), load(BLOG, name="blog")
    isolated = Lookup("198.18.0.11", "shop.nap", "nap", True)
    assert search_domains(shop, "web", isolated) == ("front.shop.nap", "shared.nap")
    assert search_domains(shop, "api", isolated) == ("back.shop.nap", "front.shop.nap")
    assert search_domains(shop, "db", isolated) == ("back.shop.nap",)
    assert search_domains(blog, "job", Lookup("198.18.0.11", "blog.nap", "nap", True)) == ("default.blog.nap",)
    # without isolation, or given the plain (address, domain) pair: the project's domain
    assert search_domains(shop, "web", Lookup("198.18.0.11", "shop.nap", "nap", False)) == ("shop.nap",)
    assert search_domains(shop, "web", ("198.18.0.11", "shop.nap")) == ("shop.nap",)


class Rig:
    def __init__(self, isolation=True):
        base = cluster()
        self.cluster = replace(base, network=replace(base.network, isolation=isolation, resolver=ResolverSpec()))
        self.world = FakeWorld(NODES)
        self.clock = FakeClock()
        self.ipam = make_ipam(self.cluster, self.clock, MemoryKV())
        self.reporter = ListReporter()
        self.orc = Orchestrator(self.cluster, self.world.engines, self.world.files, self.ipam, self.reporter,
                                self.clock, images=self.world.images, bridge_filter=self.world.bridge)

    def request(self, name):
        return self.world.container(name).request

    def names(self, host):
        tree = self.world.files(host).tree
        return "".join(tree[p][2].decode() for p in sorted(tree) if p.endswith(".hosts"))


def test_up_of_two_projects_joins_the_shared_group_and_scopes_every_containers_search_list():
    rig = Rig()
    shop, blog = load(SHOP), load(BLOG, name="blog")
    assert not nap.up(rig.orc, shop).failed
    assert not nap.up(rig.orc, blog).failed
    assert rig.request("shop_web_1").dns_search == ("front.shop.nap", "shared.nap")
    assert rig.request("shop_api_1").dns_search == ("back.shop.nap", "front.shop.nap")
    assert rig.request("blog_app_1").dns_search == ("default.blog.nap", "shared.nap")
    assert dict(rig.request("blog_app_1").labels)[GROUPS_LABEL] == "*/shared,default"
    web, app = rig.ipam.lookup("shop/web/1").ip, rig.ipam.lookup("blog/app/1").ip
    table = rig.world.bridge.tables[rig.ipam.lookup("blog/app/1").host]
    shared_set = table.split('comment "*/shared"')[1].split("}")[0]
    assert web in shared_set and app in shared_set
    assert check_filters(rig.cluster, rig.world.engines, rig.ipam, rig.world.bridge, list(NODES)) == []
    for host in NODES:
        names = rig.names(host)
        assert f"{web} web.front.shop.nap" in names and "web.shared.nap" in names and "app.shared.nap" in names
    # the check compares with the isolated layout: nothing drifted; a file of the plain layout would
    assert rig.orc.names_check(shop) == [] and rig.orc.names_check(blog) == []
    plain = replace(rig.cluster, network=replace(rig.cluster.network, isolation=False))
    unscoped = Orchestrator(plain, rig.world.engines, rig.world.files, rig.ipam, rig.reporter, rig.clock,
                            images=rig.world.images, bridge_filter=rig.world.bridge)
    assert {d.host for d in unscoped.names_check(shop)} == set(NODES)


def test_without_isolation_the_names_and_search_list_stay_the_projects():
    rig = Rig(isolation=False)
    shop = load(SHOP)
    assert not nap.up(rig.orc, shop).failed
    assert rig.request("shop_web_1").dns_search == ("shop.nap",)
    web = rig.ipam.lookup("shop/web/1").ip
    assert f"{web} web.shop.nap web_1.shop.nap" in rig.names("node1")
    assert ".front.shop.nap" not in rig.names("node1") and "shared.nap" not in rig.names("node1")


def test_a_one_off_searches_its_services_groups_like_its_replicas():
    from napcompose.model import Allocation
    from napcompose.names.startnames import StartNames
    from napcompose.planner import CreateOneOff
    from napcompose.planner.run import OneOff, RunOptions, one_off_request, one_off_spec

    shop = load(SHOP)
    one_off = OneOff("shop", "web", 1, "ab" * 32)
    action = CreateOneOff(one_off, "node1", "run", (), spec=one_off_spec(shop.service("web"), RunOptions(service="web", slug="ab" * 32),
                                                                           one_off.name))
    allocation = Allocation("198.18.0.150", one_off.owner, "node1", "bound", 0.0, "id")
    isolated = Lookup("198.18.0.11", "shop.nap", "nap", True)
    request = one_off_request(shop, action, allocation, StartNames(shop, {}), "flat", isolated)
    assert request.dns_search == ("front.shop.nap", "shared.nap") == search_domains(shop, "web", isolated)
    plain = one_off_request(shop, action, allocation, StartNames(shop, {}), "flat", Lookup("198.18.0.11", "shop.nap",
                                                                                         "nap", False))
    assert plain.dns_search == ("shop.nap",)


def test_turning_isolation_on_remakes_the_containers_whose_search_list_it_changes_and_only_once():
    from napcompose.planner import Recreate

    rig = Rig(isolation=False)
    shop = load(SHOP)
    assert not nap.up(rig.orc, shop).failed
    assert rig.request("shop_web_1").dns_search == ("shop.nap",)
    scoped = replace(rig.cluster, network=replace(rig.cluster.network, isolation=True))
    orc = Orchestrator(scoped, rig.world.engines, rig.world.files, rig.ipam, rig.reporter, rig.clock,
                       images=rig.world.images, bridge_filter=rig.world.bridge)
    plan, _ = orc.plan(shop, nap.options(["up"], shop))
    # Docker writes resolv.conf at create time: every replica is made again under the new layout
    assert {a.replica.service for a in plan.actions if isinstance(a, Recreate)} == {s.name for s in shop.services}
    assert not nap.up(orc, shop).failed
    assert rig.request("shop_web_1").dns_search == ("front.shop.nap", "shared.nap")
    again, _ = orc.plan(shop, nap.options(["up"], shop))
    assert not [a for a in again.actions if isinstance(a, Recreate)]
