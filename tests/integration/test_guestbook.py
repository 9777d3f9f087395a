"""The guestbook example end to end on the lab: build, `up` over three hosts, scale, restart the master.

One project for the module (its own name, so its image tags and containers are its own), deployed
with nap-compose run in process. The HTTP requests and redis commands run inside the project's own
containers (busybox wget and nc), so they stay on the lab segment. Cleanup is `down`, then removal by
label and release of the addresses, then the images, whatever the tests left behind.
"""

from __future__ import annotations

import calendar
import json
import pathlib
import shutil
import subprocess
import time
import urllib.parse

import pytest

from tests.integration.deploy_support import DeployProject, exec_whole, until

pytestmark = pytest.mark.integration

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "guestbook"
SERVICES = ("redis-master", "redis-slave", "web")


class Guestbook(DeployProject):
    """The example deployed under a project name of its own, with ways to talk to its parts."""

    def container(self, service: str, index: int = 1):
        host, container = self.containers()[f"{self.name}_{service}_{index}"]
        return host, container

    def ps(self):
        status, out, err = self.nap("ps", "--format", "json")
        assert status == 0, err
        return [json.loads(line) for line in out.splitlines()]

    def exec_in(self, service: str, *argv: str, index: int = 1, user: str = ""):
        _, container = self.container(service, index)
        return exec_whole(container.client.api, container.id, argv, user=user)

    def redis(self, service: str, *words: str) -> str:
        """One RESP command sent from inside ``service``'s container to its own redis; the raw reply."""
        body = "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
        request = f"*{len(words)}\r\n{body}*1\r\n$4\r\nQUIT\r\n"
        _, out = self.exec_in(service, "sh", "-c", 'printf "%s" "$1" | nc -w 3 127.0.0.1 6379', "sh", request)
        return out

    def info(self, service: str) -> dict:
        """``INFO replication`` of ``service``'s redis as {field: value}."""
        fields = {}
        for line in self.redis(service, "INFO", "replication").splitlines():
            if ":" in line and not line.startswith("#"):
                key, value = line.strip().split(":", 1)
                fields[key] = value
        return fields

    def http(self, web_ip: str, **query: str):
        """GET http://web_ip/guestbook?query from inside redis-master's container (wget follows the 302)."""
        url = f"http://{web_ip}/guestbook?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        # busybox's own `timeout`: Debian's static busybox wget crashes (SIGSEGV) when given -T
        code, out = self.exec_in("redis-master", "timeout", "10", "wget", "-q", "-O", "-", url)
        return code, out.strip()

    def remove_images(self) -> None:
        for host in self.lab.cluster.hosts:
            for service in SERVICES:
                try:
                    self.docker(host.name).api.remove_image(f"{self.name}_{service}", force=True)
                except Exception:  # not there: nothing to remove
                    pass


@pytest.fixture(scope="module")
def guestbook(lab, tmp_path_factory):
    """The example, staged and built once, running with `up -d`; removed at the end of the module."""
    directory = tmp_path_factory.mktemp("e2e") / "guestbook"
    shutil.copytree(EXAMPLE, directory, ignore=shutil.ignore_patterns("rootfs", "rootfs.*"))
    staged = subprocess.run([str(directory / "make-rootfs")], capture_output=True, text=True, cwd=directory)
    assert staged.returncode == 0, staged.stderr
    book = Guestbook(lab, directory, prefix="gbe2e")
    try:
        book.ok("build")
        book.ok("up", "-d")
        yield book
    finally:
        try:
            status, out, err = book.nap("down", "-t", "2")
            assert status == 0, f"down exited {status}: {err}"
        finally:
            book.remove_images()
            book.cleanup()


def _web_ips(book):
    return {row["Number"]: (row["Host"], row["IP"]) for row in book.ps() if row["Service"] == "web"}


def test_the_first_read_after_up_returns_the_message(guestbook):
    """Right after `up -d`: the slave asks for redis-master at its first instant, and that name must already
    answer then (a lookup falling through to DNS would fail, and replication would wait for the next try):
    its log shows the first attempt synced, within a second of its start. Then a message written through
    web is read back through the slave within two seconds (a replica's copy is asynchronous: Redis 7
    streams to a fresh replica only after that replica's first acknowledgement, up to a second after the
    sync, so a read at once may still find nothing)."""
    _, slave = guestbook.container("redis-slave")
    log = slave.client.api.logs(slave.id, timestamps=True).decode()
    assert not any(word in log for word in ("Unable to connect", "Error condition", "Temporary failure",
                                            "Name or service not known")), log
    started = _stamp(log, "Ready to accept connections")
    synced = _stamp(log, "MASTER <-> REPLICA sync: Finished with success")
    assert 0 <= synced - started < 1.0, log
    web_ip = _web_ips(guestbook)[1][1]
    value = f"first message {time.time():.3f}"
    # web may still be starting: the write alone is retried until web answers
    code, answer = until(lambda: guestbook.http(web_ip, cmd="set", key="first", value=value),
                         lambda result: result[0] == 0, timeout=10)
    assert answer == '{"message": "Updated"}'
    began = time.monotonic()
    wanted = (0, json.dumps({"data": value}))
    code, answer = until(lambda: guestbook.http(web_ip, cmd="get", key="first"), lambda got: got == wanted,
                         timeout=2)
    assert (code, answer) == wanted, f"read back {answer!r} after {time.monotonic() - began:.1f} s"


