"""The guestbook images on the lab: staged offline, built once, copied to every host, run across hosts.

Each test module run uses its own project name, so its image tags (``<project>_<service>``) and
containers are its own; everything is removed by name at the end.
"""

import hashlib
import io
import os
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest

from napcompose.adapters import images
from napcompose.adapters.ssh import HostConnections
from napcompose.adapters.stores import open_store
from napcompose.adapters.system import SystemClock
from napcompose.cli import main
from napcompose.errors import ConfigError, HostError
from napcompose.ipam import Ipam, Pool
from napcompose.model import BuildSpec
from tests.integration.deploy_support import exec_whole, until

pytestmark = pytest.mark.integration

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "guestbook"
SERVICES = ("redis-master", "redis-slave", "web")
PATH_KEYS = ("known_hosts", "key_file", "ca_cert", "cert", "key", "tls_ca", "tls_cert", "tls_key")


def _tree(root: pathlib.Path):
    """Every entry under ``root`` with its type, mode, owner and content digest or link target."""
    entries = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            what = "link:" + os.readlink(path)
        elif path.is_dir():
            what = "dir"
        else:
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        entries[str(path.relative_to(root))] = (what, st.st_mode, st.st_uid, st.st_gid)
    return entries


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A copy of the example (without any staged rootfs) whose rootfs make-rootfs has just staged."""
    directory = tmp_path_factory.mktemp("images") / "guestbook"
    shutil.copytree(EXAMPLE, directory, ignore=shutil.ignore_patterns("rootfs", "rootfs.*"))
    run = subprocess.run([str(directory / "make-rootfs")], capture_output=True, text=True, cwd=directory)
    assert run.returncode == 0, run.stderr
    return directory


@pytest.fixture(scope="module")
def connections(lab):
    conns = HostConnections(lab.cluster)
    yield conns
    conns.close()


@pytest.fixture(scope="module")
def built(lab, staged, connections):
    """The example built with `nap-compose build` under a project name of its own; (project, stderr)."""
    project = f"gb{uuid.uuid4().hex[:6]}"
    try:
        status, err = _nap(lab, staged, "-p", project, "build")
        assert status == 0, err
        yield project, err
    finally:
        for service in SERVICES:
            _remove_everywhere(lab, connections, f"{project}_{service}")


def _nap(lab, directory, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, cwd=str(directory),
                  environ={"NAP_CLUSTER": lab.cluster_file, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return status, err.getvalue()


def _hosts(lab):
    return [host.name for host in lab.cluster.hosts]


def _remove_everywhere(lab, connections, tag):
    """Remove image ``tag`` from every lab host that has it (cleanup after a test)."""
    for host in _hosts(lab):
        try:
            connections.docker(host).api.remove_image(tag, force=True)
        except Exception:  # not there: nothing to remove
            pass


# ---------------------------------------------------------------------------- staging and building


def test_make_rootfs_twice_gives_the_same_tree(staged):
    before = {context: _tree(staged / context / "rootfs") for context in SERVICES}
    run = subprocess.run([str(staged / "make-rootfs")], capture_output=True, text=True, cwd=staged)
    assert run.returncode == 0, run.stderr
    assert {context: _tree(staged / context / "rootfs") for context in SERVICES} == before
    assert not any(p.name.startswith("rootfs.") for context in SERVICES for p in (staged / context).iterdir())
    redis = before["redis-master"]
    assert redis["usr/bin/redis-server"][0] != "dir"
    assert "lib64/ld-linux-x86-64.so.2" in redis and redis["bin/sh"] == ("link:busybox",) + redis["bin/sh"][1:]


def test_build_puts_each_image_on_every_host_once_built(lab, built, connections):
    project, err = built
    first, *others = _hosts(lab)
    expected = []
    for service in SERVICES:
        expected.append(f"Building {service} on {first} ... done")
        expected.extend(f"Copying {service} to {host} ... done" for host in others)
    lines = err.splitlines()
    assert sorted(lines) == sorted(expected)  # copies to different hosts run in parallel
    for service in SERVICES:
        built_at = lines.index(f"Building {service} on {first} ... done")
        assert all(lines.index(f"Copying {service} to {host} ... done") > built_at for host in others)
    for service in SERVICES:
        ids = {host: images.image_id(connections.docker(host), f"{project}_{service}", host=host)
               for host in _hosts(lab)}
        assert None not in ids.values() and len(set(ids.values())) == 1, ids


def test_building_again_finds_the_copies_up_to_date(lab, staged, built, connections):
    # The services were built side by side; a rebuild of unchanged contexts must land on the very
    # same image ids (the build cache must not cross from one image's layers to another's).
    project, _ = built
    first, *others = _hosts(lab)
    before = {s: images.image_id(connections.docker(first), f"{project}_{s}", host=first) for s in SERVICES}
    status, err = _nap(lab, staged, "-p", project, "build")
    assert status == 0, err
    expected = [f"Building {s} on {first} ... done" for s in SERVICES]
    expected += [f"Copying {s} to {host} ... up to date" for s in SERVICES for host in others]
    assert sorted(err.splitlines()) == sorted(expected)
    after = {s: images.image_id(connections.docker(first), f"{project}_{s}", host=first) for s in SERVICES}
    assert after == before


def test_copy_streams_an_image_to_a_host_that_lost_it(lab, built, connections):
    project, _ = built
    first, *_, last = _hosts(lab)
    tag = f"{project}_redis-slave"
    source, target = connections.docker(first), connections.docker(last)
    target.api.remove_image(tag, force=True)
    assert not images.present(target, tag, host=last)
    images.copy(source, target, tag, src_host=first, dst_host=last)
    assert images.image_id(target, tag, host=last) == images.image_id(source, tag, host=first)


def test_copy_of_an_image_the_source_lacks_names_host_and_image(lab, connections):
    first, second, *_ = _hosts(lab)
    with pytest.raises(HostError) as caught:
        images.copy(connections.docker(first), connections.docker(second), "gb-none:1",
                    src_host=first, dst_host=second)
    assert str(caught.value) == f"{first}: image gb-none:1 is not there to copy"
    assert not images.present(connections.docker(second), "gb-none:1", host=second)


def test_failed_build_names_host_image_and_cause(lab, tmp_path, connections):
    first = _hosts(lab)[0]
    # a pattern matching nothing: the engine's own failure (a plain missing source is refused before)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY rootfs* /\n")
    tag = f"gbfail{uuid.uuid4().hex[:6]}"
    with pytest.raises(HostError) as caught:
        images.build(connections.docker(first), BuildSpec(context=str(tmp_path)), tag, host=first)
    message = str(caught.value)
    assert message.startswith(f"{first}: build {tag} from {tmp_path} failed: COPY failed: "), message
    assert "rootfs" in message and "\n    Step 2/2 : COPY rootfs* /" in message
    assert not images.present(connections.docker(first), tag, host=first)


def test_build_refuses_a_context_without_dockerfile(lab, tmp_path, connections):
    first = _hosts(lab)[0]
    with pytest.raises(ConfigError) as caught:
        images.build(connections.docker(first), BuildSpec(context=str(tmp_path)), "gbnofile", host=first)
    assert str(caught.value) == f"build context {tmp_path} for image gbnofile has no Dockerfile"


# ---------------------------------------------------------------------------- the guestbook across hosts


class _Guestbook:
    """master, slave and web of one project on three hosts, with fixed addresses from the lab's IPAM."""

    def __init__(self, lab, connections, project):
        self.lab, self.connections, self.project = lab, connections, project
        self.ipam = Ipam(open_store(lab.cluster.store), Pool.from_cluster(lab.cluster),
                         lab.cluster.store.prefix, SystemClock(), lambda: uuid.uuid4().hex)
        self.placed = dict(zip(SERVICES, _hosts(lab)))
        self.ip = {}
        self.ids = {}

    def owner(self, service):
        return f"{self.project}/{service}/1"

    def start(self, service, links):
        host = self.placed[service]
        self.ip[service] = self.ipam.ensure(self.owner(service), host).ip
        api = self.connections.docker(host).api
        network = self.lab.cluster.network.name
        created = api.create_container(
            f"{self.project}_{service}", name=f"{self.project}_{service}_1",
            host_config=api.create_host_config(extra_hosts={name: self.ip[name] for name in links}),
            networking_config=api.create_networking_config(
                {network: api.create_endpoint_config(ipv4_address=self.ip[service])}))
        self.ids[service] = created["Id"]
        # made here with docker-py, not by `up`: the hosts' bridge filters learn its address from the
        # records the way an operator would make them learn it (isolation groups are on by default)
        status, err = _nap(self.lab, "/", "network", "create")
        assert status == 0, err
        api.start(created["Id"])

    def exec(self, service, *argv):
        return exec_whole(self.connections.docker(self.placed[service]).api, self.ids[service], argv)

    def redis(self, service, *words):
        """A RESP command sent from inside ``service``'s own container to its own redis."""
        command = "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
        request = f"*{len(words)}\r\n{command}*1\r\n$4\r\nQUIT\r\n"
        return self.exec(service, "sh", "-c", 'printf "%s" "$1" | nc -w 3 127.0.0.1 6379', "sh", request)[1]

    def http(self, from_service, path):
        """GET http://web{path} from another host's container (busybox wget follows the redirect)."""
        return self.exec(from_service, "wget", "-q", "-O", "-", f"http://{self.ip['web']}{path}")

    until = staticmethod(until)

    def remove(self):
        for service, container in self.ids.items():
            try:
                self.connections.docker(self.placed[service]).api.remove_container(container, force=True)
            except Exception:  # already gone
                pass
        for service in SERVICES:
            self.ipam.release_owner(self.owner(service))


