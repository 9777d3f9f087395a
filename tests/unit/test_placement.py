"""Placement: strategies, constraints, port filter, stability of existing replicas, determinism."""

import pytest
from hypothesis import given, settings, strategies as st

from napcompose.errors import ConfigError, PlacementError, UsageError
from napcompose.model import ObservedContainer, PlacementSpec, PortSpec, Project, Replica, ServiceSpec
from napcompose.clustermodel import Host
from napcompose.placement.place import place


def hosts(*names, labels=None):
    labels = labels or {}
    return tuple(Host(n, f"198.18.0.{i + 1}", f"ssh://root@198.18.0.{i + 1}",
                      labels=tuple(sorted(labels.get(n, {}).items())))
                 for i, n in enumerate(names))


H3 = hosts("node1", "node2", "node3")


def svc(name, scale=1, **kw):
    placement = kw.pop("placement", PlacementSpec())
    return ServiceSpec(name=name, image="busybox", scale=scale, placement=placement, **kw)


def proj(*services, strategy="spread", seed=0, name="p"):
    return Project(name=name, services=tuple(sorted(services, key=lambda s: s.name)), strategy=strategy,
                   seed=seed)


def running(host, service, index, project="p", ports=()):
    replica = Replica(project, service, index)
    return ObservedContainer(host=host, id=f"{host}-{service}-{index}", name=replica.name, replica=replica,
                             config_hash="h", state="running", ports=tuple(ports))


def where(placement):
    return {f"{r.service}_{r.index}": h for r, h in placement.assignments}


def test_spread_puts_replicas_on_the_hosts_with_fewest_containers_of_the_project():
    result = place(proj(svc("web", scale=4)), H3, [])
    assert where(result) == {"web_1": "node1", "web_2": "node2", "web_3": "node3", "web_4": "node1"}


def test_spread_breaks_ties_on_the_project_by_overall_load():
    other = [running("node1", "x", 1, project="q"), running("node1", "x", 2, project="q"),
             running("node2", "x", 1, project="q")]
    assert where(place(proj(svc("web", scale=2)), H3, other)) == {"web_1": "node3", "web_2": "node2"}


def test_binpack_fills_the_most_loaded_host_that_fits():
    other = [running("node2", "x", 1, project="q")]
    spec = svc("web", scale=3, placement=PlacementSpec(max_per_host=2))
    assert where(place(proj(spec, strategy="binpack"), H3, other)) == {
        "web_1": "node2", "web_2": "node2", "web_3": "node1"}


def test_random_is_seeded_by_project_seed_and_replica_name():
    project = proj(svc("web", scale=6), strategy="random", seed=7)
    first = place(project, H3, [])
    assert first == place(project, H3, [])
    other = place(proj(svc("web", scale=6), strategy="random", seed=8), H3, [])
    assert first != other
    assert set(where(first).values()) <= {"node1", "node2", "node3"}


def test_service_strategy_overrides_the_project_default():
    spec = svc("web", scale=2, placement=PlacementSpec(strategy="binpack"))
    assert where(place(proj(spec), H3, [])) == {"web_1": "node1", "web_2": "node1"}


@pytest.mark.parametrize("constraint,allowed", [
    ("node.hostname==node2", {"node2"}),
    ("node.hostname!=node2", {"node1", "node3"}),
    ("node.labels.zone==a", {"node1", "node3"}),
    ("node.labels.zone!=a", {"node2"}),
])
def test_constraints(constraint, allowed):
    cluster = hosts("node1", "node2", "node3", labels={"node1": {"zone": "a"}, "node3": {"zone": "a"},
                                                      "node2": {"zone": "b"}})
    spec = svc("web", scale=4, placement=PlacementSpec(constraints=(constraint,)))
    assert set(where(place(proj(spec), cluster, [])).values()) == allowed


@pytest.mark.parametrize("key,value,allowed", [
    ("constraint:node", "=node3", {"node3"}),
    ("constraint:node!", "node3", {"node1", "node2"}),
])
def test_swarm_classic_environment_constraint(key, value, allowed):
    spec = svc("web", scale=3, environment=((key, value),))
    assert set(where(place(proj(spec), H3, [])).values()) == allowed


def test_unsupported_constraint_is_a_config_error_naming_the_service():
    spec = svc("web", placement=PlacementSpec(constraints=("node.role==manager",)))
    with pytest.raises(ConfigError) as err:
        place(proj(spec), H3, [])
    assert str(err.value) == ("service web: unsupported placement constraint 'node.role==manager' "
                              "(use node.hostname==NAME, node.labels.KEY==VALUE, or != for either)")


