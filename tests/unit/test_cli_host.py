"""`host evict`, `host readmit` and `host ls` in process, over the in-memory store and engines."""

import pytest

from tests.unit.test_cli_lock import RecordingKV, _held_by_someone_else
from tests.unit.test_cli_project import Cli


@pytest.fixture
def cli(tmp_path):
    c = Cli(tmp_path)
    c.kv = RecordingKV(c.kv)
    c.wiring.kv = c.kv
    return c


def test_evict_records_the_host_under_the_project_lock_and_readmit_takes_it_back(cli):
    status, out, err = cli("host", "evict", "node2")
    assert (status, err) == (0, "")
    assert out == ("host node2 evicted: the next `nap-compose up` moves its replicas of shop with their addresses, "
                   "and removes its containers of the project first if it ever answers again "
                   "(`nap-compose host readmit node2` takes this back)\n")
    assert cli.kv.lock_writes[0] == "create" and cli.kv.lock_writes[-1] == "cad"
    assert list(cli.kv.list("/nap-compose/evicted/")) == ["/nap-compose/evicted/node2"]
    assert cli("host", "evict", "node2")[1] == "host node2 was already evicted\n"
    status, out, _ = cli("host", "ls")
    assert status == 0 and out.startswith("node2: evicted by ")
    assert cli("host", "readmit", "node2")[:2] == (0, "host node2 readmitted: it may run replicas again; the next "
                                                      "`nap-compose up` removes the copies it still holds of "
                                                      "replicas that moved on\n")
    assert cli("host", "readmit", "node2")[1] == "host node2 is not evicted\n"
    assert cli("host", "ls")[1] == "no host is evicted\n"


def test_an_evicted_host_gets_nothing_new(cli):
    assert cli("host", "evict", "node1")[0] == 0
    assert cli("up", "-d", "--scale", "web=4")[0] == 0
    assert {c.id.split("-")[0] for c in cli.world.all_containers()} == {"node2", "node3"}


def test_evict_of_an_unknown_host_is_a_usage_error_and_records_nothing(cli):
    status, out, err = cli("host", "evict", "node7")
    assert (status, out) == (2, "")
    assert err == "ERROR: no host 'node7' in the cluster file (hosts: node1, node2, node3)\n"
    assert cli.kv.list("") == {}


def test_evict_waits_for_or_refuses_a_held_lock(cli):
    _held_by_someone_else(cli.kv)
    status, _, err = cli("host", "evict", "node2")
    assert status == 10 and err.startswith("ERROR: project shop is locked by bob@ws2 (pid 777")
    assert cli.kv.list("/nap-compose/evicted/") == {}
