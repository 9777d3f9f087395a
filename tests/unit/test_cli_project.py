"""The deploy commands run in process over in-memory engines, files and store."""

import io
import itertools
import json
import textwrap

import pytest

from napcompose.cli import main
from napcompose.cli.wiring import Wiring
from tests.fakes_engine import FakeClock, FakeWorld
from tests.fakes_kv import MemoryKV

HOSTS = ("node1", "node2", "node3")

CLUSTER = textwrap.dedent("""\
    network: {name: nap, bridge: br0, subnet: 198.18.0.0/24, router: 198.18.0.1,
              pools: ["198.18.0.100-198.18.0.249"], resolver: false}
    ssh: {user: root}
    hosts:
      - {name: node1, address: 198.18.0.11, docker_url: "ssh://root@198.18.0.11"}
      - {name: node2, address: 198.18.0.12, docker_url: "ssh://root@198.18.0.12"}
      - {name: node3, address: 198.18.0.13, docker_url: "ssh://root@198.18.0.13"}
    """)

COMPOSE = textwrap.dedent("""\
    version: "2.4"
    services:
      db:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
      web:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
        links: ["db:database"]
    """)


class _Connections:
    def __init__(self, world):
        self.world = world
        self.closed = False

    def files(self, host):
        return self.world.files(host)

    def close(self):
        self.closed = True


class _Wiring(Wiring):
    def __init__(self, world, kv):
        self.world = world
        self.kv = kv
        self.opened = []
        self._ids = itertools.count(1)

    def store(self, cluster):
        return self.kv

    def connections(self, cluster, accept_new_host_keys=False):
        connections = _Connections(self.world)
        self.opened.append(connections)
        return connections

    def engine(self, host, connections):
        return self.world.engines[host.name]

    def images(self, connections, reporter):
        return self.world.images

    def bridge_filter(self, cluster, connections):
        return self.world.bridge

    def clock(self):
        return FakeClock()

    def new_id(self):
        return f"id{next(self._ids)}"


class Cli:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        (tmp_path / "nap-cluster.yml").write_text(CLUSTER)
        (tmp_path / "docker-compose.yml").write_text(COMPOSE)
        self.world = FakeWorld(HOSTS)
        self.kv = MemoryKV()
        self.wiring = _Wiring(self.world, self.kv)

    def __call__(self, *argv, stdin=""):
        out, err = io.StringIO(), io.StringIO()
        status = main(["-p", "shop", *argv], stdout=out, stderr=err, environ={}, cwd=str(self.dir),
                      wiring=self.wiring, stdin=io.StringIO(stdin))
        return status, out.getvalue(), err.getvalue()

    def untouched(self):
        """Nothing created, nothing reserved, no engine even asked to change anything."""
        changing = {"create", "start", "stop", "remove"}
        calls = [c for e in self.world.engines.values() for c in e.calls if c[0] in changing]
        return not self.world.all_containers() and not self.kv.list("") and not calls

    def names(self):
        return sorted(c.request.name for c in self.world.all_containers())


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


# ---------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("argv,message", [
    (["scale", "web"], "invalid scale argument 'web': expected SERVICE=NUM, e.g. web=3"),
    (["scale", "web=-1"], "invalid number of replicas for web: '-1' (expected a whole number, 0 or more)"),
    (["scale", "web=x"], "invalid number of replicas for web: 'x' (expected a whole number, 0 or more)"),
    (["scale", "=3"], "invalid scale argument '=3': expected SERVICE=NUM, e.g. web=3"),
    (["scale", "db=2", "nope=2"], "no such service: nope (services in shop: db, web)"),
    (["up", "-d", "--scale", "web=x"],
     "invalid number of replicas for web: 'x' (expected a whole number, 0 or more)"),
    (["up", "-d", "nope"], "no such service: nope (services in shop: db, web)"),
    (["up", "-d", "--force-recreate", "--no-recreate"], "--force-recreate and --no-recreate cannot be combined"),
    (["up", "-d", "-t", "soon"], "invalid timeout 'soon': expected a whole number of seconds"),
    (["stop", "nope"], "no such service: nope (services in shop: db, web)"),
    (["logs", "--tail", "many"], "invalid timeout 'many': expected a whole number of seconds"),
    (["exec", "nope", "true"], "no such service: nope (services in shop: db, web)"),
    (["exec", "--index", "0", "web", "true"], "invalid --index 0: replicas count from 1"),
    (["exec", "web"], "exec: missing the command to run in the container"),
])
def test_usage_errors_exit_2_and_change_nothing(cli, argv, message):
    status, out, err = cli(*argv)
    assert (status, err) == (2, f"ERROR: {message}\n")
    assert cli.untouched()


