"""Names follow every change on the lab: consumers look `api` up without pause while it is scaled, updated
batch by batch and loses a host, and no answer is wrong or empty.

The shared lab runs a resolver on every host (the cluster file's default). Two consumers (on node1 and
node2, no links, no depends_on) each run a busybox loop of `getent ahostsv4 api` (glibc: Docker's
embedded resolver, then their host's dnsmasq), stamping every lookup with /proc/uptime before and
after, and writing one line per lookup to a file read at the end; the test does not run a command per
lookup. Meanwhile `api` (on node2 and node3) goes 1 -> 3 replicas, through a rolling update (stop-first,
one at a time, same addresses), through the loss of node3 (`lab partition`, then `up` moves its
replicas to node2 at new addresses; healed in a finally) and back to 1.

What counts, per lookup made between its two stamps [b, e]:

- NXDOMAIN: no address. `api` has a running replica at every instant of the run (never fewer than one,
  and at most one down at a time in the update), so every empty answer is a failure.
- A wrong answer: an address listed that served at no instant of [b, e]. An address serves while a
  container of `api` runs there: from its container's `start` event to its `die` event (both read
  from each host's `docker events`, wall-clock times). Two allowances, both by design: a replica
  created at a new address is listed at its reserved address ahead of its start, from the moment the
  command that creates it began; and a replica on the lost host, which runs on unseen, serves until
  its replacement starts on another host (the window while nap-compose cannot know it is lost), not
  after. A replica recreated at its own address in the update gets no allowance: between its old
  container's death and its new one's start it must not be listed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Dict, List, Tuple

import pytest

from tests.integration.deploy_support import DeployProject, until
from tests.integration.names_support import GETENT_IMAGE, put_getent_image

pytestmark = pytest.mark.integration

LOOKUPS = 1000  # at least, per consumer
CONSUMERS = ("probe1", "probe2")
# read the stamps with the shell's own `read` (no fork): the loop is one getent per lookup
LOOP = ('while [ ! -e /tmp/stop ]; do read b _ < /proc/uptime; '
        'r=$(getent ahostsv4 api | while read a _; do printf "%s," "$a"; done); '
        'read e _ < /proc/uptime; echo "$b $e $r" >> /tmp/lookups; done; touch /tmp/done; '
        'exec sleep 3600')


def _fault(lab, verb: str, host: str) -> None:
    done = subprocess.run([sys.executable, "-m", "napcompose", "lab", verb, host, "--dir", lab.dir],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _api_containers(lab, project) -> Dict[str, Tuple[str, str, str]]:
    """{container id: (host, name, address)} of api's containers, every host, through each host's own
    socket (a partition does not cut it)."""
    found = {}
    for host in lab.cluster.hosts:
        ids = lab.exec(host.name, "docker", "ps", "-aq", "--filter",
                       f"label=com.docker.compose.project={project.name}",
                       "--filter", "label=com.docker.compose.service=api").stdout.split()
        if not ids:
            continue
        listing = lab.exec(host.name, "docker", "inspect", *ids)
        assert listing.returncode == 0, listing.stderr
        for c in json.loads(listing.stdout):
            networks = c["NetworkSettings"]["Networks"] or {}
            address = (networks.get(lab.cluster.network.name) or {}).get("IPAddress")
            if address:  # a container not running has none: it was seen at an earlier look
                found[c["Id"]] = (host.name, c["Name"].lstrip("/"), address)
    return found


def _events(lab, project, since: float, until_: float) -> List[Tuple[float, str, str]]:
    """(wall time, start|die, container id) of api's containers, every host."""
    found = []
    for host in lab.cluster.hosts:
        done = lab.exec(host.name, "docker", "events", "--since", f"{since:.3f}", "--until", f"{until_:.3f}",
                        "--filter", f"label=com.docker.compose.project={project.name}",
                        "--filter", "label=com.docker.compose.service=api",
                        "--filter", "event=start", "--filter", "event=die",
                        "--format", "{{.TimeNano}} {{.Status}} {{.ID}}")
        assert done.returncode == 0, done.stderr
        for line in done.stdout.splitlines():
            nano, status, cid = line.split()
            found.append((int(nano) / 1e9, status, cid))
    return sorted(found)


def _serving(containers, events, steps, end: float) -> Dict[str, List[Tuple[float, float]]]:
    """{address: [(from, to)]} when each address may be listed (see the module's docstring)."""
    runs: List[Tuple[str, str, str, float, float]] = []  # (id, host, name, start, end)
    for cid, (host, name, address) in containers.items():
        starts = [t for t, status, c in events if c == cid and status == "start"]
        dies = [t for t, status, c in events if c == cid and status == "die"]
        for begun in starts:
            ended = min([d for d in dies if d >= begun], default=end)
            runs.append((cid, host, name, begun, ended))
    intervals: Dict[str, List[Tuple[float, float]]] = {}
    seen_first = {}
    for cid, host, name, begun, ended in sorted(runs, key=lambda r: r[3]):
        address = containers[cid][2]
        # a lost host's copy serves until its replacement (same replica name, another host) starts
        later = [b for c, h, n, b, _ in runs if n == name and h != host and b > begun]
        if later:
            ended = min(ended, min(later))
        if address not in seen_first:  # a new address: listed ahead of its start by the step creating it
            seen_first[address] = cid
            step = [b0 for b0, e0 in steps if b0 <= begun <= e0]
            begun = min([begun] + step)
        intervals.setdefault(address, []).append((begun, ended))
    return intervals


