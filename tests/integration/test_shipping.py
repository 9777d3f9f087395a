"""Project files on hosts that cannot see the operator's disk: bind sources are shipped over SFTP."""

import json
import os

import pytest

from tests.integration.deploy_support import DeployProject, sleeper

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path)
    yield p
    p.cleanup()


def _host_files(lab, project_name):
    """Every path under /var/lib/nap-compose/<project> on every lab host, as each host sees it."""
    found = {}
    for host in lab.cluster.hosts:
        out = lab.exec(host.name, "sh", "-c", f"find /var/lib/nap-compose/{project_name} 2>/dev/null; true").stdout
        found[host.name] = out.split()
    return found


SECRET = "db-Secret-5e1f"


def _write(project):
    project.write({
        "web": sleeper(scale=3, volumes=["./greeting.txt:/greeting.txt:ro", "./site:/site"],
                       configs=["app_conf"],
                       secrets=["db_pass", {"source": "db_pass", "target": "/etc/db.pass", "uid": "1000",
                                            "gid": "1001", "mode": 0o440}]),
        "plain": sleeper(volumes=["./other.txt:/other.txt"]),
    }, version="3.8", configs={"app_conf": {"file": "./app.conf"}},
        secrets={"db_pass": {"file": "./secrets/db_pass.txt"}})


