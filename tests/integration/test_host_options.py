"""Host options on the lab: what the compose file asks reaches the container the engine runs."""

import json

import pytest

from tests.integration.deploy_support import DeployProject, sleeper

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path)
    yield p
    p.cleanup()


def test_confinement_and_tuning_reach_the_container(lab, project):
    project.write({"app": sleeper(security_opt=["no-new-privileges:true"], pids_limit=64, group_add=["100"],
                                  oom_score_adj=100, cpu_shares=512)})
    project.ok("up", "-d")
    name = f"{project.name}_app_1"
    host, container = project.containers()[name]
    done = lab.exec(host, "docker", "inspect", name)  # the host's own docker, as an operator would look
    assert done.returncode == 0, done.stderr
    host_config = json.loads(done.stdout)[0]["HostConfig"]
    assert host_config["SecurityOpt"] == ["no-new-privileges:true"]
    assert host_config["PidsLimit"] == 64
    assert host_config["GroupAdd"] == ["100"]
    assert host_config["OomScoreAdj"] == 100
    assert host_config["CpuShares"] == 512
    # And the process inside runs with them.
    code, status = project.run_in(name, "cat", "/proc/self/status")
    assert code == 0 and "NoNewPrivs:\t1" in status, status
    code, groups = project.run_in(name, "id", "-G")
    assert code == 0 and "100" in groups.split(), groups
    code, adj = project.run_in(name, "cat", "/proc/1/oom_score_adj")
    assert code == 0 and adj.strip() == "100", adj
    # A second up sees nothing changed.
    project.ok("up", "-d")
    assert project.containers()[name][1].id == container.id
