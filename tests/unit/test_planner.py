"""The planner's container decisions: requests from a placement, and what happens to each replica."""

from dataclasses import replace

import pytest

from napcompose.confighash import config_hash
from napcompose.errors import UsageError
from napcompose.model import (Allocation, Dependency, Link, ObservedContainer, Placement, PlacementSpec,
                              Project, Replica, ServiceSpec)
from napcompose.planner import Options, build_requests, converge, hosts_block


def project(web_scale=2, web_env=()):
    return Project(name="gb", services=(
        ServiceSpec(name="db", image="redis"),
        ServiceSpec(name="lone", image="busybox"),
        ServiceSpec(name="web", image="busybox", scale=web_scale, links=(Link("db", "database"),),
                    environment=web_env, extra_hosts=(("proxy", "198.18.9.9"),)),
    ))


ADDRESSES = {("db", 1): "198.18.0.11", ("db", 2): "198.18.0.12", ("lone", 1): "198.18.0.15", ("web", 1): "198.18.0.21",
             ("web", 2): "198.18.0.22", ("web", 3): "198.18.0.23"}
HOSTS = {("db", 1): "node1", ("db", 2): "node2", ("lone", 1): "node3", ("web", 1): "node2", ("web", 2): "node3",
         ("web", 3): "node1"}


def requests_for(proj, scales=None):
    scales = scales or {}
    assignments, allocations = [], {}
    for spec in proj.services:
        for index in range(1, scales.get(spec.name, spec.scale) + 1):
            replica = Replica(proj.name, spec.name, index)
            host = HOSTS[(spec.name, index)]
            assignments.append((replica, host))
            allocations[replica] = Allocation(ADDRESSES[(spec.name, index)], replica.owner, host, "reserved",
                                              0.0, f"id-{spec.name}-{index}")
    return build_requests(proj, Placement(tuple(sorted(assignments))), allocations, "flat")


def observed_from(requests, state="running", **changes):
    return [ObservedContainer(host=r.host, id=f"c-{r.replica.name}", name=r.name, replica=r.replica,
                              config_hash=r.config_hash, state=state, ip=r.ip, alloc_id=r.alloc_id)
            for r in requests.values()]


def kinds(the_plan):
    return {a.subject: (a.kind, a.reason) for wave in the_plan.waves for a in wave}


def test_build_requests_labels_and_peer_extra_hosts():
    requests = requests_for(project())
    web1 = requests[Replica("gb", "web", 1)]
    labels = dict(web1.labels)
    assert labels == {
        "com.docker.compose.project": "gb", "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "1", "com.docker.compose.config-hash": web1.config_hash,
        "com.docker.compose.version": "1.29.2", "com.docker.compose.oneoff": "False",
        "io.nap-compose.host": "node2", "io.nap-compose.address": "198.18.0.21",
        "io.nap-compose.alloc-id": "id-web-1", "io.nap-compose.generation": "1",
        "io.nap-compose.groups": "default"}
    # every name a peer answers to is there at create: the service's own first, then its link alias,
    # then every service (its lowest replica) and every replica by its four names
    assert web1.extra_hosts == (
        ("proxy", "198.18.9.9"), ("database", "198.18.0.11"),
        ("db", "198.18.0.11"), ("lone", "198.18.0.15"), ("web", "198.18.0.21"),
        ("db_1", "198.18.0.11"), ("db-1", "198.18.0.11"), ("gb-db-1", "198.18.0.11"), ("gb_db_1", "198.18.0.11"),
        ("lone_1", "198.18.0.15"), ("lone-1", "198.18.0.15"), ("gb-lone-1", "198.18.0.15"),
        ("gb_lone_1", "198.18.0.15"),
        ("web_1", "198.18.0.21"), ("web-1", "198.18.0.21"), ("gb-web-1", "198.18.0.21"), ("gb_web_1", "198.18.0.21"),
        ("web_2", "198.18.0.22"), ("web-2", "198.18.0.22"), ("gb-web-2", "198.18.0.22"), ("gb_web_2", "198.18.0.22"))
    # a service without links or depends_on gets the same names (Docker's DNS gives them on one host)
    lone = dict(requests[Replica("gb", "lone", 1)].extra_hosts)
    assert (lone["db"], lone["web"], lone["web-2"], lone["gb-web-2"]) == (
        "198.18.0.11", "198.18.0.21", "198.18.0.22", "198.18.0.22")
    assert "database" not in lone  # a link alias is its consumer's own
    assert (web1.name, web1.image, web1.network, web1.ip) == ("gb_web_1", "busybox", "flat", "198.18.0.21")


