"""run and exec: the run's planner (pure), its road through the command line over in-memory hosts,
the one-off containers' removal by up and down, and every bad option refused with nothing touched."""

import pytest

from napcompose.errors import UsageError
from napcompose.model import PortSpec, Project, Replica, ServiceSpec
from napcompose.observe.observation import Addresses, Observation
from napcompose.planner import CreateOneOff, Plan, Release, Remove, Reserve, render
from napcompose.planner.run import OneOff, RunOptions, ended_runs, one_off_of, plan_run, with_ended_runs
from napcompose.model import HostStatus, ObservedContainer
from tests.unit.test_cli_project import Cli
from tests.unit.test_orchestrator import cluster

SLUG = "ab" * 32


def _project():
    return Project("gb", (ServiceSpec("db", image="redis"),
                          ServiceSpec("web", image="busybox", environment=(("A", "1"), ("B", "2")),
                                      ports=(PortSpec(80, host_port=8080),), restart="always")))


def _observation(down=()):
    c = cluster()
    return Observation(c, "gb", hosts=tuple(HostStatus(h.name, h.name not in down, "ssh timed out"
                                                       if h.name in down else None) for h in c.hosts))


def _run(**extra):
    return RunOptions(service="web", slug=SLUG, **extra)


def test_the_plan_reserves_an_address_and_creates_the_one_off_where_the_service_goes():
    plan = plan_run(_project(), _observation(), Addresses(), _run(command=("sh",), env=(("B", "3"),)))
    reserve, create = plan.actions
    one_off = OneOff("gb", "web", 1, SLUG)
    assert isinstance(reserve, Reserve) and [e.replica for e in reserve.entries] == [one_off]
    assert one_off.owner == "gb/web/run-abababababab" and one_off.name == "gb_web_run_abababababab"
    assert one_off != Replica("gb", "web", 1)  # never the service's replica 1
    assert isinstance(create, CreateOneOff) and create.after == ("busybox@node1",) and not create.start
    spec = create.spec
    assert (spec.command, spec.environment, spec.ports, spec.restart, spec.container_name) == (
        ("sh",), (("A", "1"), ("B", "3")), (), None, "gb_web_run_abababababab")
    assert render(plan) == ["web_run_abababababab on node1 ((new)): reserve an address (one-off container)",
                            "web_run_abababababab on node1 ((new)): create the one-off container "
                            "gb_web_run_abababababab"]


def test_service_ports_only_when_asked_and_p_publishes():
    published = PortSpec(9000, host_port=9001)
    plan = plan_run(_project(), _observation(), Addresses(), _run(publish=(published,)))
    assert plan.actions[-1].spec.ports == (published,)
    plan = plan_run(_project(), _observation(), Addresses(), _run(service_ports=True, detach=True, rm=True))
    create = plan.actions[-1]
    assert create.spec.ports == (PortSpec(80, host_port=8080),) and create.start and create.rm


def test_an_entrypoint_without_a_command_drops_the_services_command():
    project = Project("gb", (ServiceSpec("web", image="busybox", command=("serve",)),))
    plan = plan_run(project, _observation(), Addresses(), _run(entrypoint=("sh", "-c")))
    assert (plan.actions[-1].spec.entrypoint, plan.actions[-1].spec.command) == (("sh", "-c"), None)


def test_host_named_or_refused_naming_the_known_ones():
    plan = plan_run(_project(), _observation(), Addresses(), _run(host="node3"))
    assert plan.actions[-1].host == "node3"
    with pytest.raises(UsageError) as bad:
        plan_run(_project(), _observation(), Addresses(), _run(host="node9"))
    assert str(bad.value) == "run --host node9: no such host in the cluster (hosts: node1, node2, node3)"
    with pytest.raises(UsageError) as down:
        plan_run(_project(), _observation(down=("node2",)), Addresses(), _run(host="node2"))
    assert str(down.value) == "run --host node2: the host did not answer (ssh timed out)"


def test_unknown_service_is_refused():
    with pytest.raises(UsageError) as bad:
        plan_run(_project(), _observation(), Addresses(), RunOptions(service="nope", slug=SLUG))
    assert str(bad.value) == "no such service: nope (services in gb: db, web)"


# ---------------------------------------------------------------------------- through the command line


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def _run_keys(cli):
    """The store's keys of one-off containers' addresses: their owners' claims and the addresses."""
    return sorted(k for k, (value, _) in cli.kv.list("").items() if "/run-" in value or "~run-" in k)


def _exits(cli, name, code):
    for engine in cli.world.engines.values():
        engine.exits_on_start[name] = code


