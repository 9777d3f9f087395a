"""A docker-compose project of the same name on a host is not ours: never counted, never removed.

docker-compose labels its containers ``com.docker.compose.project=<name>`` as nap-compose does; only
nap-compose's own labels (``io.nap-compose.*``) make a container one of the cluster's replicas.
"""

import pytest

from tests.integration.deploy_support import IMAGE, DeployProject, sleeper

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="tforeign")
    yield p
    p.cleanup()


def test_a_docker_compose_project_of_the_same_name_is_left_alone(project):
    host = project.lab.cluster.hosts[1].name
    foreign = project.docker(host).containers.run(
        IMAGE, ["sleep", "3600"], detach=True, name=f"{project.name}-local-web-1",
        labels={"com.docker.compose.project": project.name, "com.docker.compose.service": "web",
                "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"})
    try:
        project.write({"web": sleeper()})
        project.ok("up", "-d")
        out = project.ok("ps")
        assert f"{project.name}-local-web-1" not in out, out
        assert len([line for line in out.splitlines() if "web" in line]) == 1, out
        project.ok("down")
        foreign.reload()
        assert foreign.status == "running"
        assert [name for name in project.containers()] == [f"{project.name}-local-web-1"]
    finally:
        foreign.remove(force=True)