def test_config_hash_ignores_scale_and_placement_but_not_the_environment():
    spec = project().service("web")
    assert config_hash(spec) == config_hash(replace(spec, scale=5, placement=PlacementSpec(max_per_host=1)))
    assert config_hash(spec) != config_hash(replace(spec, environment=(("A", "1"),)))


def test_scaling_a_linked_service_changes_extra_hosts_but_not_the_consumers_hash():
    base = project()
    one = requests_for(base)
    more_db = Project(name="gb", services=tuple(replace(s, scale=2) if s.name == "db" else s
                                                for s in base.services))
    two = requests_for(more_db)
    web1 = Replica("gb", "web", 1)
    assert one[web1].config_hash == two[web1].config_hash
    assert ("db_2", "198.18.0.12") in two[web1].extra_hosts


def test_first_up_creates_everything_in_dependency_waves():
    proj = project()
    the_plan = converge(proj, requests_for(proj), [], Options())
    assert [[a.subject for a in wave] for wave in the_plan.waves] == [["db_1", "lone_1"], ["web_1", "web_2"]]
    assert all(a.kind == "create" and a.reason == "not created yet" for wave in the_plan.waves for a in wave)
    assert the_plan.removals == ()


def test_second_up_is_all_noop():
    proj = project()
    requests = requests_for(proj)
    the_plan = converge(proj, requests, observed_from(requests), Options())
    assert set(kinds(the_plan).values()) == {("noop", "up to date")}
    assert the_plan.removals == ()


def test_changed_service_only_is_recreated():
    proj = project()
    before = requests_for(proj)
    changed = project(web_env=(("DEBUG", "1"),))
    result = kinds(converge(changed, requests_for(changed), observed_from(before), Options()))
    assert result == {"db_1": ("noop", "up to date"), "lone_1": ("noop", "up to date"),
                      "web_1": ("recreate", "configuration changed"),
                      "web_2": ("recreate", "configuration changed")}


def test_force_recreate_and_no_recreate():
    proj = project()
    requests = requests_for(proj)
    observed = observed_from(requests)
    forced = kinds(converge(proj, requests, observed, Options(force_recreate=True)))
    assert set(forced.values()) == {("recreate", "--force-recreate")}
    changed = project(web_env=(("DEBUG", "1"),))
    kept = kinds(converge(changed, requests_for(changed), observed, Options(no_recreate=True)))
    assert kept["web_1"] == ("noop", "running (--no-recreate)")


def test_stopped_containers_are_started():
    proj = project()
    requests = requests_for(proj)
    observed = observed_from(requests, state="exited")
    result = kinds(converge(proj, requests, observed, Options()))
    assert result["db_1"] == ("start", "exited")
    assert kinds(converge(proj, requests, observed, Options(no_recreate=True)))["db_1"] == \
        ("start", "exited, --no-recreate")


def test_address_drift_recreates():
    proj = project()
    requests = requests_for(proj)
    observed = [replace(c, ip="198.18.0.99") if c.replica.service == "db" else c for c in observed_from(requests)]
    assert kinds(converge(proj, requests, observed, Options()))["db_1"] == \
        ("recreate", "address 198.18.0.99 differs from its reservation 198.18.0.11")


def test_scale_down_removes_the_highest_indexes_first():
    proj = project(web_scale=3)
    observed = observed_from(requests_for(proj))
    smaller = project(web_scale=1)
    the_plan = converge(smaller, requests_for(smaller), observed, Options())
    assert [(a.kind, a.subject, a.reason) for a in the_plan.removals] == [
        ("remove", "web_3", "scale 1"), ("remove", "web_2", "scale 1")]
    assert kinds(the_plan)["web_1"] == ("noop", "up to date")


def test_orphans_are_removed_only_on_request():
    proj = project()
    requests = requests_for(proj)
    orphan = ObservedContainer(host="node2", id="c-old", name="gb_old_1", replica=Replica("gb", "old", 1),
                               config_hash="x", state="running", ip="198.18.0.40")
    observed = observed_from(requests) + [orphan]
    kept = converge(proj, requests, observed, Options())
    assert kept.removals == () and kept.orphans == (orphan,)
    gone = converge(proj, requests, observed, Options(remove_orphans=True))
    assert [(a.subject, a.reason) for a in gone.removals] == [("old_1", "orphan: service old is not in the project")]


def test_a_duplicate_container_of_one_replica_is_removed():
    proj = project()
    requests = requests_for(proj)
    twin = ObservedContainer(host="node3", id="c-twin", name="gb_db_1", replica=Replica("gb", "db", 1),
                             config_hash="x", state="running", ip="198.18.0.11")
    the_plan = converge(proj, requests, observed_from(requests) + [twin], Options())
    assert [(a.subject, a.host, a.reason) for a in the_plan.removals] == [("db_1", "node3", "duplicate of db_1")]
    assert kinds(the_plan)["db_1"] == ("noop", "up to date")


