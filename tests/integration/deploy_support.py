"""A deploy project on the lab for one test: write its compose file, run nap-compose, look, clean up.

Each test gets its own project name; cleanup removes its containers by label on every host and
releases its addresses, whatever the test left behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from typing import Dict, Iterator, List, Tuple

import pytest

from napcompose.adapters.exec_stream import exec_output
from napcompose.adapters.ssh import HostConnections
from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.cli import main
from napcompose.cluster import load_cluster_file
from napcompose.names.hostsfile import extract_block
from napcompose.ipam import Ipam, Pool
from napcompose.lab import lab_down, lab_up


@dataclass
class OwnLab:
    """A lab a test module starts for itself (faults it injects must not reach other tests)."""

    dir: str
    cluster_file: str
    cluster: object


@contextlib.contextmanager
def module_lab(name: str, subnet: str, hosts: int) -> Iterator[OwnLab]:
    """Start a lab of ``hosts`` hosts named ``name`` on ``subnet``; tear it down, and check that
    nothing is left, however the module ended."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root (network namespaces, dockerd, sshd)", pytrace=False)
    directory = os.path.join(tempfile.mkdtemp(prefix=f"{name}-", dir="/tmp"), "lab")
    try:
        lab_up(name, subnet, hosts, directory, lambda line: None)
        cluster_file = os.path.join(directory, "nap-cluster.yml")
        yield OwnLab(directory, cluster_file, load_cluster_file(cluster_file))
    finally:
        started = os.path.exists(os.path.join(directory, "state.json"))
        left = lab_down(directory, lambda line: None) if started else []
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        assert not left, f"lab down left: {left}"


def addresses_on_every_host(project):
    """(address, host, container) of every container on the cluster network, any project, every host."""
    network = project.lab.cluster.network.name
    found = []
    for host in project.lab.cluster.hosts:
        for container in project.docker(host.name).containers.list(all=True):
            address = container.attrs["NetworkSettings"]["Networks"].get(network, {}).get("IPAddress")
            if address:
                found.append((address, host.name, container.name))
    return found


def sshd_processes(netns_inode: int) -> List[int]:
    """Every sshd process living in the network namespace ``netns_inode``: a lab host's listener and
    the process of each connection it serves (OpenSSH 9.8 and later name those ``sshd-session``)."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/comm") as fh:
                comm = fh.read().strip()
            if comm in ("sshd", "sshd-session") and os.stat(f"/proc/{entry}/ns/net").st_ino == netns_inode:
                pids.append(int(entry))
        except OSError:  # ended meanwhile
            continue
    return pids


def until(what, predicate, timeout: float = 20.0, interval: float = 0.25):
    """Poll ``what()`` until ``predicate`` holds (replication and restarts are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s; last value: {value!r}")
        time.sleep(interval)


IMAGE = "nap-lab/busybox:latest"


def exec_whole(api, container_id: str, argv, user: str = "") -> Tuple[int, str]:
    """Run ``argv`` in the container: its exit code and whole output, read as the product reads it
    (docker-py's exec_run and exec_start can lose a short output)."""
    exec_id = api.exec_create(container_id, list(argv), user=user)["Id"]
    output = bytearray()
    exec_output(api, exec_id, False, output.extend)
    return int(api.exec_inspect(exec_id).get("ExitCode") or 0), output.decode("utf-8", "replace")


def sleeper(**extra) -> Dict:
    """A service that runs forever and stops at once (busybox sleep as PID 1 ignores SIGTERM)."""
    spec = {"image": IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL"}
    spec.update(extra)
    return spec


class DeployProject:
    def __init__(self, lab, tmp_path, prefix: str = "t"):
        self.lab = lab
        self.dir = tmp_path
        self.name = f"{prefix}{uuid.uuid4().hex[:8]}"
        self.connections = HostConnections(lab.cluster)
        self.ipam = Ipam(open_store(lab.cluster.store), Pool.from_cluster(lab.cluster),
                         lab.cluster.store.prefix, SystemClock(), lambda: uuid.uuid4().hex)

    # ------------------------------------------------------------------ running

    def write(self, services: Dict, version: str = "2.4", **top) -> None:
        """The compose file; ``top`` adds top-level sections (``configs=``, ``secrets=``, ``volumes=``)."""
        import yaml

        text = yaml.safe_dump({"version": version, "services": services, **top}, sort_keys=True)
        (self.dir / "docker-compose.yml").write_text(text)

    def nap(self, *argv: str) -> Tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        self._err = err  # readable while the command runs (see last_err)
        status = main(["-p", self.name, *argv], stdout=out, stderr=err, cwd=str(self.dir),
                      environ={"NAP_CLUSTER": self.lab.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        return status, out.getvalue(), err.getvalue()

    def last_err(self) -> str:
        """What the running (or last) command has written to stderr so far."""
        err = getattr(self, "_err", None)
        return err.getvalue() if err is not None else ""

    def reconnect(self, skip: str = None) -> None:
        """Fresh connections (after a host's sshd was killed); ``skip`` a host that is still down."""
        self.connections.close()
        self.connections = HostConnections(self.lab.cluster)
        self._skip = {skip} if skip else set()

    def ok(self, *argv: str) -> str:
        status, out, err = self.nap(*argv)
        assert status == 0, f"nap-compose {' '.join(argv)} exited {status}:\n{out}\n{err}"
        return out

    # ------------------------------------------------------------------ looking

    def docker(self, host: str):
        return self.connections.docker(host)

    def containers(self) -> Dict[str, Tuple[str, object]]:
        """{container name: (host, docker-py Container)} of this project on every host."""
        found = {}
        for host in self.lab.cluster.hosts:
            if host.name in getattr(self, "_skip", ()):
                continue
            for c in self.docker(host.name).containers.list(
                    all=True, filters={"label": f"com.docker.compose.project={self.name}"}):
                found[c.name] = (host.name, c)
        return found

    def address(self, name: str) -> str:
        host, container = self.containers()[name]
        container.reload()
        return container.attrs["NetworkSettings"]["Networks"][self.lab.cluster.network.name]["IPAddress"]

    def run_in(self, name: str, *argv: str) -> Tuple[int, str]:
        host, container = self.containers()[name]
        return exec_whole(self.docker(host).api, container.id, argv)

    def etc_hosts(self, name: str) -> str:
        """/etc/hosts as the container itself reads it."""
        code, text = self.run_in(name, "cat", "/etc/hosts")
        assert code == 0, text
        return text

    def block_names(self, name: str) -> Dict[str, str]:
        """{name: address} of the managed block in the container's /etc/hosts."""
        block = extract_block(self.etc_hosts(name), self.name)
        assert block is not None, f"no managed block in {name}'s /etc/hosts"
        names = {}
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            address, *aliases = line.split()
            for alias in aliases:
                assert alias not in names, f"{alias} twice in {name}'s block"
                names[alias] = address
        return names

    def allocations(self) -> List:
        return [a for a in self.ipam.allocations() if a.owner.startswith(self.name + "/")]

    # ------------------------------------------------------------------ cleanup

    def cleanup(self) -> None:
        try:
            for _, (host, container) in self.containers().items():
                container.remove(force=True)
            for allocation in self.allocations():
                self.ipam.release_owner(allocation.owner)
        finally:
            self.connections.close()


def strip_block(text: str, project: str) -> str:
    """``text`` without the project's managed block (markers included)."""
    return re.sub(rf"# BEGIN nap-compose {re.escape(project)}\n.*?# END nap-compose {re.escape(project)}\n?",
                  "", text, flags=re.S)


def dedent(text: str) -> str:
    return textwrap.dedent(text)
