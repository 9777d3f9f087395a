"""The service graph drawn as text, dot and SVG: layout by waves, replicas in host lanes, escaping."""

import xml.etree.ElementTree as ET

import pytest

from napcompose.errors import ConfigError, DependencyCycleError
from napcompose.graphview import ReplicaNode, ServiceGraph, render_dot, render_svg, render_text, service_graph
from napcompose.graphview.layout import Edge
from napcompose.model import Dependency, Link, ObservedContainer, Project, Replica, ServiceSpec

SVG = "{http://www.w3.org/2000/svg}"


def guestbook():
    return Project("gb", (
        ServiceSpec("redis-master", image="r"),
        ServiceSpec("redis-slave", image="r", links=(Link("redis-master", "redis-master"),)),
        ServiceSpec("web", image="w", links=(Link("redis-master", "redis-master"), Link("redis-slave", "redis-slave")),
                    depends_on=(Dependency("redis-master"),)),
    ))


def container(service, index, host, state="running", ip="198.18.0.10", project="gb"):
    return ObservedContainer(host, f"id-{service}-{index}", f"{project}_{service}_{index}",
                             Replica(project, service, index), None, state, ip)


def test_columns_put_consumers_first_and_edges_keep_every_kind():
    graph = service_graph(guestbook())
    assert graph.services == ("web", "redis-slave", "redis-master")
    assert graph.waves == (("redis-master",), ("redis-slave",), ("web",))
    assert [(e.consumer, e.dependency, e.kinds) for e in graph.edges] == [
        ("web", "redis-slave", ("link",)), ("web", "redis-master", ("link", "depends_on")),
        ("redis-slave", "redis-master", ("link",))]


def test_named_services_bring_what_they_need_and_an_unknown_one_is_named():
    assert service_graph(guestbook(), services=["redis-slave"]).services == ("redis-slave", "redis-master")
    with pytest.raises(ConfigError, match=r"no such service: nope \(services in gb: redis-master, "
                                          r"redis-slave, web\)"):
        service_graph(guestbook(), services=["nope"])


def test_a_cycle_is_reported_by_name():
    looped = Project("p", (ServiceSpec("a", image="x", links=(Link("b", "b"),)),
                           ServiceSpec("b", image="x", links=(Link("a", "a"),))))
    with pytest.raises(DependencyCycleError, match="a -> b -> a"):
        service_graph(looped)


def test_replicas_of_the_project_only_in_host_lanes_of_the_cluster_order():
    seen = [container("web", 2, "node3"), container("web", 1, "node1"), container("redis-master", 1, "node2"),
            container("web", 1, "node9", project="other"), container("gone", 1, "node1")]
    graph = service_graph(guestbook(), seen, hosts=["node1", "node2", "node3"])
    assert [(r.label, r.host) for r in graph.replicas] == [("web_1", "node1"), ("web_2", "node3"),
                                                           ("redis-master_1", "node2")]
    assert graph.hosts == ("node1", "node2", "node3")


def test_text_lists_needs_replicas_and_start_order():
    graph = service_graph(guestbook(), [container("web", 1, "node1", ip="198.18.0.11"),
                                        container("redis-master", 1, "node2", state="exited", ip="")],
                          hosts=["node1", "node2"])
    assert render_text(graph) == (
        "web -> redis-slave (link), redis-master (link, depends_on)\n"
        "    web_1  node1  198.18.0.11  running\n"
        "redis-slave -> redis-master (link)\n"
        "redis-master\n"
        "    redis-master_1  node2  -  exited\n"
        "\n"
        "start order: redis-master; redis-slave; web\n")


def test_dot_quotes_what_comes_from_outside():
    graph = ServiceGraph('p"x', ("a",), (("a",),), (), (ReplicaNode(Replica('p"x', "a", 1), 'h"1\\', "", "running"),),
                         ('h"1\\',))
    dot = render_dot(graph)
    assert 'digraph "p\\"x" {' in dot
    assert 'label="h\\"1\\\\";' in dot
    assert '[label="a_1\\n- (running)", shape=ellipse];' in dot


def _texts(root):
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_svg_draws_every_edge_and_each_replica_in_its_lane():
    graph = service_graph(guestbook(), [container("web", 1, "node1"), container("web", 2, "node2"),
                                        container("redis-slave", 1, "node2", state="exited")],
                          hosts=["node1", "node2"])
    root = ET.fromstring(render_svg(graph))
    edges = {(g.get("data-from"), g.get("data-to")) for g in root.iter(f"{SVG}g") if g.get("class") == "edge"}
    assert edges == {("web", "redis-slave"), ("web", "redis-master"), ("redis-slave", "redis-master")}
    lanes = {g.get("data-host"): g for g in root.iter(f"{SVG}g") if g.get("class") == "lane"}
    replicas = {g.get("data-replica"): g for g in root.iter(f"{SVG}g") if g.get("class") == "replica"}
    assert set(replicas) == {"gb_web_1", "gb_web_2", "gb_redis-slave_1"}
    assert replicas["gb_redis-slave_1"].get("data-state") == "exited"

    def top(group):
        return float(group.find(f"{SVG}rect").get("y"))

    def lane_span(host):
        rect = lanes[host].find(f"{SVG}rect")
        return float(rect.get("y")), float(rect.get("y")) + float(rect.get("height"))

    for name, host in (("gb_web_1", "node1"), ("gb_web_2", "node2"), ("gb_redis-slave_1", "node2")):
        low, high = lane_span(host)
        assert low <= top(replicas[name]) < high, name
    # the replica sits in its service's column
    services = {g.get("data-service"): g for g in root.iter(f"{SVG}g") if g.get("class") == "service"}
    assert float(replicas["gb_web_2"].find(f"{SVG}rect").get("x")) - \
        float(services["web"].find(f"{SVG}rect").get("x")) == 6


def test_svg_escapes_markup_in_every_string():
    evil = "<b>x</b>&\"'"
    graph = ServiceGraph(evil, (evil, "db"), (("db",), (evil,)), (Edge(evil, "db", ("link",)),),
                         (ReplicaNode(Replica(evil, evil, 1), evil, evil, evil),), (evil,))
    text = render_svg(graph)
    assert "<b>" not in text
    root = ET.fromstring(text)  # well-formed: nothing broke out of an attribute or a text node
    assert not list(root.iter("b")) and not list(root.iter(f"{SVG}b"))
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert evil in titles  # the lane's full host name
    assert f"{evil} \u2192 db (link)" in titles
    assert any(g.get("data-host") == evil for g in root.iter(f"{SVG}g"))


def test_svg_without_hosts_has_no_lanes():
    root = ET.fromstring(render_svg(service_graph(guestbook())))
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert "web" in _texts(root)
