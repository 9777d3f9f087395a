"""docs/real-hosts.md followed on a bare lab (`lab up --bare`: Docker and sshd, each host's address on its
eth0, no bridge, no network): `doctor` fails every host's bridge naming the fix; the page's `ip` recipe,
run on each host as written (eno1 read as eth0, the page's addresses as the lab's), makes br0; `doctor`
passes, `network create` makes the network on the host's own bridge, and the guestbook runs across hosts.

The recipe's `systemd-run` wrappers (the scheduled way back) are left out: a lab host has no systemd of
its own, and its way back is `lab down`. The session holds the integration lock (the ``lab`` fixture).
"""

import io
import ipaddress
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from napcompose.cli import main
from napcompose.cluster import load_cluster_file
from napcompose.errors import LabError
from napcompose.lab import exec_argv, lab_down, lab_up
from tests.integration.deploy_support import DeployProject, OwnLab, exec_whole, until

pytestmark = pytest.mark.integration

NAME, SUBNET, HOSTS = "napbare", "198.18.30.0/24", 3
ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "real-hosts.md"


@pytest.fixture(scope="module")
def bare(lab):
    directory = os.path.join(tempfile.mkdtemp(prefix=f"{NAME}-", dir="/tmp"), "lab")
    try:
        lab_up(NAME, SUBNET, HOSTS, directory, lambda line: None, bare=True)
        cluster_file = os.path.join(directory, "nap-cluster.yml")
        yield OwnLab(directory, cluster_file, load_cluster_file(cluster_file))
    finally:
        left = lab_down(directory, lambda line: None) if os.path.exists(os.path.join(directory, "state.json")) \
            else []
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        assert not left, f"lab down left: {left}"


def nap(own, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, cwd="/",
                  environ={"NAP_CLUSTER": own.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return status, out.getvalue(), err.getvalue()


def on_host(own, host, *argv):
    full, env = exec_argv(own.dir, host, argv)
    return subprocess.run(full, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def ip_recipe() -> str:
    """The body of the page's `ip` recipe: the script its `systemd-run ... sh -euc '...'` runs."""
    text = GUIDE.read_text()
    section = text[text.index("### Trying it with `ip`"):]
    return re.search(r"sh -euc '\n(.*?)\n'", section, re.S).group(1)


def for_host(script: str, address: str, prefix: int, router: str) -> str:
    script = script.replace("eno1", "eth0").replace("192.168.10.11/24", f"{address}/{prefix}")
    return re.sub(r"192\.168\.10\.1\b", router, script)


def bridge_levels(report):
    return {c["subject"]: c["level"] for c in report["checks"] if c["check"] == "bridge"}


def test_the_guide_takes_bare_hosts_to_the_guestbook(bare, tmp_path):
    cluster = bare.cluster
    hosts = [h.name for h in cluster.hosts]
    status, out, _ = nap(bare, "doctor", "--format", "json")
    report = json.loads(out)
    assert status == 1
    assert bridge_levels(report) == {h: "fail" for h in hosts}
    first = next(c for c in report["checks"] if c["check"] == "bridge")
    assert first["detail"] == "no br0 on the host (it is on eth0)"
    assert "docs/real-hosts.md" in first["fix"]

    # a bare lab stays bare: `lab up` without --bare on it is refused and changes nothing
    with pytest.raises(LabError) as refused:
        lab_up(None, None, None, bare.dir, lambda line: None, bare=False)
    assert str(refused.value) == (f"the lab in {bare.dir} runs with --bare; run `nap-compose lab down --dir "
                                  f"{bare.dir}` first")
    assert on_host(bare, hosts[0], "ip", "link", "show", "dev", "br0").returncode != 0

    script = ip_recipe()
    assert "ip link set eno1 master br0" in script
    prefix = ipaddress.IPv4Network(cluster.network.subnet).prefixlen
    for host in cluster.hosts:
        done = on_host(bare, host.name, "sh", "-euc", for_host(script, host.address, prefix, cluster.network.router))
        assert done.returncode == 0, done.stderr
        shown = on_host(bare, host.name, "ip", "-br", "addr", "show", "dev", "br0").stdout
        assert f" {host.address}/{prefix} " in shown, shown
        assert "master br0" in on_host(bare, host.name, "ip", "link", "show", "dev", "eth0").stdout

    status, out, _ = nap(bare, "doctor", "--format", "json")
    report = json.loads(out)
    assert status == 0, [c for c in report["checks"] if c["level"] == "fail"]
    assert bridge_levels(report) == {h: "ok" for h in hosts}

    status, out, err = nap(bare, "network", "create")
    assert status == 0, err
    status, out, _ = nap(bare, "doctor")
    assert status == 0, out
    # Docker took the host's own bridge: the host's address and its NIC are still there
    for host in cluster.hosts:
        assert f" {host.address}/{prefix} " in on_host(bare, host.name, "ip", "-br", "addr", "show", "dev", "br0").stdout

    directory = tmp_path / "guestbook"
    shutil.copytree(ROOT / "examples" / "guestbook", directory, ignore=shutil.ignore_patterns("rootfs"))
    staged = subprocess.run([str(directory / "make-rootfs")], capture_output=True, text=True, cwd=directory)
    assert staged.returncode == 0, staged.stderr
    book = DeployProject(bare, directory, prefix="gbbare")
    try:
        book.ok("build")
        book.ok("up", "-d")
        rows = {json.loads(line)["Service"]: json.loads(line) for line in book.ok("ps", "--format", "json").splitlines()}
        assert len({row["Host"] for row in rows.values()}) == 3, rows
        _, master = book.containers()[f"{book.name}_redis-master_1"]
        web = rows["web"]["IP"]
        for query, answer in (("cmd=set&key=messages&value=hello", '{"message": "Updated"}'),
                              ("cmd=get&key=messages", '{"data": "hello"}')):  # the read goes to redis-slave
            url = f"http://{web}/guestbook?{query}"
            until(lambda: exec_whole(master.client.api, master.id, ["timeout", "10", "wget", "-q", "-O", "-", url]),
                  lambda reply: answer in reply[1])
        status, _, err = book.nap("down", "-t", "2")
        assert status == 0, err
    finally:
        book.cleanup()
