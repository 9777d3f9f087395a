"""Shipping over each lab host's SFTP session: the copy lands in the host's own /var/lib/nap-compose."""

import os

import pytest

from napcompose.adapters.ssh import HostConnections
from napcompose.model import Project, ServiceSpec
from napcompose.shipping.refs import shipped_by_service
from napcompose.shipping.copy import remove_project_files, ship_to_host

pytestmark = pytest.mark.integration


def test_a_tree_is_shipped_once_per_host_with_its_modes_and_removed_again(lab, tmp_path):
    root = tmp_path / "proj"
    (root / "conf" / "sub").mkdir(parents=True)
    (root / "conf" / "a.txt").write_text("alpha\n")
    (root / "conf" / "sub" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "conf" / "sub" / "run.sh", 0o750)
    os.symlink("a.txt", root / "conf" / "link")
    (root / "conf" / "many").mkdir()
    for i in range(40):  # enough files for the copy to spread over several SFTP sessions
        (root / "conf" / "many" / f"f{i:02d}").write_text(f"{i}\n")
    project = Project(name="shipsftp", services=(ServiceSpec(name="web", image="x",
                                                             volumes=(f"{root}/conf:/conf:ro",)),),
                      working_dir=str(root))
    (conf,) = shipped_by_service(project)["web"]
    with HostConnections(lab.cluster) as connections:
        for host in lab.cluster.hosts:
            files = connections.files(host.name)
            first = ship_to_host(host.name, files, project.name, [conf])
            assert first.sent == (conf.digest,)
            again = ship_to_host(host.name, files, project.name, [conf])
            assert (again.sent, again.present) == ((), (conf.digest,))
            # As the host sees it, in its own view.
            shown = lab.exec(host.name, "sh", "-c", f"cd {conf.host_path} && cat a.txt && readlink link && "
                                                    "stat -c '%a %U' sub/run.sh . .. ../..", check=True).stdout
            assert shown == "alpha\na.txt\n750 root\n755 root\n700 root\n700 root\n"
            many = lab.exec(host.name, "sh", "-c", f"cat {conf.host_path}/many/*", check=True).stdout
            assert many == "".join(f"{i}\n" for i in range(40))
        # Each host has its own copy: it is not on the machine's disk.
        assert not os.path.exists(conf.host_path)
        for host in lab.cluster.hosts:
            remove_project_files(connections.files(host.name), project.name)
            assert lab.exec(host.name, "ls", "/var/lib/nap-compose/shipsftp").returncode != 0


def test_a_tree_deeper_than_python_s_recursion_limit_is_removed(lab):
    # What a container can make in a read-write bind; removing it recursed once per level before.
    host = lab.cluster.hosts[0].name
    top = "/var/lib/nap-compose/shipdeep"
    depth = 1200
    lab.exec(host, "sh", "-c", f"mkdir -p {top}/files/x/$(printf 'd/%.0s' $(seq {depth})) && "
                               f"touch {top}/files/x/d/d/leaf", check=True)
    with HostConnections(lab.cluster) as connections:
        remove_project_files(connections.files(host), "shipdeep")
    assert lab.exec(host, "ls", top).returncode != 0
