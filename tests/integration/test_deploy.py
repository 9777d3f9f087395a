"""Deploys on the lab: links across hosts, scale, convergence, drift repair, down. Real containers."""

import json

import pytest

from tests.integration.deploy_support import IMAGE, DeployProject, sleeper, strip_block

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path)
    yield p
    p.cleanup()


def _chain(project, web_scale=None):
    services = {"db": sleeper(), "web": sleeper(links=["db:database"])}
    project.write(services)
    args = ["up", "-d"] + (["--scale", f"web={web_scale}"] if web_scale else [])
    return project.ok(*args)


def _docker_lines(text):
    """Lines Docker itself writes: loopback/ip6 names, the container's own name, ExtraHosts."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_links_cross_hosts_and_resolve_inside_containers(project):
    _chain(project, web_scale=2)
    containers = project.containers()
    assert sorted(containers) == sorted(f"{project.name}_{s}" for s in ("db_1", "web_1", "web_2"))
    hosts = {name: host for name, (host, _) in containers.items()}
    db, web1, web2 = (f"{project.name}_{s}" for s in ("db_1", "web_1", "web_2"))
    assert len(set(hosts.values())) == 3, f"spread placement should use three hosts: {hosts}"
    db_ip = project.address(db)
    expected = {"database": db_ip, "db": db_ip, "db_1": db_ip, f"{project.name}_db_1": db_ip}
    for web in (web1, web2):
        assert project.block_names(web) == expected
        code, output = project.run_in(web, "ping", "-c", "1", "-W", "3", "database")
        assert code == 0, output
        assert f"({db_ip})" in output or db_ip in output
        # Outside the block only Docker's own lines: localhost, ip6 names, the container, and the
        # ExtraHosts nap-compose gave at create time: every replica of the project by its names.
        outside = _docker_lines(strip_block(project.etc_hosts(web), project.name))
        peers = {project.address(name) for name in (db, web1, web2)}
        for line in outside:
            address = line.split()[0]
            assert address in {"127.0.0.1", "::1", "fe00::0", "ff00::0", "ff02::1", "ff02::2"} | peers, line
    # Labels let plain docker find the containers per host.
    host, container = containers[web2]
    labels = container.labels
    assert labels["com.docker.compose.project"] == project.name
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "2"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["io.nap-compose.host"] == host
    assert labels["io.nap-compose.address"] == project.address(web2)
    # Only the cluster network: no default bridge, nothing else.
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [project.lab.cluster.network.name]
    allocations = {a.owner: a for a in project.allocations()}
    assert allocations[f"{project.name}/web/2"].ip == project.address(web2)
    assert allocations[f"{project.name}/web/2"].state == "bound"


def test_second_up_is_a_no_op(project):
    _chain(project)
    before = {name: c.id for name, (_, c) in project.containers().items()}
    project.ok("up", "-d")
    assert {name: c.id for name, (_, c) in project.containers().items()} == before


def test_scale_up_and_down_rewrites_every_consumer(project):
    _chain(project, web_scale=2)
    webs = [f"{project.name}_web_1", f"{project.name}_web_2"]
    ids = {name: c.id for name, (_, c) in project.containers().items()}
    project.ok("scale", "db=3")
    for web in webs:
        names = project.block_names(web)
        for index in (1, 2, 3):
            assert names[f"db_{index}"] == project.address(f"{project.name}_db_{index}")
        assert names["database"] == project.address(f"{project.name}_db_1")
        code, output = project.run_in(web, "ping", "-c", "1", "-W", "3", "db_3")
        assert code == 0, output
    after = {name: c.id for name, (_, c) in project.containers().items()}
    assert all(after[name] == ids[name] for name in ids), "scale must not recreate anything"
    project.ok("scale", "db=1")
    assert sorted(project.containers()) == sorted([f"{project.name}_db_1"] + webs)
    for web in webs:
        assert set(project.block_names(web)) == {"database", "db", "db_1", f"{project.name}_db_1"}
    assert sorted(a.owner for a in project.allocations()) == sorted(
        [f"{project.name}/db/1", f"{project.name}/web/1", f"{project.name}/web/2"])


def test_changing_one_service_recreates_only_it_and_keeps_its_address(project):
    _chain(project)
    web = f"{project.name}_web_1"
    before = {name: c.id for name, (_, c) in project.containers().items()}
    web_ip = project.address(web)
    project.write({"db": sleeper(), "web": sleeper(links=["db:database"], environment={"COLOR": "blue"})})
    project.ok("up", "-d")
    after = {name: c.id for name, (_, c) in project.containers().items()}
    assert after[f"{project.name}_db_1"] == before[f"{project.name}_db_1"]
    assert after[web] != before[web]
    assert project.address(web) == web_ip
    assert project.run_in(web, "sh", "-c", "echo $COLOR")[1].strip() == "blue"
    assert "database" in project.block_names(web)


def test_docker_restart_drift_is_found_and_repaired(project):
    _chain(project)
    web = f"{project.name}_web_1"
    host, container = project.containers()[web]
    container.restart(timeout=1)
    # Docker rebuilt the file: our block is gone, but the peers' own names are still there as
    # ExtraHosts; the link alias, which follows the replicas' health, comes back with the block.
    assert f"# BEGIN nap-compose {project.name}" not in project.etc_hosts(web)
    assert project.run_in(web, "ping", "-c", "1", "-W", "3", "db_1")[0] == 0
    status, out, err = project.nap("hosts", "check")
    assert status == 1, err
    assert out.splitlines()[0].startswith(f"{web} on {host}: ")
    assert "1 hosts file(s) differ" in err
    project.ok("hosts", "sync")
    assert project.nap("hosts", "check")[0] == 0
    assert project.run_in(web, "ping", "-c", "1", "-W", "3", "database")[0] == 0
    assert project.block_names(web)["database"] == project.address(f"{project.name}_db_1")


def test_ps_shows_host_and_address(project):
    _chain(project)
    rows = [json.loads(line) for line in project.ok("ps", "--format", "json").splitlines()]
    containers = project.containers()
    assert sorted(r["Name"] for r in rows) == sorted(containers)
    for row in rows:
        host, container = containers[row["Name"]]
        assert (row["Host"], row["ID"], row["IP"], row["State"]) == (
            host, container.id, project.address(row["Name"]), "running")
    table = project.ok("ps").splitlines()
    assert table[0].split() == ["NAME", "SERVICE", "HOST", "IP", "STATE", "PORTS"]


def test_down_leaves_no_container_and_no_allocation(project):
    _chain(project, web_scale=2)
    assert len(project.allocations()) == 3
    project.ok("down", "-t", "1")
    assert project.containers() == {}
    assert project.allocations() == []


def test_usage_error_on_the_lab_creates_nothing(project):
    project.write({"web": sleeper()})
    status, _, err = project.nap("scale", "web=x")
    assert status == 2 and "invalid number of replicas for web: 'x'" in err
    assert project.containers() == {} and project.allocations() == []


def test_missing_image_fails_before_anything_is_created(project):
    project.write({"db": sleeper(), "web": sleeper(image="nap-lab/nothing-here:1")})
    status, _, err = project.nap("up", "-d")
    assert status == 3, err
    assert "service web: image nap-lab/nothing-here:1 is missing on" in err
    assert project.containers() == {} and project.allocations() == []


def test_logs_and_exec_reach_containers_on_every_host(project):
    project.write({"db": sleeper(command=["sh", "-c", "echo db says hi; exec sleep 3600"]),
                   "web": sleeper(command=["sh", "-c", "echo web says hi; exec sleep 3600"],
                                  links=["db:database"])})
    project.ok("up", "-d", "--scale", "web=2")
    hosts = {name: host for name, (host, _) in project.containers().items()}
    lines = project.ok("logs", "--tail", "5").splitlines()
    assert sorted(lines) == sorted([
        f"db_1@{hosts[project.name + '_db_1']} | db says hi",
        f"web_1@{hosts[project.name + '_web_1']} | web says hi",
        f"web_2@{hosts[project.name + '_web_2']} | web says hi"])
    status, out, err = project.nap("exec", "-T", "--index", "2", "web", "sh", "-c", "hostname -i; exit 4")
    assert status == 4, err
    assert out.strip() == project.address(f"{project.name}_web_2")


def test_up_attached_follows_every_host_and_ctrl_c_stops_the_project(project, lab):
    import signal
    import subprocess
    import sys
    import time

    ticker = ["sh", "-c", "while true; do echo tick; sleep 0.5; done"]
    project.write({"db": sleeper(command=ticker, init=True),
                   "web": sleeper(command=ticker, init=True, links=["db"])})
    env = {"NAP_CLUSTER": lab.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "napcompose", "-p", project.name, "up"], cwd=project.dir,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = set()
        deadline = time.monotonic() + 90
        while len(seen) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.endswith("| tick\n"):
                seen.add(line.split("@", 1)[0])
        assert seen == {"db_1", "web_1"}
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Gracefully stopping... (press Ctrl+C again to force)" in err
    states = {name: c.status for name, (_, c) in project.containers().items()}
    assert states == {f"{project.name}_db_1": "exited", f"{project.name}_web_1": "exited"}


def test_an_image_on_one_host_only_is_copied_to_the_placed_hosts(project, lab):
    tag = f"nap-lab/{project.name}:1"
    first = lab.cluster.hosts[0].name
    project.docker(first).images.get(IMAGE).tag(tag)
    try:
        project.write({"a": sleeper(image=tag, scale=3)})
        status, _, err = project.nap("up", "-d")
        assert status == 0, err
        hosts = sorted({host for host, _ in project.containers().values()})
        assert len(hosts) == 3
        for host in hosts:
            if host != first:
                assert f"Copying a {tag} from {first} to {host} ... done" in err
            assert project.docker(host).images.get(tag).id == project.docker(first).images.get(tag).id
    finally:
        project.cleanup()
        project.reconnect()
        for host in lab.cluster.hosts:
            try:
                project.docker(host.name).images.remove(tag)
            except Exception:  # not there: nothing to clean
                pass
