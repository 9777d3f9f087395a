"""`nap-compose ipam ...` in process: streams injected, a MemoryKV store, fake engines for gc."""

import io
import itertools
import json
import textwrap

import pytest

from napcompose.cli import main
from napcompose.cli.wiring import Wiring
from napcompose.errors import HostError
from napcompose.model import ObservedContainer, Replica
from tests.fakes_engine import FakeClock
from tests.fakes_kv import MemoryKV

CLUSTER = textwrap.dedent("""\
    network: {name: nap, bridge: br0, subnet: 198.18.0.0/24, router: 198.18.0.1,
              pools: ["198.18.0.100-198.18.0.109"]}
    hosts:
      - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}
      - {name: node2, address: 198.18.0.12, docker_url: "ssh://root@198.18.0.12"}
    """)


class FakeEngine:
    """The ContainerEngine port's list_containers, from a list of owners (or an error)."""

    def __init__(self, host, owners=(), error=None):
        self.host, self.owners, self.error = host, list(owners), error

    def list_containers(self, project=None):
        if self.error:
            raise HostError(self.host, self.error)
        out = []
        for owner in self.owners:
            p, s, i = owner.split("/")
            out.append(ObservedContainer(host=self.host, id=f"c-{p}-{s}-{i}", name=f"{p}_{s}_{i}",
                                         replica=Replica(p, s, int(i)), config_hash=None, state="running"))
        return out


class _Connections:
    def files(self, host):
        raise AssertionError("gc never opens files on a host")

    def close(self):
        pass


class FakeWiring(Wiring):
    def __init__(self, kv):
        self.kv, self.engines, self.opened = kv, {}, 0
        self._ids = itertools.count(1)

    def store(self, cluster):
        self.opened += 1
        return self.kv

    def connections(self, cluster, accept_new_host_keys=False):
        return _Connections()

    def engine(self, host, connections):
        return self.engines[host.name]

    def images(self, connections, reporter):
        return None  # gc never moves images

    def bridge_filter(self, cluster, connections):
        return None  # gc never filters

    def clock(self):
        return FakeClock()

    def new_id(self):
        return f"id{next(self._ids)}"


@pytest.fixture
def cli(tmp_path):
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER)
    kv = MemoryKV()
    wiring = FakeWiring(kv)

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdout=out, stderr=err, environ={}, cwd=str(tmp_path), wiring=wiring)
        return status, out.getvalue(), err.getvalue()

    run.kv, run.wiring = kv, wiring
    return run


def test_init_is_idempotent_and_a_conflicting_pool_needs_force(cli, tmp_path):
    assert cli("ipam", "init") == (0, f"address pool 198.18.0.100-198.18.0.109 (10 addresses) recorded in "
                                      f"file://{tmp_path}/nap-ipam.json\n", "")
    assert cli("ipam", "init")[1].endswith("already recorded in " f"file://{tmp_path}/nap-ipam.json; nothing to do\n")
    cli("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.109")
    (tmp_path / "nap-cluster.yml").write_text(CLUSTER.replace("198.18.0.109", "198.18.0.105"))
    stored = cli.kv.get("/nap-compose/pool")
    status, out, err = cli("ipam", "init")
    assert (status, out) == (5, "")
    assert err == ("ERROR: the store already holds a different address pool: pools: store has "
                   "198.18.0.100-198.18.0.109, cluster file has 198.18.0.100-198.18.0.105 "
                   "(run `nap-compose ipam init --force` to replace it)\n")
    assert cli.kv.get("/nap-compose/pool") == stored
    status, out, err = cli("ipam", "init", "--force")
    assert status == 0 and "replaced" in out
    assert err == "WARNING: 198.18.0.109 (shop/web/1) is outside the new pool; it stays reserved until released\n"