def test_lookups_during_scale_a_rolling_update_and_a_host_loss_are_never_wrong_or_empty(lab, tmp_path):
    assert lab.cluster.network.resolver is not None, "the lab's cluster file turned the resolver off"
    node1, node2, node3 = [h.name for h in lab.cluster.hosts]
    project = DeployProject(lab, tmp_path, prefix="nf")
    put_getent_image(project)
    # wall clock = boot clock + offset (the consumers stamp with /proc/uptime, the same kernel's)
    offset = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)

    def services(version: str, scale: int) -> dict:
        api = {"image": GETENT_IMAGE, "command": ["sleep", "3600"], "stop_signal": "SIGKILL", "scale": scale,
               "environment": {"V": version},
               "deploy": {"update_config": {"monitor": "1s"},
                          "placement": {"constraints": [f"node.hostname!={node1}"]}}}
        probes = {name: {"image": GETENT_IMAGE, "stop_signal": "SIGKILL", "command": ["sh", "-c", LOOP.replace("$", "$$")],
                         "x-nap": {"hosts": [host]}} for name, host in zip(CONSUMERS, (node1, node2))}
        return {"api": api, **probes}

    steps: List[Tuple[float, float]] = []
    seen: Dict[str, Tuple[str, str, str]] = {}

    def step(*argv, status=0):
        seen.update(_api_containers(lab, project))
        begun = time.time()
        code, out, err = project.nap(*argv)
        steps.append((begun, time.time()))
        assert code == status, f"nap-compose {' '.join(argv)} exited {code}:\n{out}\n{err}"
        seen.update(_api_containers(lab, project))

    started = time.time()
    lost_partitioned = False
    try:
        project.write(services("1", 1))
        step("up", "-d")
        probes = [f"{project.name}_{name}_1" for name in CONSUMERS]
        for probe in probes:  # each consumer is looking api up
            until(lambda: project.run_in(probe, "sh", "-c", "wc -l < /tmp/lookups")[1].strip(),
                  lambda n: n.isdigit() and int(n) > 10, timeout=20)

        step("scale", "api=3")
        time.sleep(1)
        on_host = {h for h, _, _ in _api_containers(lab, project).values()}
        assert on_host == {node2, node3}, on_host  # the loss of node3 leaves a replica running on node2

        project.write(services("2", 3))
        step("up", "-d")  # a rolling update: one replica of three at a time, each at its own address
        time.sleep(2)

        _fault(lab, "partition", node3)
        lost_partitioned = True
        step("up", "-d", status=8)  # node3 is reported lost; its replicas move to node2, new addresses
        time.sleep(1)
    finally:
        if lost_partitioned:
            _fault(lab, "heal", node3)
    try:
        step("up", "-d")  # the copies node3 kept go
        step("scale", "api=1")
        time.sleep(1)
        counts = {}
        for probe in probes:
            project.run_in(probe, "touch", "/tmp/stop")
        for probe in probes:
            until(lambda: project.run_in(probe, "ls", "/tmp/done")[0], lambda code: code == 0, timeout=10)
        ended = time.time()
        events = _events(lab, project, started - 1, ended)
        serving = _serving(seen, events, steps, ended + 1)
        empty, wrong, answered = [], [], set()
        for probe in probes:
            _, text = project.run_in(probe, "cat", "/tmp/lookups")
            lines = [line.split(" ", 2) for line in text.splitlines()]
            counts[probe] = len(lines)
            for fields in lines:
                b, e = float(fields[0]) + offset - 0.01, float(fields[1]) + offset + 0.01
                answer = {a for a in (fields[2] if len(fields) > 2 else "").split(",") if a}
                answered |= answer
                if not answer:
                    empty.append((probe, b))
                for address in answer:
                    if not any(f <= e and b <= t for f, t in serving.get(address, ())):
                        wrong.append((probe, round(b - started, 2), address))
        print(f"lookups {counts}; {len(steps)} commands in {ended - started:.1f} s; "
              f"{len(empty)} empty, {len(wrong)} wrong")
        assert all(n >= LOOKUPS for n in counts.values()), counts
        assert empty == [], f"{len(empty)} lookups answered no address: {empty[:5]}"
        assert wrong == [], f"{len(wrong)} lookups listed an address that did not serve: {wrong[:10]}"
        # the answers followed the changes: every replica the loss moved was answered at its new address
        lost = {n: a for h, n, a in seen.values() if h == node3}
        moved = {a for h, n, a in seen.values() if h == node2 and n in lost and a != lost[n]}
        assert lost and len(moved) == len(lost), seen
        assert moved <= answered, (moved, answered)
    finally:
        project.nap("down", "-t", "0")
        project.cleanup()