@pytest.fixture
def guestbook(lab, built, connections):
    book = _Guestbook(lab, connections, built[0])
    yield book
    book.remove()


def test_guestbook_writes_through_master_and_reads_through_slave_across_hosts(guestbook):
    assert len(set(guestbook.placed.values())) == 3
    guestbook.start("redis-master", [])
    guestbook.start("redis-slave", ["redis-master"])
    guestbook.start("web", ["redis-master", "redis-slave"])
    guestbook.until(lambda: guestbook.redis("redis-slave", "INFO", "replication"),
                    lambda info: "master_link_status:up" in info)

    code, answer = guestbook.until(
        lambda: guestbook.http("redis-master", "/guestbook?cmd=set&key=greeting&value=hello%20from+nap"),
        lambda result: result[0] == 0)
    assert answer.strip() == '{"message": "Updated"}'
    # the value is on the master at once, and reaches the replica on another host
    assert guestbook.redis("redis-master", "GET", "greeting").startswith("$14\r\nhello from nap\r\n")
    code, answer = guestbook.until(lambda: guestbook.http("redis-slave", "/guestbook?cmd=get&key=greeting"),
                                   lambda result: "hello" in result[1])
    assert answer.strip() == '{"data": "hello from nap"}'
    # the replica refuses writes: reads really come from a replica
    assert guestbook.redis("redis-slave", "SET", "x", "1").startswith("-READONLY")

    # JSON-escaped on the way out, refused when it would smuggle control bytes in
    code, answer = guestbook.http("redis-master", "/guestbook?cmd=set&key=q&value=%22a%5Cb%22")
    assert answer.strip() == '{"message": "Updated"}'
    code, answer = guestbook.until(lambda: guestbook.http("redis-slave", "/guestbook?cmd=get&key=q"),
                                   lambda result: result[1].strip() != '{"data": ""}')
    assert answer.strip() == '{"data": "\\"a\\\\b\\""}'
    code, answer = guestbook.exec("redis-slave", "wget", "-q", "-S", "-O", "-",
                                  f"http://{guestbook.ip['web']}/guestbook/?cmd=set&key=q&value=a%0Ab")
    assert code != 0 and "400 Bad Request" in answer