def test_reserve_prints_the_address_and_is_idempotent(cli):
    status, out, err = cli("ipam", "reserve", "--owner", "shop/web/1", "--host", "node1")
    assert status == 0 and err == ""
    ip = out.strip()
    assert ip.startswith("198.18.0.10")
    assert cli("ipam", "reserve", "--owner", "shop/web/1") == (0, f"{ip}\n", "")
    other = "198.18.0.100" if ip != "198.18.0.100" else "198.18.0.101"
    assert cli("ipam", "reserve", "--owner", "shop/db/1", "--ip", other) == (0, f"{other}\n", "")
    assert cli("ipam", "reserve", "--owner", "shop/x/1", "--ip", other) == (
        5, "", f"ERROR: address {other} is already reserved by shop/db/1\n")


def test_ls_table_and_json(cli):
    cli("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.101", "--host", "node1")
    cli("ipam", "reserve", "--owner", "printer", "--ip", "198.18.0.100")
    status, out, _ = cli("ipam", "ls")
    assert status == 0
    assert out == ("ADDRESS       OWNER       HOST   STATE     SINCE\n"
                   "198.18.0.100  printer     -      reserved  2027-01-15T08:00:00Z\n"
                   "198.18.0.101  shop/web/1  node1  reserved  2027-01-15T08:00:00Z\n")
    status, out, _ = cli("ipam", "ls", "--format", "json")
    data = json.loads(out)
    assert [(d["address"], d["owner"], d["host"], d["state"], d["since"]) for d in data] == [
        ("198.18.0.100", "printer", None, "reserved", "2027-01-15T08:00:00Z"),
        ("198.18.0.101", "shop/web/1", "node1", "reserved", "2027-01-15T08:00:00Z")]


@pytest.mark.parametrize("argv,status,message", [
    (["ipam", "reserve", "--owner", "bad owner"], 5,
     "invalid owner 'bad owner': use letters, digits and _.@:- in parts separated by '/', at most 200 characters "
     "(e.g. myproject/web/1)"),
    (["ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.5"], 5,
     "fixed address 198.18.0.5 for shop/web/1 cannot be reserved: it is outside the container pool "
     "198.18.0.100-198.18.0.109"),
    (["ipam", "reserve", "--owner", "shop/web/1", "--ip", "nope"], 5, "'nope' is not an IPv4 address"),
    (["ipam", "reserve", "--owner", "shop/web/1", "--host", "no host"], 5, "invalid host name 'no host'"),
    (["ipam", "reserve"], 2, "nap-compose ipam reserve: the following arguments are required: --owner"),
    (["ipam", "release"], 2, "ipam release: give the ADDRESS to release or --owner PROJECT/SERVICE/N"),
    (["ipam", "release", "198.18.0.999"], 5, "'198.18.0.999' is not an IPv4 address"),
    (["ipam", "release", "198.18.0.104"], 5, "address 198.18.0.104 is not reserved"),
    (["ipam", "release", "--owner", "shop/web/9"], 5, "shop/web/9 holds no address"),
    (["ipam", "ls", "--format", "yaml"], 2,
     "nap-compose ipam ls: argument --format: invalid choice: 'yaml' (choose from 'table', 'json')"),
])
def test_bad_input_fails_with_the_exact_message_and_reserves_nothing(cli, argv, status, message):
    assert cli(*argv) == (status, "", f"ERROR: {message}\n")
    assert cli.kv.list("/nap-compose/addresses/") == {} and cli.kv.list("/nap-compose/owners/") == {}


def test_missing_cluster_file_is_a_config_error(cli, tmp_path):
    (tmp_path / "nap-cluster.yml").unlink()
    status, out, err = cli("ipam", "ls")
    assert (status, out) == (3, "")
    assert err.startswith(f"ERROR: cluster file {tmp_path}/nap-cluster.yml not found")
    assert cli.wiring.opened == 0


def test_exhausted_pool_through_the_cli(cli):
    for i in range(10):
        assert cli("ipam", "reserve", "--owner", f"shop/web/{i}")[0] == 0
    assert cli("ipam", "reserve", "--owner", "shop/web/10") == (
        5, "", "ERROR: address pool 198.18.0.100-198.18.0.109 is exhausted: 10 addresses, 10 in use, 1 asked for\n")
    assert len(cli.kv.list("/nap-compose/owners/")) == 10


