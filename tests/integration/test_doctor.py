"""``nap-compose doctor`` on the real lab: every check passes; with a host cut off the switch and another's
bridge at a smaller MTU, it fails naming both hosts and their fixes; once repaired it passes again."""

import io
import json
import subprocess
import sys

import pytest

from napcompose.cli import main

pytestmark = pytest.mark.integration

HOST_CHECKS_OK = ("ssh", "docker", "docker-route", "bridge", "mtu", "bridge-netfilter", "clock", "state-dir",
                  "programs")


def doctor(lab, *words):
    out, err = io.StringIO(), io.StringIO()
    status = main(["--cluster", lab.cluster_file, "doctor", *words], stdout=out, stderr=err, cwd="/",
                  environ={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return status, out.getvalue(), err.getvalue()


def lab_command(lab, *words):
    done = subprocess.run([sys.executable, "-m", "napcompose", "lab", *words, "--dir", lab.dir],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def levels(report):
    return {(c["subject"], c["check"]): c["level"] for c in report["checks"]}


def assert_all_pass(lab):
    status, out, err = doctor(lab, "--format", "json")
    report = json.loads(out)
    assert (status, err) == (0, ""), [c for c in report["checks"] if c["level"] == "fail"]
    found = levels(report)
    hosts = [h.name for h in lab.cluster.hosts]
    assert {found[(h, check)] for h in hosts for check in HOST_CHECKS_OK} == {"ok"}
    assert found[("store", "store")] == "ok" and found[("store", "pool")] == "ok"
    assert report["ok"] is True and report["counts"]["fail"] == 0


def test_every_check_passes_on_the_lab(lab):
    assert_all_pass(lab)


def test_a_cut_off_host_and_a_wrong_mtu_are_named_with_their_fixes(lab):
    first, second, third = (h.name for h in lab.cluster.hosts[:3])
    try:
        lab.exec(second, "ip", "link", "set", "br0", "mtu", "1400", check=True)
        lab_command(lab, "partition", third)
        status, out, err = doctor(lab)
        assert (status, err) == (1, "")
        failed = [line for line in out.splitlines() if "  FAIL  " in line]
        assert len(failed) == 2, out
        assert failed[0].startswith(f"{second}  mtu ")
        assert "br0 has MTU 1400, network.mtu is 1500 | fix: `ip link set br0 mtu 1500`" in failed[0]
        assert failed[1].startswith(f"{third}  ssh ")
        address = lab.cluster.host(third).address
        assert f"SSH connection to root@{address}:22: no answer within 1 s (ssh.connect_timeout)" in failed[1]
        assert "fix: check that the host is up and sshd listens: `ssh -i " in failed[1]
        skipped = {line.split()[1] for line in out.splitlines() if line.startswith(f"{third} ") and " SKIP " in line}
        assert set(HOST_CHECKS_OK[1:]) <= skipped
        assert [line.split()[2] for line in out.splitlines() if line.startswith(f"{first} ")
                and line.split()[1] in HOST_CHECKS_OK] == ["OK"] * len(HOST_CHECKS_OK)
        assert ", 2 failure(s), " in out.splitlines()[-1]
    finally:
        lab_command(lab, "heal", third)
        lab.exec(second, "ip", "link", "set", "br0", "mtu", "1500", check=True)
    assert_all_pass(lab)