def test_run_rm_starts_the_dependencies_returns_the_code_and_leaves_nothing(cli):
    _exits(cli, "job", 3)
    status, out, err = cli("run", "--rm", "--name", "job", "web", "echo", "hi")
    assert status == 3, err
    assert cli.names() == ["shop_db_1"]  # db started by up's road; the one-off gone
    assert _run_keys(cli) == []
    create = [c for e in cli.world.engines.values() for c in e.calls if c == ("create", "job")]
    assert len(create) == 1


def test_run_no_deps_starts_nothing_else(cli):
    _exits(cli, "job", 0)
    assert cli("run", "--rm", "--no-deps", "--name", "job", "web", "true")[0] == 0
    assert cli.names() == []


def test_run_d_prints_the_name_and_the_container_is_a_labelled_one_off(cli):
    status, out, err = cli("run", "-d", "web", "sleep", "60")
    name = out.strip()
    assert status == 0 and name.startswith("shop_web_run_") and len(name) == len("shop_web_run_") + 12, err
    labels = dict(cli.world.container(name).request.labels)
    assert labels["com.docker.compose.oneoff"] == "True" and len(labels["com.docker.compose.slug"]) == 64
    assert cli.world.container(name).state == "running"
    assert name in cli("ps", "-a")[1] and name not in cli("ps")[1]
    assert len(_run_keys(cli)) == 2  # its owner's claim and its address


def test_down_keeps_a_running_one_off_and_remove_orphans_takes_it(cli):
    cli("up", "-d")
    name = cli("run", "-d", "web", "sleep", "60")[1].strip()
    assert cli("down")[0] == 0
    assert cli.names() == [name] and len(_run_keys(cli)) == 2
    assert cli("down", "--remove-orphans")[0] == 0
    assert cli.names() == [] and _run_keys(cli) == []


def test_an_ended_run_rm_whose_operator_died_goes_with_the_next_up_and_down(cli):
    for command in (("up", "-d"), ("down",)):
        name = cli("run", "-d", "--rm", "web", "sleep", "60")[1].strip()
        cli.world.engines[cli.world.host_of(name)].exit(name, 0)  # ended; nobody removed it
        kept = cli("run", "-d", "web", "true")[1].strip()  # no --rm: stays
        cli.world.engines[cli.world.host_of(kept)].exit(kept, 0)
        status, _, err = cli(*command)
        assert status == 0, err
        assert name not in cli.names() and kept in cli.names()
        assert len(_run_keys(cli)) == 2  # only the kept one's
        cli("down", "--remove-orphans")


def test_a_one_off_beside_replica_1_on_its_host_does_not_clash_in_down(cli):
    cli("up", "-d")
    host = cli.world.host_of("shop_web_1")
    cli("run", "-d", "--host", host, "web", "sleep", "60")
    status, _, err = cli("down", "--remove-orphans")
    assert status == 0, err
    assert cli.names() == []


def test_ended_runs_are_only_those_of_run_rm_that_ended():
    c = cluster()

    def one(name, state, rm):
        labels = {"com.docker.compose.oneoff": "True", "com.docker.compose.slug": name * 8}
        if rm:
            labels["io.nap-compose.run-rm"] = "True"
        return ObservedContainer("node1", name, name, Replica("gb", "web", 1), None, state, ip="198.18.0.120",
                                 one_off=True, labels=tuple(sorted(labels.items())))

    seen = Observation(c, "gb", (one("a", "exited", True), one("b", "running", True), one("c", "exited", False)),
                       hosts=tuple(HostStatus(h.name, True) for h in c.hosts))
    assert [x.name for x in ended_runs(seen)] == ["a"]
    assert [x.name for x in ended_runs(seen, everything=True)] == ["a", "b", "c"]
    plan = with_ended_runs(Plan("gb"), seen)
    remove, release = plan.actions
    assert isinstance(remove, Remove) and remove.container.replica == one_off_of(seen.containers[0])
    assert isinstance(release, Release) and release.after == (remove.key,) and release.ip == "198.18.0.120"


# ---------------------------------------------------------------------------- exec


def test_exec_passes_env_user_workdir_and_returns_the_code(cli):
    cli("up", "-d")
    engine = cli.world.engines[cli.world.host_of("shop_web_1")]
    engine.exec_codes = {("sh", "-c", "exit 4"): 4}
    status, out, err = cli("exec", "-T", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "web", "sh", "-c", "exit 4")
    assert (status, out) == (4, "sh -c exit 4\n"), err
    assert engine.execs[-1] == ("shop_web_1", ("sh", "-c", "exit 4"))