def test_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        place(proj(svc("web"), strategy="roundrobin"), H3, [])
    assert str(err.value) == "service web: unknown placement strategy 'roundrobin' (one of spread, binpack, random)"


def test_constraint_leaving_no_host_names_the_constraint_and_the_hosts():
    spec = svc("web", placement=PlacementSpec(constraints=("node.labels.gpu==yes",)))
    with pytest.raises(PlacementError) as err:
        place(proj(spec), H3, [])
    assert str(err.value) == "cannot place web_1: constraint node.labels.gpu==yes excludes node1, node2, node3"


def test_port_filter_spreads_a_fixed_host_port_and_the_fourth_replica_fails():
    web = svc("web", scale=3, ports=(PortSpec(80, "tcp", 80),))
    assert sorted(where(place(proj(web), H3, [])).values()) == ["node1", "node2", "node3"]
    with pytest.raises(PlacementError) as err:
        place(proj(web), H3, [], {"web": 4})
    assert str(err.value) == "cannot place web_4: port 80/tcp is taken on node1, node2, node3"


def test_port_filter_counts_other_projects_containers():
    web = svc("web", ports=(PortSpec(80, "tcp", 8080),))
    other = [running("node1", "x", 1, project="q", ports=("0.0.0.0:8080->80/tcp",))]
    assert where(place(proj(web), H3, other)) == {"web_1": "node2"}


def test_port_filter_ignores_ephemeral_ports_and_other_protocols():
    web = svc("web", scale=2, ports=(PortSpec(53, "udp", 53), PortSpec(80, "tcp", None)))
    other = [running("node1", "x", 1, project="q", ports=("0.0.0.0:53->53/tcp",))]
    assert where(place(proj(web), hosts("node1"), other, {"web": 1})) == {"web_1": "node1"}


def test_max_per_host():
    spec = svc("web", scale=4, placement=PlacementSpec(max_per_host=1))
    with pytest.raises(PlacementError) as err:
        place(proj(spec), H3, [])
    assert str(err.value) == "cannot place web_4: max_per_host 1 is reached on node1, node2, node3"


def test_fixed_hosts_in_replica_order_then_the_strategy_among_them():
    spec = svc("web", scale=3, placement=PlacementSpec(hosts=("node3", "node1")))
    assert where(place(proj(spec), H3, [])) == {"web_1": "node3", "web_2": "node1", "web_3": "node1"}


def test_fixed_host_that_is_not_reachable():
    spec = svc("web", placement=PlacementSpec(hosts=("node9",)))
    with pytest.raises(PlacementError) as err:
        place(proj(spec), H3, [])
    assert str(err.value) == "cannot place web_1: x-nap hosts names node9, which is not a reachable host of the cluster"


def test_affinity_follows_the_other_service():
    db = svc("db", placement=PlacementSpec(hosts=("node2",)))
    cache = svc("cache", scale=2, placement=PlacementSpec(affinity=("db",)))
    assert where(place(proj(db, cache), H3, [])) == {"cache_1": "node2", "cache_2": "node2", "db_1": "node2"}


def test_anti_affinity_both_ways():
    db = svc("db", placement=PlacementSpec(hosts=("node1",)))
    web = svc("web", scale=2, placement=PlacementSpec(anti_affinity=("db",)))
    result = where(place(proj(db, web), H3, []))
    assert result == {"db_1": "node1", "web_1": "node2", "web_2": "node3"}
    # declared on db only, web still avoids db's host
    db2 = svc("db", placement=PlacementSpec(anti_affinity=("web",)))
    web2 = svc("web", scale=2, placement=PlacementSpec(hosts=("node1", "node1")))
    result = where(place(proj(db2, web2), H3, []))
    assert result == {"db_1": "node2", "web_1": "node1", "web_2": "node1"}


def test_anti_affinity_unsatisfiable_names_the_rule():
    db = svc("db", scale=3, placement=PlacementSpec(strategy="spread"))
    web = svc("web", placement=PlacementSpec(anti_affinity=("db",)))
    with pytest.raises(PlacementError) as err:
        place(proj(db, web), H3, [])
    assert str(err.value) == "cannot place web_1: anti-affinity with db: db runs on node1, node2, node3"


def test_affinity_with_unknown_service():
    web = svc("web", placement=PlacementSpec(affinity=("nosuch",)))
    with pytest.raises(ConfigError) as err:
        place(proj(web), H3, [])
    assert str(err.value) == "service web: x-nap affinity names unknown service 'nosuch'"