def test_release_by_address_by_owner_and_checked_against_an_owner(cli):
    cli("ipam", "reserve", "--owner", "shop/web/1", "--ip", "198.18.0.100")
    cli("ipam", "reserve", "--owner", "shop/web/2", "--ip", "198.18.0.101")
    cli("ipam", "reserve", "--owner", "shop/web/3", "--ip", "198.18.0.102")
    assert cli("ipam", "release", "198.18.0.100", "--owner", "shop/web/2") == (
        5, "", "ERROR: address 198.18.0.100 is reserved by shop/web/1, not by shop/web/2\n")
    assert cli("ipam", "release", "198.18.0.100") == (0, "released 198.18.0.100 (shop/web/1)\n", "")
    assert cli("ipam", "release", "--owner", "shop/web/2") == (0, "released 198.18.0.101 (shop/web/2)\n", "")
    assert cli("ipam", "release", "198.18.0.102", "--owner", "shop/web/3") == (
        0, "released 198.18.0.102 (shop/web/3)\n", "")
    assert cli.kv.list("/nap-compose/addresses/") == {} and cli.kv.list("/nap-compose/owners/") == {}


def test_gc_lists_leaks_keeps_unreachable_hosts_and_releases_with_yes(cli):
    for owner, ip, host in [("shop/web/1", "100", "node1"), ("shop/web/2", "101", "node1"),
                            ("shop/db/1", "102", "node2"), ("printer", "103", None)]:
        argv = ["ipam", "reserve", "--owner", owner, "--ip", f"198.18.0.{ip}"] + (["--host", host] if host else [])
        assert cli(*argv)[0] == 0
    cli.wiring.engines = {"node1": FakeEngine("node1", ["shop/web/1"]),
                          "node2": FakeEngine("node2", error="cannot connect over SSH: timed out")}
    status, out, err = cli("ipam", "gc")
    assert status == 0
    assert err == "WARNING: host node2 is unreachable (node2: cannot connect over SSH: timed out); " \
                  "its 1 allocation(s) are kept\n"
    assert out == ("ADDRESS       OWNER       HOST   STATE     SINCE\n"
                   "198.18.0.101  shop/web/2  node1  reserved  2027-01-15T08:00:00Z\n"
                   "1 leaked address(es); `nap-compose ipam gc --yes` releases them\n")
    assert len(cli.kv.list("/nap-compose/addresses/")) == 4
    status, out, err = cli("ipam", "gc", "--yes")
    assert status == 0 and out.endswith("released 198.18.0.101 (shop/web/2)\n")
    assert sorted(k.rsplit("/", 1)[1] for k in cli.kv.list("/nap-compose/addresses/")) == [
        "198.18.0.100", "198.18.0.102", "198.18.0.103"]
    assert cli("ipam", "gc") == (0, "no leaked addresses\n", err)


def test_gc_keeps_the_addresses_of_a_project_whose_lock_is_held(cli):
    # an `up` of shop holds the lock and reserved web_2's address before creating web_2
    assert cli("ipam", "reserve", "--owner", "shop/web/2", "--ip", "198.18.0.101", "--host", "node1")[0] == 0
    assert cli("ipam", "reserve", "--owner", "blog/db/1", "--ip", "198.18.0.102", "--host", "node1")[0] == 0
    cli.kv.create("/nap-compose/locks/shop", '{"token": "t"}')
    cli.wiring.engines = {"node1": FakeEngine("node1", []), "node2": FakeEngine("node2", [])}
    status, out, err = cli("ipam", "gc", "--yes")
    assert status == 0
    assert err == ("WARNING: project shop is being changed (its lock is held): its 1 address(es) without a container "
                   "are kept; run gc again once that command is done\n")
    assert out.endswith("released 198.18.0.102 (blog/db/1)\n") and "198.18.0.101" not in out
    assert sorted(k.rsplit("/", 1)[1] for k in cli.kv.list("/nap-compose/addresses/")) == ["198.18.0.101"]
