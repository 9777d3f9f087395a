"""DockerEngine against a real lab host: what it creates is what the request says, and errors name the host."""

import os
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import replace

import pytest

from napcompose.adapters.docker_engine import DockerEngine
from napcompose.adapters.ssh import HostConnections
from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.ipam import Ipam, Pool
from napcompose.errors import HostError
from napcompose.lab.state import layout_of, read_state
from napcompose.model import (ContainerRequest, Healthcheck, PortSpec, Replica, ServiceSpec, Ulimit, pairs)

from tests.integration.deploy_support import sshd_processes

pytestmark = pytest.mark.integration

IMAGE = "nap-lab/busybox:latest"


@pytest.fixture
def engine(lab):
    connections = HostConnections(lab.cluster)
    host = lab.cluster.hosts[0]
    engine = DockerEngine(host, connections)
    project = f"e{uuid.uuid4().hex[:8]}"
    engine.test_project = project
    # Addresses come from the cluster's IPAM, like every other container on the shared network.
    engine.ipam = Ipam(open_store(lab.cluster.store), Pool.from_cluster(lab.cluster), lab.cluster.store.prefix,
                       SystemClock(), lambda: uuid.uuid4().hex)
    yield engine
    client = connections.docker(host.name)
    for c in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
        c.remove(force=True)
    for allocation in engine.ipam.allocations():
        if allocation.owner.startswith(project + "/"):
            engine.ipam.release_owner(allocation.owner)
    connections.close()


def _request(engine, lab, service, index=1, **spec_fields):
    project = engine.test_project
    replica = Replica(project, service, index)
    spec = ServiceSpec(name=service, image=IMAGE, command=("sleep", "3600"), stop_signal="SIGKILL",
                       **spec_fields)
    ip = engine.ipam.ensure(replica.owner, engine.host).ip
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
              "com.docker.compose.container-number": str(index), "com.docker.compose.config-hash": "h1",
              "com.docker.compose.version": "1.29.2", "com.docker.compose.oneoff": "False",
              "io.nap-compose.host": engine.host, "io.nap-compose.address": ip,
              "io.nap-compose.alloc-id": "alloc-1"}
    return ContainerRequest(replica=replica, host=engine.host, spec=spec, image=IMAGE,
                            network=lab.cluster.network.name, ip=ip, alloc_id="alloc-1", config_hash="h1",
                            labels=pairs(labels), extra_hosts=(("peer", "198.18.1.200"),))


