"""docker compose v2's idioms on the lab: ``up --wait`` over real healthchecks, a migration job behind
``service_completed_successfully``, and ``ps --format json`` read the way ``jq`` scripts read it."""

import json
import shutil
import subprocess

import pytest
import yaml

from tests.integration.deploy_support import DeployProject, sleeper

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="v")
    yield p
    p.cleanup()


def _write(project, services):
    """A Compose-spec file (no ``version:``), as today's projects are written."""
    (project.dir / "docker-compose.yml").write_text(yaml.safe_dump({"services": services}, sort_keys=True))


def _check(test):
    return {"test": test, "interval": "1s", "timeout": "2s", "retries": 1}


def _ps(project):
    """``ps --format json``: one JSON object per line."""
    lines = project.ok("ps", "--format", "json").splitlines()
    return {row["Service"]: row for row in map(json.loads, lines)}


def test_up_wait_returns_once_running_and_healthy(project):
    _write(project, {"api": sleeper(healthcheck=_check(["CMD", "true"])), "web": sleeper()})
    status, out, err = project.nap("up", "--wait", "--wait-timeout", "60")
    assert status == 0, err
    assert "Attaching to" not in err  # --wait implies -d
    rows = _ps(project)
    assert (rows["api"]["State"], rows["api"]["Health"]) == ("running", "healthy")
    assert (rows["web"]["State"], rows["web"]["Health"]) == ("running", "")


def test_up_wait_fails_naming_the_unhealthy_replica_and_its_host(project):
    _write(project, {"api": sleeper(healthcheck=_check(["CMD", "false"])), "web": sleeper()})
    status, out, err = project.nap("up", "--wait", "--wait-timeout", "60")
    host = project.containers()[f"{project.name}_api_1"][0]
    assert status == 8, err
    assert f"  Waiting for api_1 on {host}: api_1 is unhealthy (its healthcheck fails)\n" in err
    assert "Waiting for web_1" in err and "web_1:" not in err.split("ERROR:", 1)[1]


def _migration(code: int):
    return {
        "migrate": {"image": "nap-lab/busybox:latest", "command": ["sh", "-c", f"sleep 2; exit {code}"]},
        "web": sleeper(depends_on={"migrate": {"condition": "service_completed_successfully"}}),
    }


def test_a_migration_that_exits_0_runs_before_its_dependent(project):
    _write(project, _migration(0))
    status, out, err = project.nap("up", "-d")
    assert status == 0, err
    found = project.containers()
    job = found[f"{project.name}_migrate_1"][1].attrs["State"]
    web = found[f"{project.name}_web_1"][1].attrs["State"]
    assert (job["Status"], job["ExitCode"], web["Status"]) == ("exited", 0, "running")
    assert web["StartedAt"] > job["FinishedAt"]  # RFC 3339 times of one clock compare as text
    rows = _ps(project)
    assert (rows["migrate"]["State"], rows["migrate"]["ExitCode"]) == ("exited", 0)


def test_a_migration_that_exits_3_keeps_its_dependent_from_starting(project):
    _write(project, _migration(3))
    status, out, err = project.nap("up", "-d")
    host = project.containers()[f"{project.name}_migrate_1"][0]
    assert status == 8, err
    assert (f"  Creating migrate_1 on {host}: migrate_1 exited with code 3 (its dependents wait for "
            "service_completed_successfully)\n") in err
    assert "dependency migrate_1 failed" in err
    assert set(project.containers()) == {f"{project.name}_migrate_1"}  # web was never created
    assert _ps(project)["migrate"]["ExitCode"] == 3


def test_ps_json_reads_as_docker_compose_v2_jq_scripts_expect(project):
    _write(project, {"api": sleeper(healthcheck=_check(["CMD", "true"]), ports=["18471:80"]),
                     "job": {"image": "nap-lab/busybox:latest", "command": ["sh", "-c", "exit 2"]}})
    status, _, err = project.nap("up", "-d")
    status, _, err = project.nap("up", "--wait", "api")
    assert status == 0, err
    out = project.ok("ps", "--format", "json")
    rows = {row["Service"]: row for row in map(json.loads, out.splitlines())}
    api, job = rows["api"], rows["job"]
    host, container = project.containers()[f"{project.name}_api_1"]
    assert (api["Name"], api["ID"], api["Project"], api["Image"]) == (
        f"{project.name}_api_1", container.id, project.name, "nap-lab/busybox:latest")
    assert (api["State"], api["Health"], api["ExitCode"], api["Host"], api["IP"]) == (
        "running", "healthy", 0, host, project.address(f"{project.name}_api_1"))
    assert api["Status"].startswith("Up ") and api["Command"] == '"sleep 3600"'
    assert {"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 18471, "Protocol": "tcp"} in api["Publishers"]
    assert f"com.docker.compose.project={project.name}" in api["Labels"].split(",")
    assert api["Networks"] == project.lab.cluster.network.name and api["Generation"] == 1
    assert api["CreatedAt"].endswith(" +0000 UTC") and api["RunningFor"].endswith(" ago")
    assert (job["State"], job["ExitCode"], job["Health"]) == ("exited", 2, "")
    assert job["Status"].startswith("Exited (2)")
    if shutil.which("jq"):  # the very line a CI script runs
        ran = subprocess.run(["jq", "-r", 'select(.State == "running" and .Health == "healthy") | .Service'],
                             input=out, capture_output=True, text=True, check=True)
        assert ran.stdout.split() == ["api"]
    status, listed, _ = project.nap("ps", "--services", "--status", "exited")
    assert (status, listed.split()) == (0, ["job"])