def test_scale_without_arguments_is_a_usage_error(cli):
    status, _, err = cli("scale")
    assert status == 2
    assert "the following arguments are required: SERVICE=NUM" in err
    assert cli.untouched()


def test_usage_error_after_a_deploy_changes_nothing(cli):
    assert cli("up", "-d")[0] == 0
    before = (cli.names(), cli.kv.list(""))
    status, _, err = cli("scale", "web=3", "db=x")
    assert status == 2 and "invalid number of replicas for db: 'x'" in err
    assert (cli.names(), cli.kv.list("")) == before


# ---------------------------------------------------------------------------- up, ps, scale, down


def test_up_creates_links_and_reports_each_container(cli):
    status, _, err = cli("up", "-d")
    assert status == 0, err
    assert cli.names() == ["shop_db_1", "shop_web_1"]
    assert "Creating db_1 on " in err and " ... done" in err
    web = cli.world.container("shop_web_1")
    db = cli.world.container("shop_db_1")
    hosts_text = web.inode.data.decode()
    assert "# BEGIN nap-compose shop" in hosts_text
    assert f"{db.request.ip}\t" in hosts_text and "database" in hosts_text


def test_second_up_changes_nothing(cli):
    cli("up", "-d")
    ids = sorted(c.id for c in cli.world.all_containers())
    status, _, _ = cli("up", "-d")
    assert status == 0
    assert sorted(c.id for c in cli.world.all_containers()) == ids


def test_ps_table_and_json(cli):
    cli("up", "-d", "--scale", "web=2")
    status, out, _ = cli("ps")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SERVICE", "HOST", "IP", "STATE", "PORTS"]
    assert [line.split()[0] for line in lines[1:]] == ["shop_db_1", "shop_web_1", "shop_web_2"]
    rows = [json.loads(line) for line in cli("ps", "--format", "json")[1].splitlines()]
    web2 = next(r for r in rows if r["Name"] == "shop_web_2")
    container = cli.world.container("shop_web_2")
    assert (web2["Service"], web2["Host"], web2["IP"], web2["State"], web2["ID"], web2["Number"],
            web2["Generation"]) == ("web", cli.world.host_of("shop_web_2"), container.request.ip, "running",
                                    container.id, 2, 1)
    assert cli("ps", "-q")[1].split() == [r["ID"] for r in rows]
    assert cli("ps", "--services")[1].split() == ["db", "web"]


def test_ps_with_an_unreachable_host_lists_the_others_and_exits_partial(cli):
    cli("up", "-d", "--scale", "web=2")
    down_host = cli.world.host_of("shop_web_2")
    cli.world.engines[down_host].unreachable = "connection refused"
    status, out, err = cli("ps")
    assert status == 8
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == {"shop_db_1", "shop_web_1", "shop_web_2"}
    assert rows["shop_web_2"].split(None, 4)[1:] == [
        "web", down_host, cli.world.container("shop_web_2").request.ip,
        "unknown (cannot connect to the Docker engine: connection refused)"]
    assert rows["shop_db_1"].split()[4] == "running"
    assert err == ("ERROR: ps: 1 of 3 hosts did not answer; the listing is partial\n"
                   f"  {down_host}: cannot connect to the Docker engine: connection refused\n")


