"""Named volumes live on one host: a replica goes back to the host holding its data, and says so."""

import json

import pytest

from napcompose.errors import PlacementError
from napcompose.model import PlacementSpec
from napcompose.placement.place import place
from tests.unit.test_cli_project import Cli
from tests.unit.test_placement import H3, hosts, proj, running, svc, where


def db(scale=1, **kw):
    return svc("db", scale=scale, volumes=("data:/var/lib/data", "./conf:/conf", "/srv:/srv", "/tmp/anon"), **kw)


def test_named_volumes_are_the_sources_that_are_not_paths():
    assert db().named_volumes == ("data",)
    assert svc("x", volumes=("a:/a", "b:/b:ro", "a:/c", "/h:/h", "~/x:/x", "/anon")).named_volumes == ("a", "b")


def test_a_new_replica_goes_back_to_the_host_holding_its_volume_whatever_the_strategy():
    # Spread alone would pick node1 (fewest containers); the data is on node3.
    assert where(place(proj(db()), H3, [], volumes=[("node3", "data")])) == {"db_1": "node3"}
    assert where(place(proj(db()), H3, [])) == {"db_1": "node1"}
    binpack = proj(db(), strategy="binpack")
    busy = [running("node1", "x", i, project="q") for i in (1, 2, 3)]
    assert where(place(binpack, H3, busy, volumes=[("node2", "data")])) == {"db_1": "node2"}


def test_each_holder_gets_one_replica_and_the_rest_are_placed_freely():
    result = place(proj(db(scale=3)), H3, [], volumes=[("node2", "data"), ("node3", "data")])
    assert where(result) == {"db_1": "node2", "db_2": "node3", "db_3": "node1"}


def test_a_replica_that_runs_keeps_its_host_and_its_holder_is_not_given_a_second_one():
    observed = [running("node1", "db", 1)]
    result = place(proj(db(scale=2)), H3, observed, volumes=[("node1", "data"), ("node3", "data")])
    assert where(result) == {"db_1": "node1", "db_2": "node3"}


def test_another_services_volume_does_not_pin():
    assert where(place(proj(db()), H3, [], volumes=[("node3", "other")])) == {"db_1": "node1"}


def test_a_holder_that_does_not_answer_is_an_error_never_a_move():
    with pytest.raises(PlacementError) as err:
        place(proj(db()), hosts("node1", "node2"), [], volumes=[("node3", "data")])
    assert str(err.value) == ("cannot place db_1: its named volume(s) data are on node3, which is not reachable; "
                              "a volume's data never moves to another host")


def test_a_holder_a_constraint_now_excludes_is_an_error_naming_it():
    pinned = db(placement=PlacementSpec(constraints=("node.hostname!=node3",)))
    with pytest.raises(PlacementError) as err:
        place(proj(pinned), H3, [], volumes=[("node3", "data")])
    assert str(err.value) == ("cannot place db_1: its named volume(s) data are on node3, but constraint "
                              "node.hostname!=node3 excludes node3")


# zdb is placed after web (name order): on the first up it lands on the third host; once web is
# gone, spread alone would put it on node1.
COMPOSE = """\
services:
  zdb:
    image: nap-lab/busybox:latest
    volumes: ["data:/var/lib/data"]
  web:
    image: nap-lab/busybox:latest
    scale: 2
volumes:
  data: {}
"""


def test_after_down_the_next_up_puts_the_replica_back_where_its_volume_is(tmp_path):
    cli = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    assert cli("up", "-d")[0] == 0
    first = cli.world.host_of("shop_zdb_1")
    assert first == "node3"
    assert sorted(h for h, e in cli.world.engines.items() if e.volumes) == [first]
    rows = [json.loads(line) for line in cli("ps", "--format", "json")[1].splitlines()]
    assert {r["Name"]: (r["Host"], r["Mounts"].split(",")) for r in rows if r["Mounts"]} == {
        "shop_zdb_1": (first, ["shop_data"])}
    status, out, err = cli("plan")
    assert f"volume shop_data on {first}: used by zdb_1 (its data is there)" in out.splitlines()
    assert cli("down")[0] == 0
    assert cli.world.all_containers() == []
    (tmp_path / "docker-compose.yml").write_text(COMPOSE.replace("scale: 2", "scale: 0"))
    status, out, err = cli("plan")
    assert status == 0, err
    assert f"zdb_1 on {first} ((new)): create (not created yet)" in out.splitlines()
    assert f"volume shop_data on {first}: used by zdb_1 (its data is there)" in out.splitlines()
    assert cli("up", "-d")[0] == 0
    assert cli.world.host_of("shop_zdb_1") == first
    # Without the volume (removed by hand), the strategy decides again.
    assert cli("down")[0] == 0
    cli.world.engines[first].volumes.clear()
    assert cli("up", "-d")[0] == 0
    assert cli.world.host_of("shop_zdb_1") == "node1"


def test_a_first_plan_says_where_each_volume_will_be_made(tmp_path):
    cli = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    status, out, err = cli("plan")
    assert status == 0, err
    assert "volume shop_data on node3: used by zdb_1 (made there when the container is created)" in out.splitlines()