def _stamp(log: str, words: str) -> float:
    """Seconds since the epoch of the first log line holding ``words`` (Docker's RFC 3339 timestamps)."""
    for line in log.splitlines():
        if words in line:
            stamp = line.split(" ", 1)[0]  # 2026-12-06T18:51:38.764469634Z
            whole, fraction = stamp.rstrip("Z").split(".")
            return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + fraction)
    raise AssertionError(f"no line with {words!r} in:\n{log}")


def test_the_three_services_land_on_three_different_hosts(guestbook):
    rows = {row["Service"]: row for row in guestbook.ps() if row["Number"] == 1}
    assert sorted(rows) == sorted(SERVICES)
    assert len({rows[s]["Host"] for s in SERVICES}) == 3, rows
    assert all(rows[s]["State"] == "running" for s in SERVICES), rows
    # ps tells the truth: each container runs on the host it names, with the address it shows
    for service in SERVICES:
        host, _ = guestbook.container(service)
        assert host == rows[service]["Host"]
        assert guestbook.address(f"{guestbook.name}_{service}_1") == rows[service]["IP"]


def test_replication_runs_from_master_to_slave_across_hosts(guestbook):
    master_host, _ = guestbook.container("redis-master")
    slave_host, _ = guestbook.container("redis-slave")
    assert master_host != slave_host
    master_ip = guestbook.address(f"{guestbook.name}_redis-master_1")
    slave_ip = guestbook.address(f"{guestbook.name}_redis-slave_1")

    info = until(lambda: guestbook.info("redis-slave"), lambda i: i.get("master_link_status") == "up")
    assert info["role"] == "slave" and info["master_host"] == "redis-master", info
    # the name the slave follows is the master's address, as the slave's own resolver sees it
    code, out = guestbook.exec_in("redis-slave", "ping", "-c", "1", "-W", "2", "redis-master", user="0")
    assert code == 0 and f"PING redis-master ({master_ip})" in out, out
    # and the master sees the slave connect from its address on the other host
    master = until(lambda: guestbook.info("redis-master"),
                   lambda i: i.get("connected_slaves") == "1" and "state=online" in i.get("slave0", ""))
    assert master["slave0"].startswith(f"ip={slave_ip},port=6379,"), master
    # reads really come from a replica: it refuses writes
    assert guestbook.redis("redis-slave", "SET", "x", "1").startswith("-READONLY")


def test_a_value_written_through_one_web_replica_is_read_through_each_of_three(guestbook):
    guestbook.ok("scale", "web=3")
    web = _web_ips(guestbook)
    assert sorted(web) == [1, 2, 3]
    # each publishes 80:80, so the three replicas are on three different hosts
    assert len({host for host, _ in web.values()}) == 3, web
    for number, (host, _) in web.items():
        assert guestbook.container("web", number)[0] == host

    value = f"written through web_2 at {time.time():.3f}"
    code, answer = until(lambda: guestbook.http(web[2][1], cmd="set", key="messages", value=value),
                         lambda result: result[0] == 0)
    assert answer == '{"message": "Updated"}'
    expected = json.dumps({"data": value})
    for number in (1, 2, 3):
        code, answer = until(lambda: guestbook.http(web[number][1], cmd="get", key="messages"),
                             lambda result: result[1] == expected)
        assert code == 0


def test_the_slave_reconnects_after_the_master_restarts_and_hosts_sync(guestbook):
    until(lambda: guestbook.info("redis-slave"), lambda i: i.get("master_link_status") == "up")
    master_ip = guestbook.address(f"{guestbook.name}_redis-master_1")
    host, container = guestbook.container("redis-master")
    container.restart(timeout=10)  # through the master's own host's engine

    # Docker rebuilt the master's hosts file on start: check sees it, sync repairs it
    status, out, err = guestbook.nap("hosts", "check")
    assert status == 1, out + err
    assert f"{guestbook.name}_redis-master_1 on {host}: managed block missing" in out
    guestbook.ok("hosts", "sync")
    status, out, err = guestbook.nap("hosts", "check")
    assert status == 0 and out.strip() == f"all hosts files of {guestbook.name} are in sync", out + err
    assert guestbook.address(f"{guestbook.name}_redis-master_1") == master_ip

    # the slave reconnects to the restarted master and replication resumes with new writes
    until(lambda: guestbook.info("redis-slave"), lambda i: i.get("master_link_status") == "up", timeout=30)
    value = f"after the restart {time.time():.3f}"
    web_ip = _web_ips(guestbook)[1][1]
    code, answer = until(lambda: guestbook.http(web_ip, cmd="set", key="after", value=value),
                         lambda result: result[0] == 0)
    assert answer == '{"message": "Updated"}'
    until(lambda: guestbook.redis("redis-slave", "GET", "after"),
          lambda reply: reply.startswith(f"${len(value)}\r\n{value}\r\n"), timeout=30)
    code, answer = guestbook.http(web_ip, cmd="get", key="after")
    assert (code, answer) == (0, json.dumps({"data": value}))
