"""SIGKILL nap-compose in the middle of a rolling update; the next `up -d` converges.

A 3-replica HTTP service with a healthcheck behind a link alias (test_rolling's services), updated one
replica at a time by `up -d` run as users run it (a process of its own). The run is killed inside the
second batch: the terminal shows no line when a batch starts (only when a step ends), so the kill is
paced on the line that ends batch 1 (``Updating batch 1/3 of web ... in N.Ns ... done``, after which
batch 2 begins at once) plus a seeded fraction of batch 1's own duration, which lands at different
points of batch 2 (the alias drain, keeping the old container, creating the new one, its health gate).
Then `up -d` again must exit 0 and leave the project whole:

- stop-first: every replica answers the new version at its original address; every container an
  update kept (``<name>-previous``) is exited, one of the replica's own earlier containers, shown by
  `ps` as kept for rollback, and holds no address in the IPAM (the owners are exactly the replicas');
  a further `up -d` recreates nothing; `up -d --prune-previous` removes the kept containers.
- start-first: every replica answers the new version; web_1's old copy (it passed before the kill) is
  kept, stopped, its old address held under an ``@gen`` owner, and every kept copy is accounted for
  that way; no old copy runs at an old address; `up -d --prune-previous` removes the kept copies and
  releases their addresses.

Both: no address held by two containers on any host, `ipam gc` finds nothing, the project's lock is
free, `hosts check` is clean. Each test kills ``KILLS`` updates in a row (v1 -> v2, v2 -> v3, ...).
A failure names the seed; ``NAP_ROLLKILL_SEED=<seed>`` replays the same kill points.

Kills leave a crashed holder's lock behind, so this runs on a 3-host lab of its own (``naprk``) while
the session holds the integration lock (the ``lab`` fixture).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
from collections import Counter

import pytest

from tests.integration.deploy_support import addresses_on_every_host, module_lab, DeployProject
from tests.integration.test_kill_convergence import KillRun
from tests.integration.test_rolling import services, start, version_of

pytestmark = pytest.mark.integration

LAB_NAME, LAB_SUBNET = "naprk", "198.18.47.0/24"
KILLS = 2  # killed updates per test, each at its own seeded point of batch 2
START_FIRST = {"order": "start-first"}
BATCH_1_DONE = re.compile(r"Updating batch 1/3 of web .* in (\d+(?:\.\d+)?)s \.\.\. done$")
WEB = (1, 2, 3)


@pytest.fixture(scope="module")
def rk_lab(lab):
    with module_lab(LAB_NAME, LAB_SUBNET, 3) as started:
        yield started


@pytest.fixture
def project(rk_lab, tmp_path):
    p = DeployProject(rk_lab, tmp_path, prefix="rk")
    yield p
    p.cleanup()


@pytest.fixture
def seed():
    value = int(os.environ.get("NAP_ROLLKILL_SEED") or random.SystemRandom().randrange(1 << 30))
    print(f"NAP_ROLLKILL_SEED={value}")
    return value


def kill_in_batch_2(runner: KillRun, fraction: float, *argv) -> str:
    """Start ``argv``; SIGKILL it ``fraction`` of batch 1's duration after the line that ends batch 1.
    Returns what happened and everything it printed; fails when it was not killed mid-update."""
    proc = runner.start(*argv)
    seen, took, reached = [], [], threading.Event()

    def read():
        for line in proc.stderr:
            seen.append(line)
            found = BATCH_1_DONE.search(line.rstrip("\n"))
            if found and not took:
                took.append(float(found.group(1)))
                reached.set()
        reached.set()  # it ended: nothing more to wait for

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reached.wait(240)
    delay = fraction * took[0] if took else 0.0
    time.sleep(delay)
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(30)
    printed = proc.stdout.read() + "".join(seen)
    assert took and alive, (f"seed {runner.seed}: {' '.join(argv)} was not killed inside batch 2 "
                            f"(batch 1 ended: {bool(took)}, exit {proc.returncode}):\n{printed}")
    return f"killed {delay:.2f} s ({fraction:.2f} of batch 1's {took[0]:.1f} s) into batch 2\n{printed}"


def rerun(runner: KillRun, context: str, killed: str) -> None:
    """`up -d` after the kill: exits 0, and says it took over the lock the killed run left."""
    locked = runner.lock_held()
    status, out, err = runner.run("up", "-d", "--lock-wait=120")
    assert status == 0, f"{context}: the re-run exited {status}\n{out}{err}\n--- the killed run:\n{killed}"
    if locked:
        assert "WARNING: took over the lock of project " in err, f"{context}: {err}"


def names_of(project):
    return [f"{project.name}_web_{i}" for i in WEB]


def held_before(project, history):
    """Remember where each address of the cluster network was held so far: {address: {host, ...}}."""
    for address, host, _ in addresses_on_every_host(project):
        history.setdefault(address, set()).add(host)


def check_common(runner: KillRun, project, version: str, context: str, history):
    """What both orders must leave: every replica on ``version``, each at the address its owner holds,
    no address twice, nothing for gc, the lock free, hosts files in sync. Returns ps's rows."""
    versions = [version_of(project, i) for i in WEB]
    status, out, err = project.nap("ps", "--format", "json")
    assert status == 0, f"{context}: ps exited {status}\n{out}{err}"
    rows = {row["Name"]: row for row in map(json.loads, out.splitlines())}
    if versions != [f"v{version}"] * 3:
        # An address that was on another host shortly before keeps the MAC address Docker derives from
        # it, and the bridges on the way still forward that MAC to the old host until the new
        # container sends a frame: say so when that is the case.
        moved = {n: history.get(r["IP"], set()) - {r["Host"]} for n, r in rows.items()}
        raise AssertionError(f"{context}\nversions {versions}; addresses held on other hosts earlier in "
                             f"this test: { {n: sorted(h) for n, h in moved.items() if h} }; the client's block: "
                             f"{project.block_names(project.name + '_client_1')}; ps:\n{out}")
    current = names_of(project) + [f"{project.name}_client_1"]
    assert all(rows[n]["State"] == "running" for n in current), f"{context}: {out}"
    # the replicas' own records (an ``@gen`` owner holds the address of a copy kept by start-first)
    records = {a.owner: a for a in project.allocations() if "@gen" not in a.owner}
    owners = {f"{project.name}/{rows[n]['Service']}/{rows[n]['Number']}": n for n in current}
    assert sorted(records) == sorted(owners), f"{context}: the address owners: {sorted(records)}"
    for owner, name in owners.items():
        assert project.address(name) == rows[name]["IP"] == records[owner].ip, f"{context}: {name}"
        assert (records[owner].host, records[owner].state) == (rows[name]["Host"], "bound"), \
            f"{context}: {records[owner]}"
    twice = [a for a, n in Counter(a for a, _, _ in addresses_on_every_host(project)).items() if n > 1]
    assert not twice, f"{context}: addresses held twice: {twice}"
    status, out, err = project.nap("ipam", "gc")
    assert (status, out) == (0, "no leaked addresses\n"), f"{context}: ipam gc:\n{out}{err}"
    assert not runner.lock_held(), f"{context}: the lock is still held: {runner.store.get(runner.lock_key)}"
    status, out, err = project.nap("hosts", "check")
    assert status == 0, f"{context}: hosts check exited {status}\n{out}{err}"
    return rows


