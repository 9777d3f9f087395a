"""Host blocks on the lab: containers started by any client without an address get cluster-unique ones.

Containers started by hand (`docker run --net nap`, docker-compose 1.29.2) get addresses of their
host's block only; nap-compose's replicas keep their pool addresses; `network check` finds the
duplicate a person can still make with `--ip`.
"""

import io
import ipaddress
import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.cli import main
from napcompose.ipam.hostblocks import HostBlocks
from tests.integration.deploy_support import IMAGE, DeployProject, sleeper

pytestmark = pytest.mark.integration
PER_HOST = 15


def nap(lab, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, cwd="/",
                  environ={"NAP_CLUSTER": lab.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return status, out.getvalue(), err.getvalue()


def blocks(lab):
    store = open_store(lab.cluster.store)
    try:
        return {h: b.cidr for h, b in HostBlocks(store, lab.cluster.store.prefix, SystemClock()).by_host().items()}
    finally:
        if hasattr(store, "close"):
            store.close()


def run_plain(lab, host, label, *extra):
    """`docker run -d --net nap` on ``host`` as any user would; returns the container id."""
    done = lab.exec(host, "docker", "run", "-d", "--net", lab.cluster.network.name, "--label", label,
                    "--stop-signal", "SIGKILL", *extra, IMAGE, "sleep", "600")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def address_of(lab, host, container):
    done = lab.exec(host, "docker", "inspect", "-f",
                    "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % lab.cluster.network.name, container)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def remove_labelled(lab, label):
    for host in lab.cluster.hosts:
        ids = lab.exec(host.name, "docker", "ps", "-aq", "--filter", f"label={label}").stdout.split()
        if ids:
            lab.exec(host.name, "docker", "rm", "-f", *ids)


def forbidden(lab):
    """Addresses no container may get: router, hosts, operator (reserved) and every pool address."""
    net = lab.cluster.network
    out = {net.router} | {h.address for h in lab.cluster.hosts} | set(net.reserved)
    for text in net.pools:
        first, last = (ipaddress.IPv4Address(p) for p in text.split("-"))
        out |= {str(ipaddress.IPv4Address(v)) for v in range(int(first), int(last) + 1)}
    return out


@pytest.fixture
def label():
    tag = f"nap-test-blocks={uuid.uuid4().hex[:8]}"
    yield tag


def test_hand_started_containers_get_distinct_block_addresses_beside_nap_compose_replicas(lab, tmp_path, label):
    held = blocks(lab)
    assert sorted(held) == [h.name for h in lab.cluster.hosts]
    assert len(set(held.values())) == len(held)
    project = DeployProject(lab, tmp_path, prefix="blk")
    try:
        def fill(host):
            return [(host, address_of(lab, host, run_plain(lab, host, label))) for _ in range(PER_HOST)]

        with ThreadPoolExecutor(max_workers=3) as workers:
            plain = [pair for chunk in workers.map(fill, [h.name for h in lab.cluster.hosts]) for pair in chunk]
        addresses = [ip for _, ip in plain]
        assert len(addresses) == 3 * PER_HOST and len(set(addresses)) == 3 * PER_HOST, plain
        for host, ip in plain:
            assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(held[host]), (host, ip, held[host])
        assert not set(addresses) & forbidden(lab)

        project.write({"web": sleeper(scale=6)})
        project.ok("up", "-d")
        replicas = {name: project.address(name) for name in project.containers()}
        assert len(replicas) == 6
        everything = addresses + list(replicas.values())
        assert len(set(everything)) == 51
        pool = forbidden(lab) - {lab.cluster.network.router} - {h.address for h in lab.cluster.hosts}
        assert set(replicas.values()) <= pool  # the replicas' explicit addresses come from the pool

        status, out, err = nap(lab, "network", "check", "--format", "json")
        assert (status, json.loads(out)["findings"]) == (0, []), err

        # A duplicate by hand: a replica's address given with --ip on another host.
        name, ip = sorted(replicas.items())[0]
        first_host = project.containers()[name][0]
        other_host = next(h.name for h in lab.cluster.hosts if h.name != first_host)
        run_plain(lab, other_host, label, "--ip", ip)
        status, out, err = nap(lab, "network", "check", "--format", "json")
        assert status == 1, err
        dups = [f for f in json.loads(out)["findings"] if f["kind"] == "duplicate"]
        assert {(f["host"], f["address"]) for f in dups} == {(first_host, ip), (other_host, ip)}
        assert all(f"{name} on {first_host}" in f["message"] for f in dups)
        assert any(f["kind"] == "reserved-for-other" and f["host"] == other_host for f in json.loads(out)["findings"])
        status, out, _ = nap(lab, "network", "check")
        assert status == 1 and first_host in out and other_host in out

        status, out, _ = nap(lab, "ipam", "ls", "--all", "--format", "json")
        assert status == 0
        rows = {r["address"]: r for r in json.loads(out) if r["state"] == "block"}
        for host, cidr in held.items():
            assert rows[cidr]["host"] == host
            assert sorted(c["address"] for c in rows[cidr]["containers"]) == sorted(
                ip for h, ip in plain if h == host)
        status, out, _ = nap(lab, "ipam", "gc")
        assert (status, out) == (0, "no leaked addresses\n")
    finally:
        remove_labelled(lab, label)
        project.cleanup()


COMPOSE = """\
version: "2.4"
services:
  filler:
    image: nap-lab/busybox:latest
    command: ["sleep", "600"]
    stop_signal: SIGKILL
    labels: {%s}
networks:
  default:
    external: true
    name: %s
"""


def test_docker_compose_on_one_host_fills_its_block_then_gets_dockers_own_error(lab, label):
    host = lab.cluster.hosts[0].name
    cidr = ipaddress.IPv4Network(blocks(lab)[host])
    key, value = label.split("=")
    project = f"blkdc{uuid.uuid4().hex[:6]}"
    # The file lives on that host, as for anyone running docker-compose there: lab hosts see only their
    # own state directory of the operator's disk.
    on_host = os.path.join(lab.dir, host, project)
    os.makedirs(on_host)
    with open(os.path.join(on_host, "docker-compose.yml"), "w") as fh:
        fh.write(COMPOSE % (f"{key}: '{value}'", lab.cluster.network.name))
    compose = ["docker-compose", "-f", os.path.join(on_host, "docker-compose.yml"), "-p", project]
    try:
        done = lab.exec(host, *compose, "up", "-d", "--scale", f"filler={cidr.num_addresses}", timeout=300)
        assert done.returncode == 0, done.stderr
        ids = lab.exec(host, "docker", "ps", "-q", "--filter", f"label={label}").stdout.split()
        got = [address_of(lab, host, c) for c in ids]
        assert len(got) == cidr.num_addresses and len(set(got)) == len(got)
        assert all(ipaddress.IPv4Address(ip) in cidr for ip in got), got
        done = lab.exec(host, *compose, "up", "-d", "--scale", f"filler={cidr.num_addresses + 1}", timeout=300)
        assert done.returncode != 0
        assert "no available IPv4 addresses on this network's address pools: nap" in done.stderr, done.stderr
    finally:
        lab.exec(host, *compose, "down", "-t", "0", timeout=300)
        remove_labelled(lab, label)
        shutil.rmtree(on_host, ignore_errors=True)


def test_network_rm_refuses_a_host_with_a_container_attached_and_create_dry_run_touches_nothing(lab):
    host = lab.cluster.hosts[-1].name
    name = lab.cluster.network.name
    label = f"nap-test-rm={uuid.uuid4().hex[:8]}"
    held = blocks(lab)

    def network_ids():
        return [lab.exec(h.name, "docker", "network", "inspect", "-f", "{{.Id}}", name).stdout.strip()
                for h in lab.cluster.hosts]

    ids = network_ids()
    run_plain(lab, host, label)
    try:
        status, out, err = nap(lab, "network", "rm", "--host", host)
        assert (status, out) == (7, ""), err
        assert err.startswith(f"ERROR: {host}: network {name} is not removed: ") and "attached" in err, err
        assert blocks(lab) == held and network_ids() == ids

        status, out, err = nap(lab, "network", "create", "--dry-run")
        assert (status, err) == (0, "")
        assert out.splitlines() == [f"network on {h.name}: present (network {name} already as wanted)"
                                    for h in lab.cluster.hosts] + [
            f"names resolver on {h.name}: ok (dnsmasq on {h.address}:53)" for h in lab.cluster.hosts] + [
            "nothing to do"]
        assert blocks(lab) == held and network_ids() == ids
    finally:
        remove_labelled(lab, label)