def test_slave_reconnects_after_the_master_restarts(guestbook):
    guestbook.start("redis-master", [])
    guestbook.start("redis-slave", ["redis-master"])
    guestbook.until(lambda: guestbook.redis("redis-slave", "INFO", "replication"),
                    lambda info: "master_link_status:up" in info)
    api = guestbook.connections.docker(guestbook.placed["redis-master"]).api
    started = time.monotonic()
    api.restart(guestbook.ids["redis-master"], timeout=10)
    assert time.monotonic() - started < 5  # redis-server stops on SIGTERM, not after the timeout
    guestbook.until(lambda: guestbook.redis("redis-master", "SET", "after", "restart"),
                    lambda reply: reply.startswith("+OK"))
    guestbook.until(lambda: guestbook.redis("redis-slave", "GET", "after"),
                    lambda reply: reply.startswith("$7\r\nrestart\r\n"))


def test_every_container_stops_promptly_on_sigterm(guestbook):
    guestbook.start("redis-master", [])
    guestbook.start("redis-slave", ["redis-master"])
    guestbook.start("web", ["redis-master", "redis-slave"])
    for service in SERVICES:
        api = guestbook.connections.docker(guestbook.placed[service]).api
        started = time.monotonic()
        api.stop(guestbook.ids[service], timeout=10)
        took = time.monotonic() - started
        state = api.inspect_container(guestbook.ids[service])["State"]
        assert took < 5, f"{service} took {took:.1f} s to stop"
        assert state["ExitCode"] in (0, 143), f"{service} was killed: {state}"