def test_create_start_list_inspect_stop_remove(engine, lab):
    request = _request(
        engine, lab, "web", environment=pairs({"A": "1"}), working_dir="/tmp", user="nobody",
        cap_add=("NET_ADMIN",), cap_drop=("MKNOD",), hostname="webhost", dns=("198.18.1.1",),
        ports=(PortSpec(8080, "tcp", 18080),), expose=(PortSpec(9000),), restart="on-failure:3",
        ulimits=(Ulimit("nofile", 1000, 2000),), sysctls=pairs({"net.ipv4.ip_forward": "0"}),
        tmpfs=("/scratch:size=1m",), init=True, mem_limit=64 * 1024 * 1024, cpus=0.5,
        healthcheck=Healthcheck(test=("CMD", "true"), interval_s=1.0, retries=2))
    container_id = engine.create_container(request)
    engine.start_container(container_id)
    [observed] = engine.list_containers(engine.test_project)
    assert (observed.id, observed.name, observed.replica, observed.state, observed.ip, observed.config_hash,
            observed.alloc_id, observed.one_off, observed.image) == (
        container_id, request.name, request.replica, "running", request.ip, "h1", "alloc-1", False, IMAGE)
    assert "0.0.0.0:18080->8080/tcp" in observed.ports
    attrs = engine._connections.docker(engine.host).api.inspect_container(container_id)
    config, host_config = attrs["Config"], attrs["HostConfig"]
    assert list(attrs["NetworkSettings"]["Networks"]) == [lab.cluster.network.name]
    assert attrs["NetworkSettings"]["Networks"][lab.cluster.network.name]["IPAddress"] == request.ip
    assert "A=1" in config["Env"] and config["WorkingDir"] == "/tmp" and config["User"] == "nobody"
    assert config["Hostname"] == "webhost" and config["StopSignal"] == "SIGKILL"
    assert config["Cmd"] == ["sleep", "3600"] and config["Image"] == IMAGE
    assert host_config["CapAdd"] == ["NET_ADMIN"] and host_config["CapDrop"] == ["MKNOD"]
    assert host_config["ExtraHosts"] == ["peer:198.18.1.200"] and host_config["Dns"] == ["198.18.1.1"]
    assert host_config["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host_config["Ulimits"] == [{"Name": "nofile", "Soft": 1000, "Hard": 2000}]
    assert host_config["Tmpfs"] == {"/scratch": "size=1m"} and host_config["Init"] is True
    assert host_config["Memory"] == 64 * 1024 * 1024 and host_config["NanoCpus"] == 500_000_000
    assert config["Healthcheck"]["Test"] == ["CMD", "true"]
    assert config["Labels"]["com.docker.compose.container-number"] == "1"
    hosts_path = engine.hosts_path(container_id)
    assert hosts_path.endswith(f"/containers/{container_id}/hosts")
    assert engine.health(container_id) in ("starting", "healthy")
    lines = list(engine.logs(container_id))
    assert lines == []
    chunks = []
    assert engine.exec(container_id, ["sh", "-c", "echo hi; exit 3"], write=chunks.append) == 3
    assert b"".join(chunks) == b"hi\n"
    engine.stop_container(container_id, timeout=1)
    assert engine.list_containers(engine.test_project)[0].state == "exited"
    engine.remove_container(container_id)
    assert engine.list_containers(engine.test_project) == []
    engine.remove_container(container_id)  # gone already: still fine


def test_logs_are_split_into_lines(engine, lab):
    request = _request(engine, lab, "talker")
    request = replace(request, spec=ServiceSpec(name="talker", image=IMAGE,
                                                command=("sh", "-c", "echo one; echo two; echo three")))
    container_id = engine.create_container(request)
    engine.start_container(container_id)
    engine._connections.docker(engine.host).api.wait(container_id, timeout=20)
    assert list(engine.logs(container_id)) == ["one", "two", "three"]
    assert list(engine.logs(container_id, tail=1)) == ["three"]
    assert all(line.split(" ", 1)[1] in ("one", "two", "three")
               for line in engine.logs(container_id, timestamps=True))


def test_image_present(engine):
    assert engine.image_present(IMAGE) is True
    assert engine.image_present("nap-lab/not-there:0") is False


def test_errors_name_host_verb_and_container(engine, lab):
    request = _request(engine, lab, "dup")
    engine.create_container(request)
    with pytest.raises(HostError) as info:
        engine.create_container(request)
    message = str(info.value)
    assert message.startswith(f"{engine.host}: create {request.name}: ")
    assert "already in use" in message
    missing = replace(_request(engine, lab, "noimg"), image="nap-lab/not-there:0")
    with pytest.raises(HostError) as info:
        engine.create_container(missing)
    assert str(info.value).startswith(f"{engine.host}: create {missing.name}: ")
    assert "not-there" in str(info.value)
    with pytest.raises(HostError) as info:
        engine.start_container("0123456789abcdef")
    assert str(info.value).startswith(f"{engine.host}: start 0123456789ab: ")
    assert info.value.__cause__ is not None


def test_an_unreachable_host_is_a_host_error(lab, tmp_path):
    # A host entry nobody answers for: a free address of the lab subnet, on a port nothing listens on.
    from dataclasses import replace

    host = replace(lab.cluster.hosts[0], name="ghost", docker_url="tcp://127.0.0.1:9", insecure_tcp=True)
    cluster = replace(lab.cluster, hosts=(host,))
    connections = HostConnections(cluster, connect_timeout=2, op_timeout=5)
    try:
        engine = DockerEngine(host, connections)
        with pytest.raises(HostError) as info:
            engine.list_containers("anything")
        assert str(info.value).startswith("ghost: list containers of project anything: ")
    finally:
        connections.close()


def _sshd_serving(lab, host_name, client):
    """The host's sshd processes holding the TCP connection whose other end is ``client`` (our
    connection's local address and port): ending them ends that connection alone, not the others
    the host serves."""
    lab_host = layout_of(read_state(lab.dir)).host(host_name)
    netns = os.stat(f"/var/run/netns/{lab_host.netns}").st_ino
    address, port = client
    # /proc/net/tcp writes an IPv4 address as the hex of its 32 bits in this machine's byte order
    remote = "%08X:%04X" % (int.from_bytes(socket.inet_aton(address), sys.byteorder), port)
    found = []
    for pid in sshd_processes(netns):
        try:
            with open(f"/proc/{pid}/net/tcp") as fh:
                inodes = {f"socket:[{row.split()[9]}]" for row in list(fh)[1:] if row.split()[2] == remote}
            held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:  # ended meanwhile
            continue
        if inodes & held:
            found.append(pid)
    return lab_host, found


def test_a_create_whose_connection_ends_before_the_answer_is_made_once(engine, lab):
    """The host's sshd ends this test's connection while a create waits for its answer: the engine asks by
    name whether the container landed (the daemon, stopped meanwhile, reads the request later) and
    creates it only when it did not; either way one container of that name, ours, is there."""
    request = _request(engine, lab, "lost")
    engine.image_present(IMAGE)  # the connection is up before the daemon stops
    ours = engine._connections.ssh(engine.host).get_transport().sock.getsockname()
    lab_host, sessions = _sshd_serving(lab, engine.host, ours)
    assert sessions, f"no sshd process of {engine.host} holds the connection from {ours}"
    with open(lab_host.dockerd_pidfile) as fh:
        dockerd = int(fh.read().strip())
    outcome = {}

    def create():
        try:
            outcome["id"] = engine.create_container(request)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    os.kill(dockerd, signal.SIGSTOP)  # the request reaches the socket; nothing answers it
    try:
        worker = threading.Thread(target=create)
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive(), f"the create ended while the daemon was stopped: {outcome}"
        for pid in sessions:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.kill(dockerd, signal.SIGCONT)
    worker.join(60)
    assert "error" not in outcome, f"the create failed: {outcome.get('error')!r}"
    api = engine._connections.docker(engine.host).api
    named = api.containers(all=True, filters={"name": f"^/{request.name}$"})
    assert [c["Id"] for c in named] == [outcome["id"]]
    assert named[0]["Labels"]["io.nap-compose.alloc-id"] == request.alloc_id
