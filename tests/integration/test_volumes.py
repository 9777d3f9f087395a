"""Named volumes on the lab: a replica removed by down comes back on the host that holds its data."""

import json

import pytest

from tests.integration.deploy_support import DeployProject, sleeper

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path)
    yield p
    try:
        p.cleanup()
    finally:
        for host in lab.cluster.hosts:
            lab.exec(host.name, "docker", "volume", "rm", "-f", f"{p.name}_data")


def test_a_replica_goes_back_to_the_host_holding_its_volume(project, lab):
    volume = f"{project.name}_data"  # the key "data", as Docker names it: prefixed with the project's name
    project.write({"zdb": sleeper(volumes=["data:/data"])}, volumes={"data": {}})
    project.ok("up", "-d")
    name = f"{project.name}_zdb_1"
    holder = project.containers()[name][0]
    assert project.run_in(name, "sh", "-c", "echo kept > /data/f") == (0, "")
    rows = [json.loads(line) for line in project.ok("ps", "--format", "json").splitlines()]
    assert [(r["Name"], r["Host"], r["Mounts"].split(",")) for r in rows] == [(name, holder, [volume])]
    project.ok("down")
    assert project.containers() == {}
    # A replica of another service now sits on the holder: spread alone would pick another host.
    project.write({"zdb": sleeper(volumes=["data:/data"]),
                   "web": sleeper(**{"x-nap": {"hosts": [holder]}})}, volumes={"data": {}})
    plan = project.ok("plan")
    assert f"volume {volume} on {holder}: used by zdb_1 (its data is there)" in plan.splitlines()
    project.ok("up", "-d")
    assert project.containers()[name][0] == holder
    assert project.run_in(name, "cat", "/data/f") == (0, "kept\n")
    project.ok("down")
