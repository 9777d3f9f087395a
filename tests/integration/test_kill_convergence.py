"""SIGKILL nap-compose at random points of `up` and `down`; the next run of the same command converges.

Ten seeded runs alternate: `up -d` killed at a random point, then `up -d` again; `down` killed, then
`down` again. The kill points follow each command's own progress lines, counted in a first whole run
of it in the same lab: a random line (or the time before the first one), plus a little. After each
re-run: the project is exactly as asked (every container running, or nothing left on any host), `ipam
gc` finds nothing to collect, no address is held by two containers on any host, every running
container sees its shipped file whole, and the project's lock is free. A failure names the seed, so
`NAP_KILL_SEED=<seed>` replays the same kill points.

Kills leave a crashed holder's lock behind and disturb hosts, so this runs on a 2-host lab of its own
(``napkv``), while the session holds the integration lock (the ``lab`` fixture).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from napcompose.adapters.stores import open_store
from tests.integration.deploy_support import addresses_on_every_host, module_lab, DeployProject, sleeper

LAB_NAME, LAB_SUBNET = "napkv", "198.18.6.0/24"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNS = 10
SHIPPED = "settings of the kill test\n" * 2000  # ~50 kB: a copy cut short would show


@pytest.fixture(scope="module")
def kill_lab(lab):
    with module_lab(LAB_NAME, LAB_SUBNET, 2) as started:
        yield started


SERVICES = {
    "db": sleeper(scale=2, volumes=["./settings.txt:/settings.txt:ro"]),
    "web": sleeper(scale=3, links=["db"]),
    "front": sleeper(scale=2, links=["web:api"], depends_on=["db"]),
}
EXPECTED = {f"{{p}}_{service}_{i}" for service, spec in SERVICES.items() for i in range(1, spec["scale"] + 1)}


class KillRun:
    """Runs nap-compose as users do (a process of its own) and kills it."""

    def __init__(self, lab, project, seed):
        self.lab, self.project, self.seed = lab, project, seed
        self.env = {"NAP_CLUSTER": lab.cluster_file, "PYTHONPATH": ROOT, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self.store = open_store(lab.cluster.store)
        self.lock_key = f"{lab.cluster.store.prefix.rstrip('/')}/locks/{project.name}"

    def start(self, *argv):
        return subprocess.Popen([sys.executable, "-m", "napcompose", "-p", self.project.name, *argv],
                                cwd=str(self.project.dir), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def run(self, *argv):
        proc = self.start(*argv)
        out, err = proc.communicate(timeout=240)
        return proc.returncode, out, err

    def timed(self, *argv):
        """Run it whole: (seconds from its start to its first progress line, how many lines it printed)."""
        began = time.monotonic()
        proc = self.start(*argv)
        lines = []
        for line in proc.stderr:
            lines.append((time.monotonic() - began, line))
        out = proc.stdout.read()
        status = proc.wait(timeout=240)
        err = "".join(line for _, line in lines)
        assert status == 0 and lines, f"seed {self.seed}: {' '.join(argv)} exited {status}\n{out}{err}"
        return lines[0][0], len(lines)

    def killed(self, after_lines, jitter, *argv):
        """Start the command and SIGKILL it ``jitter`` s after its ``after_lines``-th progress line
        (after its start for 0), unless it ended first. Returns what happened and what it printed.

        Progress lines pace the kill points better than a clock on a machine whose load varies: a
        line says a step finished, so the kill lands in the step after it."""
        proc = self.start(*argv)
        seen, reached = [], threading.Event()

        def read():
            for line in proc.stderr:
                seen.append(line)
                if len(seen) >= after_lines:
                    reached.set()
            reached.set()  # it ended: nothing more to wait for

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if after_lines == 0:
            reached.set()
        reached.wait(240)
        time.sleep(jitter)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            what = f"killed {jitter:.2f} s after progress line {after_lines}"
        else:
            what = f"ended by itself ({proc.returncode}) before the kill"
        proc.wait(timeout=30)
        reader.join(30)
        return f"{what}\n{proc.stdout.read()}{''.join(seen)}"

    def lock_held(self) -> bool:
        return self.store.get(self.lock_key) is not None


def _check_common(runner, project, context):
    twice = [a for a, n in Counter(a for a, _, _ in addresses_on_every_host(project)).items() if n > 1]
    assert not twice, f"{context}: addresses held twice: {twice}"
    status, out, err = project.nap("ipam", "gc")  # in process: only the killed commands need their own
    assert (status, out) == (0, "no leaked addresses\n"), f"{context}: ipam gc:\n{out}{err}"
    assert not runner.lock_held(), f"{context}: the lock is still held: {runner.store.get(runner.lock_key)}"


def _check_up(runner, project, context):
    status, out, err = project.nap("ps", "--format", "json")
    assert status == 0, f"{context}: ps exited {status}\n{out}{err}"
    rows = {row["Name"]: row for row in map(json.loads, out.splitlines())}
    assert set(rows) == {n.format(p=project.name) for n in EXPECTED}, f"{context}: ps shows {sorted(rows)}"
    assert all(r["State"] == "running" for r in rows.values()), f"{context}: {out}"
    containers = project.containers()
    assert set(containers) == set(rows), f"{context}: on the hosts: {sorted(containers)}"
    records = {a.owner: a for a in project.allocations()}
    for name, row in rows.items():
        owner = "/".join([project.name, row["Service"], str(row["Number"])])
        assert project.address(name) == row["IP"] == records[owner].ip, f"{context}: {name}"
        assert (records[owner].host, records[owner].state) == (row["Host"], "bound"), f"{context}: {records[owner]}"
    assert len(records) == len(rows), f"{context}: addresses: {sorted(records)}"
    for name in (n for n in rows if "_db_" in n):
        code, text = project.run_in(name, "cat", "/settings.txt")
        assert (code, text) == (0, SHIPPED), f"{context}: {name} sees {text[:80]!r}... ({len(text)} chars)"
    # Every consumer's hosts file names what it links to, at the addresses they hold now.
    ip_of = {(row["Service"], row["Number"]): row["IP"] for row in rows.values()}
    for name, row in rows.items():
        if row["Service"] in ("web", "front"):
            names = project.block_names(name)
            target, alias = ("db", "db") if row["Service"] == "web" else ("web", "api")
            theirs = {f"{target}_{i}": ip for (s, i), ip in ip_of.items() if s == target}
            assert {n: names.get(n) for n in theirs} == theirs and names.get(alias) in theirs.values(), \
                f"{context}: {name}'s hosts block: {names}"
    _check_common(runner, project, context)


def _check_down(runner, project, context):
    assert project.containers() == {}, f"{context}: left: {sorted(project.containers())}"
    assert project.allocations() == [], f"{context}: addresses left: {project.allocations()}"
    _check_common(runner, project, context)


def test_a_killed_up_or_down_converges_when_run_again(kill_lab, tmp_path):
    seed = int(os.environ.get("NAP_KILL_SEED") or random.SystemRandom().randrange(1 << 30))
    rng = random.Random(seed)
    project = DeployProject(kill_lab, tmp_path, prefix="k")
    runner = KillRun(kill_lab, project, seed)
    (tmp_path / "settings.txt").write_text(SHIPPED)
    project.write(SERVICES)
    try:
        # What each command prints here: its progress lines pace the kill points (any line, or
        # before the first one, during the work that precedes it: lock, observation, reservations).
        paces = {"up": runner.timed("up", "-d")}
        _check_up(runner, project, f"seed {seed}, first up")
        paces["down"] = runner.timed("down")
        _check_down(runner, project, f"seed {seed}, first down")
        print(f"seed {seed}; up: first of {paces['up'][1]} progress lines after {paces['up'][0]:.2f} s; "
              f"down: first of {paces['down'][1]} after {paces['down'][0]:.2f} s")
        for run in range(RUNS):
            command = ("up", "-d") if run % 2 == 0 else ("down",)
            first, lines = paces[command[0]]
            after = rng.randrange(lines)
            jitter = rng.uniform(max(0.0, first - 1.5), first) if after == 0 else rng.uniform(0.0, 0.5)
            what = runner.killed(after, jitter, *command)
            context = f"seed {seed}, run {run + 1} ({' '.join(command)} {what.splitlines()[0]})"
            print(context)
            locked = runner.lock_held()
            status, out, err = runner.run(*command, "--lock-wait=120")
            assert status == 0, f"{context}: the re-run exited {status}\n{out}{err}\n--- the killed run:\n{what}"
            if locked:
                assert "WARNING: took over the lock of project " in err, f"{context}: {err}"
            (_check_up if command[0] == "up" else _check_down)(runner, project, f"{context}\n{what}")
    finally:
        project.cleanup()