def test_scale_rewrites_consumers_without_recreating_them(cli):
    cli("up", "-d")
    web_id = cli.world.container("shop_web_1").id
    assert cli("scale", "db=3")[0] == 0
    text = cli.world.container("shop_web_1").inode.data.decode()
    assert "db_3" in text and cli.world.container("shop_web_1").id == web_id
    assert cli("scale", "db=1")[0] == 0
    assert "db_3" not in cli.world.container("shop_web_1").inode.data.decode()
    assert cli.names() == ["shop_db_1", "shop_web_1"]


def test_failures_are_reported_together_and_a_rerun_converges(cli):
    cli.world.engines["node1"].unreachable = "ssh: connection refused"
    cli.world.engines["node2"].unreachable = "ssh: connection refused"
    cli.world.engines["node3"].fail("create", "shop_db_1", "no space left on device")
    status, _, err = cli("up", "-d")
    assert status == 8
    assert "no space left on device" in err
    cli.world.engines["node1"].unreachable = None
    cli.world.engines["node2"].unreachable = None
    cli.world.engines["node3"].failures.clear()
    status, _, err = cli("up", "-d")
    assert status == 0, err
    assert cli.names() == ["shop_db_1", "shop_web_1"]


def test_plan_touches_nothing(cli):
    status, out, err = cli("plan")
    assert status == 0, err
    assert "db_1" in out and "web_1" in out and "create" in out
    assert cli.untouched()
    assert cli("up", "--dry-run")[0] == 0
    assert cli.untouched()


def test_down_removes_everything_and_releases_addresses(cli):
    cli("up", "-d", "--scale", "web=2")
    status, _, err = cli("down")
    assert status == 0, err
    assert cli.world.all_containers() == []
    assert not [k for k in cli.kv.list("") if "/addresses/" in k]


def test_hosts_check_reports_drift_and_sync_repairs(cli):
    cli("up", "-d")
    web = cli.world.container("shop_web_1")
    cli.world.engines[cli.world.host_of("shop_web_1")].start_container(web.id)  # Docker rewrites the file
    status, out, err = cli("hosts", "check")
    assert status == 1
    assert out.splitlines() == [f"shop_web_1 on {cli.world.host_of('shop_web_1')}: managed block missing "
                                "(Docker rewrites the file when a container starts)"]
    assert err == "ERROR: 1 hosts file(s) differ from the plan; `nap-compose hosts sync` rewrites them\n"
    assert cli("hosts", "sync")[0] == 0
    status, out, _ = cli("hosts", "check")
    assert status == 0 and out == "all hosts files of shop are in sync\n"


def test_connections_are_closed_after_each_command(cli):
    cli("ps")
    assert cli.wiring.opened and all(c.closed for c in cli.wiring.opened)


def _states(cli):
    return {c.request.name: c.state for c in cli.world.all_containers()}


def test_stop_start_restart(cli):
    cli("up", "-d")
    status, _, err = cli("stop", "-t", "1", "web")
    assert status == 0 and "Stopping web_1 on " in err
    assert _states(cli) == {"shop_db_1": "running", "shop_web_1": "exited"}
    assert cli("start")[0] == 0
    assert _states(cli) == {"shop_db_1": "running", "shop_web_1": "running"}
    status, _, err = cli("restart", "db")
    assert status == 0 and "Restarting db_1 on " in err
    assert "database" in cli.world.container("shop_web_1").inode.data.decode()


def test_rm_asks_first_and_removes_only_stopped_containers(cli):
    cli("up", "-d")
    cli("stop", "web")
    status, _, err = cli("rm", stdin="n\n")
    assert status == 0 and "Going to remove shop_web_1" in err
    assert cli.names() == ["shop_db_1", "shop_web_1"]
    status, _, err = cli("rm", "-f")
    assert status == 0 and cli.names() == ["shop_db_1"]
    assert cli("rm", "-f", "-s")[0] == 0
    assert cli.names() == []


def test_logs_and_exec_need_a_container(cli):
    status, _, err = cli("exec", "web", "true")
    assert (status, err) == (1, "ERROR: no container found for shop_web_1\n")
    cli("up", "-d")
    cli("stop", "web")
    status, _, err = cli("exec", "web", "true")
    host = cli.world.host_of("shop_web_1")
    assert (status, err) == (1, f"ERROR: shop_web_1 on {host} is not running (state: exited)\n")