def test_selected_services_bring_their_dependencies_unless_no_deps():
    proj = project()
    requests = requests_for(proj)
    assert set(kinds(converge(proj, requests, [], Options(services=("web",))))) == {"db_1", "web_1", "web_2"}
    assert set(kinds(converge(proj, requests, [], Options(services=("web",), no_deps=True)))) == {"web_1", "web_2"}


def test_unknown_selected_service_is_a_usage_error():
    with pytest.raises(UsageError) as err:
        converge(project(), {}, [], Options(services=("nosuch",)))
    assert str(err.value) == "no such service: nosuch"


def test_hosts_blocks_hold_each_services_peers():
    proj = project()
    addresses = {r: req.ip for r, req in requests_for(proj).items()}
    assert hosts_block(proj, "web", addresses) == ("# BEGIN nap-compose gb\n198.18.0.11 db_1 gb_db_1 database db\n"
                                                   "# END nap-compose gb\n")
    assert hosts_block(proj, "db", addresses) == "# BEGIN nap-compose gb\n# END nap-compose gb\n"


def test_dependency_condition_does_not_change_waves():
    proj = Project(name="gb", services=(
        ServiceSpec(name="db", image="redis"),
        ServiceSpec(name="web", image="busybox", depends_on=(Dependency("db", "service_healthy"),))))
    the_plan = converge(proj, requests_for(proj), [], Options())
    assert [[a.subject for a in w] for w in the_plan.waves] == [["db_1"], ["web_1"]]


def _made_from(observed, image_id):
    return [replace(c, image_id=image_id) for c in observed]


def test_a_container_made_from_an_older_image_id_is_recreated():
    proj = project()
    requests = requests_for(proj)
    observed = _made_from(observed_from(requests), "sha256:old")
    # web_2 runs on node3, where busybox was rebuilt; web_1 (node2) and lone_1 (node3) are compared
    # against their own host's id: lone_1 also uses busybox on node3, so it changed too.
    current = {("node1", "redis"): "sha256:old", ("node2", "busybox"): "sha256:old",
               ("node3", "busybox"): "sha256:new"}
    result = kinds(converge(proj, requests, observed, Options(), current))
    assert result == {"db_1": ("noop", "up to date"), "lone_1": ("recreate", "image changed"),
                      "web_1": ("noop", "up to date"), "web_2": ("recreate", "image changed")}


def test_a_stopped_container_made_from_an_older_image_is_recreated_not_started():
    proj = project()
    requests = requests_for(proj)
    observed = _made_from(observed_from(requests, state="exited"), "sha256:old")
    result = kinds(converge(proj, requests, observed, Options(), {("node1", "redis"): "sha256:new"}))
    assert result["db_1"] == ("recreate", "image changed")
    assert result["web_1"] == ("start", "exited")


def test_unknown_image_ids_decide_nothing():
    proj = project()
    requests = requests_for(proj)
    rebuilt = {("node1", "redis"): "sha256:new", ("node2", "busybox"): "sha256:new",
               ("node3", "busybox"): "sha256:new"}
    # the containers' ids unknown (e.g. observed by an older engine): nothing to compare
    assert set(kinds(converge(proj, requests, observed_from(requests), Options(), rebuilt)).values()) == \
        {("noop", "up to date")}
    # the hosts' current ids unknown (host did not answer, image gone): nothing to compare either
    observed = _made_from(observed_from(requests), "sha256:old")
    assert set(kinds(converge(proj, requests, observed, Options())).values()) == {("noop", "up to date")}
    assert set(kinds(converge(proj, requests, observed, Options(), {("node9", "redis"): "x"})).values()) == \
        {("noop", "up to date")}


def test_no_recreate_wins_over_a_changed_image_and_the_hash_reason_comes_first():
    proj = project()
    requests = requests_for(proj)
    observed = _made_from(observed_from(requests), "sha256:old")
    rebuilt = {("node1", "redis"): "sha256:new"}
    assert kinds(converge(proj, requests, observed, Options(no_recreate=True), rebuilt))["db_1"] == \
        ("noop", "running (--no-recreate)")
    changed = Project(name="gb", services=tuple(replace(s, environment=(("A", "1"),)) if s.name == "db" else s
                                                for s in proj.services))
    assert kinds(converge(changed, requests_for(changed), observed, Options(), rebuilt))["db_1"] == \
        ("recreate", "configuration changed")