# ---------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("argv,message", [
    (["run", "nope"], "no such service: nope (services in shop: db, web)"),
    (["run", "-e", "=x", "web"], "invalid -e '=x': expected KEY=VALUE or KEY, where KEY is a variable name"),
    (["run", "-e", "A B=1", "web"], "invalid -e 'A B=1': expected KEY=VALUE or KEY, where KEY is a variable name"),
    (["run", "-p", "80:90:100:x", "web"],
     "invalid -p '80:90:100:x': invalid port '80:90:100:x' (write e.g. '80', '8080:80', '127.0.0.1:8080:80/udp')"),
    (["run", "--host", "node9", "web"], "run --host node9: no such host in the cluster (hosts: node1, node2, node3)"),
    (["run", "-v", "./data:/data", "web"], "invalid -v './data:/data': the source must be an absolute path on the "
                                          "host or a volume name (a relative path is not shipped for run)"),
    (["run", "-v", "/a:relative", "web"], "invalid -v '/a:relative': expected SOURCE:TARGET[:MODE] with an "
                                          "absolute TARGET"),
    (["run", "--name", "a/b", "web"], "invalid --name 'a/b': use letters, digits and _.- (not first)"),
    (["exec", "-e", "1A=2", "web", "true"],
     "invalid -e '1A=2': expected KEY=VALUE or KEY, where KEY is a variable name"),
    (["exec", "--index", "0", "web", "true"], "invalid --index 0: replicas count from 1"),
    (["exec", "nope", "true"], "no such service: nope (services in shop: db, web)"),
])
def test_bad_options_are_refused_and_nothing_is_touched(cli, argv, message):
    status, out, err = cli(*argv)
    assert (status, err) == (2, f"ERROR: {message}\n")
    assert cli.untouched()


def test_ipam_gc_keeps_the_address_of_a_running_one_off():
    from napcompose.planner.gc import live_owners

    c = cluster()
    labels = (("com.docker.compose.oneoff", "True"), ("com.docker.compose.slug", SLUG))
    running = ObservedContainer("node1", "x", "gb_web_run_abababababab", Replica("gb", "web", 1), None, "running",
                                one_off=True, labels=labels)
    seen = Observation(c, "", (running,), tuple(HostStatus(h.name, True) for h in c.hosts), everything=True)
    assert "gb/web/run-abababababab" in live_owners(seen)["node1"]


def test_a_one_off_is_never_an_old_copy_of_a_replica_that_moved(cli):
    from dataclasses import replace

    cli("up", "-d")
    name = cli("run", "-d", "web", "sleep", "60")[1].strip()
    moved = cli.world.container("shop_web_1")  # as after a move off a lost host: its second copy
    labels = dict(moved.request.labels, **{"io.nap-compose.generation": "2"})
    moved.request = replace(moved.request, labels=tuple(sorted(labels.items())))
    status, out, _ = cli("plan")
    assert status == 0 and "run_" not in out and "superseded" not in out
    assert cli("up", "-d")[0] == 0 and name in cli.names()
    assert "superseded" not in cli("ps", "-a")[1]


def test_ctrl_c_stops_the_run_and_rm_still_cleans(cli):
    for engine in cli.world.engines.values():
        engine.interrupt_on_attach.add("job")
        engine.log_lines["job"] = ["hello"]
    status, out, err = cli("run", "--rm", "--no-deps", "--name", "job", "web", "sleep", "60")
    assert status == 130 and "Stopping job ..." in err
    assert [c for e in cli.world.engines.values() for c in e.calls if c[0] == "stop"] == [("stop", "job")]
    assert cli.names() == [] and _run_keys(cli) == []


def test_the_runs_output_is_ours(cli):
    for engine in cli.world.engines.values():
        engine.log_lines["job"] = ["one", "two"]
    status, out, err = cli("run", "--no-deps", "--name", "job", "web")
    assert (status, out) == (0, "one\ntwo\n"), err
    assert cli.names() == ["job"] and len(_run_keys(cli)) == 2  # without --rm it stays, with its address


def test_a_registry_image_no_host_has_is_pulled_as_the_digest_it_names_now(cli):
    image = "registry.lab:5000/team/tool:1"
    (cli.dir / "docker-compose.yml").write_text(f'services:\n  tool:\n    image: "{image}"\n')
    digest = cli.world.registry.publish(image)
    for engine in cli.world.engines.values():
        engine.retag(image, None)
        engine.exits_on_start["job"] = 0
    status, _, err = cli("run", "--rm", "--name", "job", "tool", "true")
    assert status == 0, err
    pulled = [(h, r) for h, e in cli.world.engines.items() for r, _ in e.pulled]
    assert len(pulled) == 1 and pulled[0][1] == f"registry.lab:5000/team/tool@{digest}"
    assert f"Pulling tool on {pulled[0][0]}" in err