def test_a_failed_container_skips_its_dependents_and_says_why(cli):
    cli.world.engines["node1"].fail("create", "shop_db_1", "disk full")
    cli.world.engines["node2"].fail("create", "shop_db_1", "disk full")
    cli.world.engines["node3"].fail("create", "shop_db_1", "disk full")
    status, _, err = cli("up", "-d")
    assert status == 8
    lines = err.splitlines()
    db_host = lines[-2].split()[3].rstrip(":")
    web_host = lines[-1].split()[3].rstrip(":")
    assert lines[-3:] == ["ERROR: up: 2 of 8 steps failed",  # 6 more: the bridge filters, twice on 3 hosts
                          f"  Creating db_1 on {db_host}: create shop_db_1: disk full",
                          f"  Creating web_1 on {web_host}: dependency db_1 failed"]
    assert [line for line in lines if "skipped" in line] == [
        f"Creating web_1 on {web_host} (dependency db_1 failed) ... skipped"]
    assert cli.world.all_containers() == []


def test_ps_opens_the_store_only_for_a_host_that_did_not_answer(cli):
    from napcompose.errors import StoreError

    cli("up", "-d", "--scale", "web=2")
    opened = []

    def failing_store(cluster):
        opened.append(cluster)
        raise StoreError("cannot reach etcd at 198.18.0.254:2379: connection refused")

    cli.wiring.store = failing_store
    status, out, err = cli("ps")
    assert (status, err, opened) == (0, "", [])
    assert len(out.splitlines()) == 4
    down_host = cli.world.host_of("shop_web_2")
    cli.world.engines[down_host].unreachable = "connection refused"
    status, out, err = cli("ps")
    assert status == 8 and len(opened) == 1
    assert err.startswith("WARNING: could not read the address store: cannot reach etcd at "
                          "198.18.0.254:2379: connection refused\nERROR: ps: 1 of 3 hosts did not answer")


def test_up_opens_the_store_first_and_fails_as_before_when_it_is_unreachable(cli):
    from napcompose.errors import StoreError

    def failing_store(cluster):
        raise StoreError("cannot reach etcd at 198.18.0.254:2379: connection refused")

    cli.wiring.store = failing_store
    status, _, err = cli("up", "-d")
    assert (status, err) == (4, "ERROR: cannot reach etcd at 198.18.0.254:2379: connection refused\n")
    assert cli.untouched()


def test_hosts_check_with_a_resolver_reports_a_stale_names_file_and_a_resolver_that_is_down(cli):
    from types import SimpleNamespace

    from napcompose.cluster import parse_cluster
    from napcompose.clustermodel import FoundResolver
    from napcompose.network.resolver import config_digest
    from tests.fakes_network import FakeNetworks

    text = CLUSTER.replace("resolver: false}", "resolver: true}")
    (cli.dir / "nap-cluster.yml").write_text(text)
    cluster = parse_cluster(text, "nap-cluster.yml")
    networks = FakeNetworks()
    networks.resolvers = {h.name: FoundResolver(h.name, True, "running", config_digest(cluster.network.resolver, h, "d1"))
                          for h in cluster.hosts if h.name != "node2"}
    cli.wiring.resolver_image = lambda: SimpleNamespace(digest="d1")
    cli.wiring.networks = lambda cluster, connections, built=None: networks
    assert cli("up", "-d")[0] == 0
    tree = cli.world.files("node3").tree
    [db] = [p for p in tree if p.endswith("/node3/shop@db.hosts")]
    del tree[db]
    status, out, err = cli("hosts", "check")
    assert status == 1
    assert out.splitlines() == [
        "names resolver on node2: down: no nap-compose-resolver container (`nap-compose network create` repairs it)",
        "names of shop for the resolver on node3: 1 file(s) missing, 0 stale"]
    assert err == ("ERROR: 0 hosts file(s) and 1 names file(s) differ from the plan; `nap-compose hosts sync` "
                   "rewrites them; 1 names resolver(s) not running as the cluster file asks; `nap-compose network "
                   "create` repairs them\n")