def kill_and_rerun(runner: KillRun, project, version: str, fraction: float, history, update=None):
    """Write ``version``, kill its update inside batch 2, run `up -d` again and check what both orders
    must leave; (context for messages, ps rows, containers, the kept ones among them)."""
    project.write(services(version, update=update))
    held_before(project, history)
    killed = kill_in_batch_2(runner, fraction, "up", "-d")
    order = "start-first " if update else ""
    context = f"seed {runner.seed}, {order}update to v{version} {killed.splitlines()[0]}"
    print(context)
    rerun(runner, context, killed)
    context += f"\n--- the killed run:\n{killed}"
    rows = check_common(runner, project, version, context, history)
    names = names_of(project)
    containers = project.containers()
    kept = {n: c for n, (_, c) in containers.items() if n.endswith("-previous")}
    assert set(containers) - set(kept) == set(names + [f"{project.name}_client_1"]), f"{context}: {sorted(containers)}"
    # batch 1 passed before the kill, and no run finished the whole update since: web_1's old one stays
    assert f"{names[0]}-previous" in kept, f"{context}: kept: {sorted(kept)}"
    for name, container in kept.items():
        assert container.status == "exited", f"{context}: {name} is {container.status}"
        assert (rows[name]["State"], rows[name]["Note"]) == ("exited", "previous, kept for rollback"), \
            f"{context}: {rows[name]}"
    return context, rows, containers, kept