def test_existing_replicas_never_move_even_against_the_strategy():
    observed = [running("node3", "web", 1), running("node3", "web", 2)]
    result = where(place(proj(svc("web", scale=3)), H3, observed))
    assert result == {"web_1": "node3", "web_2": "node3", "web_3": "node1"}


def test_existing_replica_on_a_host_not_offered_stays_there():
    observed = [running("node9", "web", 1)]
    assert where(place(proj(svc("web", scale=2)), H3, observed)) == {"web_1": "node9", "web_2": "node1"}


def test_scale_down_keeps_the_lowest_indexes():
    observed = [running("node1", "web", 1), running("node2", "web", 2), running("node3", "web", 3)]
    assert where(place(proj(svc("web", scale=3)), H3, observed, {"web": 1})) == {"web_1": "node1"}


def test_scaled_down_replicas_free_their_ports():
    web = svc("web", ports=(PortSpec(80, "tcp", 80),))
    observed = [running("node1", "web", 1, ports=("0.0.0.0:80->80/tcp",)),
                running("node2", "web", 2, ports=("0.0.0.0:80->80/tcp",))]
    result = place(proj(web), hosts("node1", "node2"), observed, {"web": 1})
    assert where(result) == {"web_1": "node1"}


def test_bad_scales_are_usage_errors():
    with pytest.raises(UsageError) as err:
        place(proj(svc("web")), H3, [], {"nosuch": 2})
    assert str(err.value) == "no such service: nosuch"
    with pytest.raises(UsageError) as err:
        place(proj(svc("web")), H3, [], {"web": -1})
    assert str(err.value) == "invalid scale for web: -1 (a number >= 0)"


def test_no_reachable_host():
    with pytest.raises(PlacementError) as err:
        place(proj(svc("web")), (), [])
    assert str(err.value) == "cannot place web_1: no reachable host"


@settings(max_examples=60, deadline=None)
@given(scales=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 6)),
       existing=st.lists(st.tuples(st.sampled_from(["node1", "node2", "node3"]),
                                   st.sampled_from(["a", "b", "c"]), st.integers(1, 4)), max_size=6),
       strategy=st.sampled_from(["spread", "binpack", "random"]))
def test_placement_is_deterministic_and_keeps_existing(scales, existing, strategy):
    project = proj(svc("a", scale=2), svc("b"), svc("c", scale=3), strategy=strategy, seed=3)
    observed = [running(h, s, i) for h, s, i in existing]
    first = place(project, H3, observed, scales)
    assert first == place(project, H3, list(reversed(observed)), scales)
    placed = dict(first.assignments)
    wanted = {s.name: scales.get(s.name, s.scale) for s in project.services}
    assert sorted(placed) == sorted(Replica("p", s, i) for s, n in wanted.items() for i in range(1, n + 1))
    first_seen = {}
    for c in sorted(observed, key=lambda c: (c.host, c.name, c.id)):
        first_seen.setdefault(c.replica, c.host)
    for replica, host in first_seen.items():
        if replica in placed:
            assert placed[replica] == host


def test_several_rules_each_name_the_hosts_they_excluded():
    web = svc("web", ports=(PortSpec(80, "tcp", 80),),
              placement=PlacementSpec(constraints=("node.hostname!=node3",)))
    observed = [running("node1", "x", 1, project="q", ports=("0.0.0.0:80->80/tcp",)),
                running("node2", "x", 1, project="q", ports=("0.0.0.0:80->80/tcp",))]
    with pytest.raises(PlacementError) as err:
        place(proj(web), H3, observed)
    assert str(err.value) == ("cannot place web_1: constraint node.hostname!=node3 excludes node3; "
                              "port 80/tcp is taken on node1, node2")


def test_spread_preference_over_a_label_balances_its_values_first():
    cluster = hosts("a1", "a2", "b1", labels={"a1": {"zone": "a"}, "a2": {"zone": "a"}, "b1": {"zone": "b"}})
    spec = svc("web", scale=4, placement=PlacementSpec(preferences=("spread=node.labels.zone",)))
    assert where(place(proj(spec), cluster, [])) == {"web_1": "a1", "web_2": "b1", "web_3": "a2", "web_4": "b1"}


def test_unsupported_preference_is_a_config_error():
    spec = svc("web", placement=PlacementSpec(preferences=("spread=node.id",)))
    with pytest.raises(ConfigError) as err:
        place(proj(spec), H3, [])
    assert str(err.value) == "service web: unsupported placement preference 'spread=node.id' (use spread: node.labels.KEY)"
