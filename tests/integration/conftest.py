"""The real lab for integration tests: 3 hosts named ``naptest`` on 198.18.1.0/24, one per session.

Set NAP_TEST_LAB_DIR to keep a lab between runs: a lab running there is reused and left running,
and when none runs there one is started there and left running too (`nap-compose lab down --dir
$NAP_TEST_LAB_DIR` stops it). Without it, sessions take turns on a lock; each shares a kept test
lab if one runs, or else starts a lab in a temporary directory and tears it down at the end.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import pytest

from napcompose.cluster import load_cluster_file
from napcompose.lab import exec_argv, lab_down, lab_status, lab_up
from napcompose.lab.state import REGISTRY_DIR, read_claim

LAB_NAME = "naptest"
LAB_SUBNET = "198.18.1.0/24"
LAB_HOSTS = 3
LOCK_WAIT_S = 900
SESSION_PREFIX = "naptest-session-"  # a lab a session starts, and tears down, for itself


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.integration)


@dataclass
class Lab:
    """A running lab: its directory, cluster file and loaded Cluster, etcd, and a way into its hosts."""

    dir: str
    cluster_file: str
    cluster: Any
    etcd_url: str  # etcd://address:2379, as in the cluster file
    name: str
    subnet: str
    router: str

    @property
    def etcd_host(self) -> str:
        return self.etcd_url[len("etcd://"):].rsplit(":", 1)[0]

    @property
    def etcd_port(self) -> int:
        return int(self.etcd_url.rsplit(":", 1)[1])

    def exec(self, host_name: str, *argv: str, timeout: float = 120, check: bool = False,
             input: str = None) -> subprocess.CompletedProcess:
        """Run ``argv`` in ``host_name``'s namespace (DOCKER_HOST = that host's daemon); text output."""
        full, env = exec_argv(self.dir, host_name, argv)
        return subprocess.run(full, env=env, capture_output=True, text=True, timeout=timeout, check=check,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)


def _say(line: str) -> None:
    sys.stderr.write(f"[lab] {line}\n")


def _as_lab(directory: str) -> Lab:
    status = lab_status(directory)
    return Lab(dir=status["dir"], cluster_file=status["cluster_file"],
               cluster=load_cluster_file(status["cluster_file"]), etcd_url=status["etcd"]["url"],
               name=status["name"], subnet=status["subnet"], router=status["router"])


def _running(directory: str) -> bool:
    try:
        return bool(lab_status(directory)["healthy"])
    except Exception:  # no lab there, or an unreadable one: start a fresh one
        return False


def _partly_running(directory: str) -> bool:
    try:
        status = lab_status(directory)
    except Exception:  # no lab there any more
        return False
    return status["etcd"]["running"] or any(h["dockerd"]["running"] or h["sshd"]["running"]
                                            for h in status["hosts"])


def _shared(directory: str) -> Lab:
    """A kept lab someone else started: wait a little for it to be whole (a test may have stopped a part)."""
    deadline = time.monotonic() + 60
    while not _running(directory):
        if time.monotonic() > deadline:
            pytest.fail(f"the kept test lab in {directory} is not healthy; see `nap-compose lab status --dir "
                        f"{directory}`", pytrace=False)
        time.sleep(1)
    return _as_lab(directory)


@pytest.fixture(scope="session")
def lab():
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root: they build a lab of network namespaces, dockerd, sshd "
                    "and etcd (run `sudo make test`)", pytrace=False)
    keep = os.environ.get("NAP_TEST_LAB_DIR")
    if keep:
        keep = os.path.abspath(keep)
        if not _running(keep):
            lab_up(LAB_NAME, LAB_SUBNET, LAB_HOSTS, keep, _say)
        yield _as_lab(keep)
        return
    os.makedirs(REGISTRY_DIR, exist_ok=True)
    with open(os.path.join(REGISTRY_DIR, f"{LAB_NAME}.session.lock"), "w") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test session kept the '{LAB_NAME}' lab for {LOCK_WAIT_S} s; "
                                "set NAP_TEST_LAB_DIR to share one lab", pytrace=False)
                time.sleep(1)
        claim = read_claim(LAB_NAME)
        if claim is not None and os.path.basename(claim["dir"]).startswith(SESSION_PREFIX):
            # A session lab whose session died (we hold the lock, so its owner is gone): clean it up.
            if os.path.exists(os.path.join(claim["dir"], "state.json")):
                lab_down(claim["dir"], _say)
            shutil.rmtree(claim["dir"], ignore_errors=True)
        elif claim is not None and _partly_running(claim["dir"]):
            # Someone keeps a test lab (NAP_TEST_LAB_DIR): share it rather than fight over its name.
            yield _shared(claim["dir"])
            return
        directory = tempfile.mkdtemp(prefix=SESSION_PREFIX, dir="/tmp")
        try:
            lab_up(LAB_NAME, LAB_SUBNET, LAB_HOSTS, directory, _say)
            yield _as_lab(directory)
        finally:
            left = lab_down(directory, _say) if os.path.exists(os.path.join(directory, "state.json")) else []
            shutil.rmtree(directory, ignore_errors=True)
            if left:
                pytest.fail("lab down left: " + "; ".join(left), pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """No test may reach a daemon or an etcd through the caller's environment by accident."""
    for key in list(os.environ):
        if key in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "NAP_CLUSTER") \
                or key.startswith("ETCDCTL_"):
            monkeypatch.delenv(key, raising=False)