def test_files_and_trees_reach_every_host_and_edits_recreate_only_their_consumers(project, lab):
    (project.dir / "greeting.txt").write_text("hello from the operator\n")
    os.chmod(project.dir / "greeting.txt", 0o640)
    (project.dir / "site" / "cgi").mkdir(parents=True)
    (project.dir / "site" / "index.html").write_text("<h1>site</h1>\n")
    (project.dir / "site" / "cgi" / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(project.dir / "site" / "cgi" / "run.sh", 0o750)
    os.symlink("index.html", project.dir / "site" / "home.html")
    (project.dir / "other.txt").write_text("other\n")
    (project.dir / "app.conf").write_text("mode=fast\n")
    (project.dir / "secrets").mkdir()
    (project.dir / "secrets" / "db_pass.txt").write_text(SECRET + "\n")
    os.chmod(project.dir / "secrets" / "db_pass.txt", 0o600)
    _write(project)
    plan = project.ok("plan")
    assert "web: secret db_pass (" in plan and SECRET not in plan
    assert "./greeting.txt -> /greeting.txt: shipped (file, 1 file(s)" in plan
    assert "./site -> /site: shipped (dir, 2 file(s)" in plan
    for host in lab.cluster.hosts:  # one ShipFiles action per host that runs a consumer
        assert f"files on {host.name}: ship what is missing of " in plan
    assert SECRET not in project.ok("up", "-d") + project.last_err()
    webs = {n: h for n, (h, _) in project.containers().items() if "_web_" in n}
    assert sorted(webs.values()) == sorted(h.name for h in lab.cluster.hosts)
    for name in webs:
        code, out = project.run_in(name, "sh", "-c", "cat /greeting.txt /site/index.html /site/home.html && "
                                                     "stat -c '%a %n' /greeting.txt /site/cgi/run.sh && "
                                                     "readlink /site/home.html && /site/cgi/run.sh")
        assert code == 0, out
        assert out == ("hello from the operator\n<h1>site</h1>\n<h1>site</h1>\n640 /greeting.txt\n"
                       "750 /site/cgi/run.sh\nindex.html\nrun\n")
        # The config and the secret, with the mode and owner asked (defaults 0444 and 0400, root).
        code, out = project.run_in(name, "sh", "-c", "cat /app_conf /run/secrets/db_pass /etc/db.pass && "
                                                     "stat -c '%a %u:%g %n' /app_conf /run/secrets/db_pass "
                                                     "/etc/db.pass && (echo x > /run/secrets/db_pass) 2>&1; true")
        assert code == 0, out
        assert out.startswith(f"mode=fast\n{SECRET}\n{SECRET}\n444 0:0 /app_conf\n400 0:0 /run/secrets/db_pass\n"
                              "440 1000:1001 /etc/db.pass\n"), out
        assert "Read-only file system" in out  # bound read-only
        labels = json.dumps(project.docker(webs[name]).containers.get(name).labels)
        assert SECRET not in labels
    # The host copies: under root's 0700 directories, each with the mode and owner its containers see.
    for host in lab.cluster.hosts:
        out = lab.exec(host.name, "sh", "-c", f"stat -c '%a %u:%g %n' /var/lib/nap-compose/{project.name} "
                                              f"/var/lib/nap-compose/{project.name}/files "
                                              f"/var/lib/nap-compose/{project.name}/files/*/secret").stdout
        lines = sorted(line.split(" /")[0] for line in out.splitlines())
        assert lines == ["400 0:0", "440 1000:1001", "700 0:0", "700 0:0"], out
    ids = {n: c.id for n, (_, c) in project.containers().items()}
    addresses = {n: project.address(n) for n in ids}
    # An unchanged project: nothing recreated.
    project.ok("up", "-d")
    assert {n: c.id for n, (_, c) in project.containers().items()} == ids
    # One file edited: only its consumers are recreated, at their addresses.
    old_copies = _host_files(lab, project.name)
    (project.dir / "other.txt").write_text("other, edited\n")
    project.ok("up", "-d")
    after = {n: c.id for n, (_, c) in project.containers().items()}
    changed = sorted(n for n in ids if after[n] != ids[n])
    assert changed == [f"{project.name}_plain_1"]
    assert {n: project.address(n) for n in after} == addresses
    assert project.run_in(f"{project.name}_plain_1", "cat", "/other.txt") == (0, "other, edited\n")
    # The older copy of other.txt stays on its host until down, beside the new one.
    plain_host = project.containers()[f"{project.name}_plain_1"][0]
    assert set(old_copies[plain_host]) < set(_host_files(lab, project.name)[plain_host])
    # Another project's files on the same hosts.
    neighbour = f"/var/lib/nap-compose/{project.name}x/files/keep"
    for host in lab.cluster.hosts:
        lab.exec(host.name, "sh", "-c", f"mkdir -p {neighbour} && echo kept > {neighbour}/f", check=True)
    try:
        # down: no file of the project left on any host, old digests included; the neighbour's stay.
        project.ok("down")
        assert _host_files(lab, project.name) == {h.name: [] for h in lab.cluster.hosts}
        for host in lab.cluster.hosts:
            assert lab.exec(host.name, "cat", f"{neighbour}/f").stdout == "kept\n"
    finally:
        for host in lab.cluster.hosts:
            lab.exec(host.name, "rm", "-rf", f"/var/lib/nap-compose/{project.name}x")


def test_a_missing_secret_file_is_refused_with_nothing_created(project, lab):
    project.write({"web": sleeper(secrets=["db_pass"])}, version="3.8",
                  secrets={"db_pass": {"file": "./db_pass.txt"}})
    status, out, err = project.nap("up", "-d")
    assert status == 3
    assert err.strip() == (f"ERROR: docker-compose.yml:2: service 'web': secret 'db_pass': file "
                           f"{project.dir}/db_pass.txt does not exist on this machine (nap-compose ships it from "
                           "the project directory and never creates it)")
    assert project.containers() == {} and project.allocations() == []
    assert _host_files(lab, project.name) == {h.name: [] for h in lab.cluster.hosts}


def test_a_symlink_out_and_a_missing_source_are_refused_with_nothing_created(project, lab, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("not for the hosts\n")
    (project.dir / "site").mkdir()
    os.symlink(str(outside), project.dir / "site" / "leak.txt")
    project.write({"web": sleeper(volumes=["./site:/site"])})
    status, out, err = project.nap("up", "-d")
    assert status == 3, err
    assert err.strip() == (f"ERROR: service 'web': bind source {project.dir}/site holds a symlink leak.txt -> "
                           f"{outside} that points outside the project directory {project.dir}; nap-compose "
                           "never follows it")
    os.unlink(project.dir / "site" / "leak.txt")
    project.write({"web": sleeper(volumes=["./nginx.conf:/etc/nginx.conf:ro"])})
    status, out, err = project.nap("up", "-d")
    assert status == 3
    assert err.strip() == (f"ERROR: service 'web': bind source {project.dir}/nginx.conf does not exist on this "
                           "machine (nap-compose ships it from the project directory and never creates it)")
    assert not (project.dir / "nginx.conf").exists()
    assert project.containers() == {} and project.allocations() == []
    assert _host_files(lab, project.name) == {h.name: [] for h in lab.cluster.hosts}