def test_stop_first_killed_in_batch_2_converges_on_the_next_up(project, seed):
    rng = random.Random(seed)
    runner = KillRun(project.lab, project, seed)
    start(project)
    names = names_of(project)
    history = {}
    before = {n: project.address(n) for n in names}
    earlier = {n: {project.containers()[n][1].id} for n in names}  # every container each replica had
    for round_ in range(KILLS):
        version = str(round_ + 2)
        context, rows, containers, kept = kill_and_rerun(runner, project, version, rng.random(), history)
        assert {n: project.address(n) for n in names} == before, context
        assert not [a for a in project.allocations() if "@gen" in a.owner], context
        for name, container in kept.items():
            replica = name[:-len("-previous")]
            assert container.id in earlier[replica], f"{context}: {name} is not one of {replica}'s earlier ones"
        for name in names:
            earlier[name].add(containers[name][1].id)
    status, out, err = project.nap("up", "-d")
    assert status == 0 and "Recreating" not in out + err, f"seed {seed}: a further up changed things:\n{out}{err}"
    ids = {n: project.containers()[n][1].id for n in names}
    project.ok("up", "-d", "--prune-previous")
    assert sorted(project.containers()) == sorted(names + [f"{project.name}_client_1"]), f"seed {seed}"
    assert {n: project.containers()[n][1].id for n in names} == ids, f"seed {seed}: pruning replaced a replica"
    check_common(runner, project, str(KILLS + 1), f"seed {seed}, after --prune-previous", history)
    assert {n: project.address(n) for n in names} == before, f"seed {seed}"


def test_start_first_killed_in_batch_2_converges_on_the_next_up(project, seed):
    rng = random.Random(seed)
    runner = KillRun(project.lab, project, seed)
    start(project)
    names = names_of(project)
    history = {}
    for round_ in range(KILLS):
        version = str(round_ + 2)
        before = {n: project.address(n) for n in names}
        context, rows, _, kept = kill_and_rerun(runner, project, version, rng.random(), history,
                                               update=START_FIRST)
        # each kept old copy holds its old address under an ``@gen`` owner, for a rollback
        stranded = {a.ip: a.owner for a in project.allocations() if "@gen" in a.owner}
        for name in kept:
            number = name[:-len("-previous")].rsplit("_", 1)[1]
            assert stranded.get(rows[name]["IP"], "").startswith(f"{project.name}/web/{number}@gen"), \
                f"{context}: {name} at {rows[name]['IP']}, kept addresses {stranded}"
        assert set(stranded) == {rows[n]["IP"] for n in kept}, f"{context}: {stranded}"
        # No old copy runs at an old address: whoever holds one now is a replica's new container.
        after = {project.address(n): n for n in names}
        holders = [(a, h, c) for a, h, c in addresses_on_every_host(project)
                   if a in before.values() and after.get(a) != c]
        assert not holders, f"{context}: old addresses still held: {holders}"
        # Replicas whose update finished before the kill moved; the others moved in the re-run.
        assert all(project.address(n) != before[n] for n in names[:1]), f"{context}: {before} -> {after}"
    project.ok("up", "-d", "--prune-previous")
    assert sorted(project.containers()) == sorted(names + [f"{project.name}_client_1"]), f"seed {seed}"
    assert not [a for a in project.allocations() if "@gen" in a.owner], f"seed {seed}: {project.allocations()}"
    check_common(runner, project, str(KILLS + 1), f"seed {seed}, after --prune-previous", history)