def test_a_failed_build_skips_its_copies_and_the_other_services_still_arrive(lab, tmp_path, connections):
    first, *others = _hosts(lab)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "note.txt").write_text("small\n")
    (tmp_path / "good" / "Dockerfile").write_text("FROM scratch\nCOPY note.txt /note.txt\nCMD [\"/none\"]\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text("FROM scratch\nCOPY missing*.txt /missing.txt\n")
    (tmp_path / "docker-compose.yml").write_text("good:\n  build: ./good\nbroken:\n  build: ./broken\n")
    project = f"gbpart{uuid.uuid4().hex[:6]}"
    try:
        status, err = _nap(lab, tmp_path, "-p", project, "build")
        assert status == 8, err
        lines = err.splitlines()
        assert f"Building good on {first} ... done" in lines
        assert f"Building broken on {first} ... error" in lines
        summary = lines.index(f"ERROR: images: {1 + len(others)} of {2 * (1 + len(others))} steps failed")
        assert lines[summary + 1].startswith(
            f"  build broken on {first}: {first}: build {project}_broken from {tmp_path / 'broken'} failed: "
            "COPY failed: ")
        assert "    Step 2/2 : COPY missing*.txt /missing.txt" in lines[summary + 2:]
        assert lines[-len(others):] == [f"  copy broken to {host}: skipped: the build on {first} failed"
                                        for host in others]
        for host in _hosts(lab):
            assert images.present(connections.docker(host), f"{project}_good", host=host)
            assert not images.present(connections.docker(host), f"{project}_broken", host=host)
    finally:
        _remove_everywhere(lab, connections, f"{project}_good")


def test_a_host_that_cannot_be_reached_fails_alone(lab, tmp_path, connections):
    """A fourth host whose daemon socket does not exist (nothing is sent anywhere for it)."""
    import ipaddress

    import yaml

    with open(lab.cluster_file) as fh:
        data = yaml.safe_load(fh)
    base = os.path.dirname(lab.cluster_file)

    def absolute(node):  # the copy lives elsewhere: paths relative to the lab's file must stay true
        if isinstance(node, dict):
            return {k: os.path.join(base, v) if k in PATH_KEYS and isinstance(v, str) else absolute(v)
                    for k, v in node.items()}
        return [absolute(v) for v in node] if isinstance(node, list) else node

    data = absolute(data)
    taken = {h["address"] for h in data["hosts"]} | {lab.router, lab.etcd_host}
    ghost_address = next(str(a) for a in reversed(list(ipaddress.ip_network(lab.subnet).hosts()))
                         if str(a) not in taken)
    data["hosts"].append({"name": "ghost", "address": ghost_address,
                          "docker_url": f"unix://{tmp_path}/no-such-docker.sock"})
    cluster_file = tmp_path / "cluster-with-ghost.yml"
    cluster_file.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /Dockerfile\nCMD [\"/none\"]\n")
    (tmp_path / "docker-compose.yml").write_text("small:\n  build: ./ctx\n")
    project = f"gbghost{uuid.uuid4().hex[:6]}"
    first, *others = _hosts(lab)
    try:
        out, err = io.StringIO(), io.StringIO()
        status = main(["-p", project, "--cluster", str(cluster_file), "build"], stdout=out, stderr=err,
                      cwd=str(tmp_path), environ={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        lines = err.getvalue().splitlines()
        assert status == 8, err.getvalue()
        assert f"Building small on {first} ... done" in lines
        assert all(f"Copying small to {host} ... done" in lines for host in others)
        assert "Copying small to ghost ... error" in lines
        assert lines[-2] == "ERROR: images: 1 of 4 steps failed"
        assert lines[-1].startswith("  copy small to ghost: ghost: "), lines[-1]
        for host in _hosts(lab):
            assert images.present(connections.docker(host), f"{project}_small", host=host)
    finally:
        _remove_everywhere(lab, connections, f"{project}_small")
