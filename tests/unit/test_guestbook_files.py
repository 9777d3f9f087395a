"""The guestbook example keeps the seed's compose file (services, links, ports) and builds offline."""

import importlib.machinery
import importlib.util
import os
import pathlib
import re

import pytest
import yaml

from napcompose.config import load_project
from napcompose.model import Link, PortSpec

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "guestbook"

# The compose file of the nap-compose design note (seed 004), as published there; kept once in the
# compat corpus.
SEED_COMPOSE = (pathlib.Path(__file__).resolve().parents[1] / "compat" / "cases" / "01_seed_guestbook_v1"
                / "docker-compose.yml").read_text()


def _example():
    with open(EXAMPLE / "docker-compose.yml") as fh:
        return yaml.safe_load(fh)


def test_same_services_links_and_ports_as_the_seed():
    seed = yaml.safe_load(SEED_COMPOSE)
    example = _example()
    assert sorted(example) == sorted(seed) == ["redis-master", "redis-slave", "web"]
    for name, seed_service in seed.items():
        assert example[name].get("links", []) == seed_service.get("links", []), name
        assert example[name]["ports"] == seed_service["ports"], name


def test_v1_form_with_build_contexts_instead_of_registry_images():
    example = _example()
    assert "version" not in example and "services" not in example  # v1: services at the top level
    for name, service in example.items():
        assert "image" not in service, name  # v1 refuses image and build together
        assert service["build"] == f"./{name}"
        assert (EXAMPLE / name / "Dockerfile").is_file()


def test_loaded_project_links_and_ports():
    project = load_project(files=None, project_name=None, project_dir=None, env_file=None,
                           environ={}, cwd=str(EXAMPLE), warn=lambda line: None)
    assert project.name == "guestbook"
    web = project.service("web")
    assert web.links == (Link("redis-master", "redis-master"), Link("redis-slave", "redis-slave"))
    assert web.ports == (PortSpec(container_port=80, host_port=80),)
    slave = project.service("redis-slave")
    assert slave.links == (Link("redis-master", "redis-master"),)
    assert slave.ports == (PortSpec(container_port=6379),)
    master = project.service("redis-master")
    assert master.links == () and master.ports == (PortSpec(container_port=6379),)
    for spec in project.services:
        assert spec.image is None
        assert spec.build.context == str(EXAMPLE / spec.name)


@pytest.mark.parametrize("context", ["web", "redis-master", "redis-slave"])
def test_dockerfiles_are_from_scratch_with_copy_only(context):
    lines = [line.strip() for line in (EXAMPLE / context / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert lines[0] == "FROM scratch"
    instructions = {line.split()[0] for line in lines}
    # no RUN: the lab's daemons have no network for builds, and nothing needs one
    assert instructions <= {"FROM", "COPY", "USER", "WORKDIR", "EXPOSE", "STOPSIGNAL", "ENTRYPOINT", "CMD"}


def test_replica_follows_redis_master_by_name():
    conf = (EXAMPLE / "redis-slave" / "redis.conf").read_text()
    assert re.search(r"^replicaof redis-master 6379$", conf, re.M)
    master = (EXAMPLE / "redis-master" / "redis.conf").read_text()
    assert re.search(r"^protected-mode no$", master, re.M)
    assert re.search(r"^bind 0\.0\.0\.0$", master, re.M)
    assert "replicaof" not in master


def test_cgi_never_evaluates_its_input():
    script = (EXAMPLE / "web" / "www" / "cgi-bin" / "index.cgi").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"\beval\b", code)
    assert "set -f" in code  # the query is split with globbing off
    assert "redis-master" in code and "redis-slave" in code
    assert os.access(EXAMPLE / "web" / "www" / "cgi-bin" / "index.cgi", os.X_OK)
    assert os.access(EXAMPLE / "web" / "entrypoint.sh", os.X_OK)


# ---------------------------------------------------------------------------- make-rootfs


def _make_rootfs(monkeypatch, tmp_path):
    loader = importlib.machinery.SourceFileLoader("make_rootfs", str(EXAMPLE / "make-rootfs"))
    spec = importlib.util.spec_from_loader("make_rootfs", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", str(tmp_path))
    return module


def test_make_rootfs_names_missing_busybox(monkeypatch, tmp_path, capsys):
    module = _make_rootfs(monkeypatch, tmp_path)
    monkeypatch.setattr(module, "BUSYBOX_CANDIDATES", (str(tmp_path / "no-busybox"),))
    assert module.main(["make-rootfs"]) == 1
    err = capsys.readouterr().err
    assert err == (f"make-rootfs: busybox not found at {tmp_path / 'no-busybox'}; "
                   "install the busybox-static package\n")
    assert list(tmp_path.iterdir()) == []  # nothing staged


def test_make_rootfs_names_missing_redis_server(monkeypatch, tmp_path, capsys):
    module = _make_rootfs(monkeypatch, tmp_path)
    fake_busybox = tmp_path / "busybox"
    fake_busybox.write_text("")
    monkeypatch.setattr(module, "find_busybox", lambda: str(fake_busybox))
    monkeypatch.setattr(module, "busybox_applets", lambda busybox: ["sh"])
    monkeypatch.setattr(module, "REDIS_SERVER", str(tmp_path / "no-redis-server"))
    assert module.main(["make-rootfs"]) == 1
    err = capsys.readouterr().err
    assert err == (f"make-rootfs: {tmp_path / 'no-redis-server'} not found; "
                   "install the redis-server package\n")
    # web was staged, the failed redis-master left neither a rootfs nor a temporary tree
    assert (tmp_path / "web" / "rootfs" / "bin" / "sh").is_symlink()
    assert not (tmp_path / "redis-master" / "rootfs").exists()
    assert not (tmp_path / "redis-master" / "rootfs.new").exists()


def test_make_rootfs_names_a_library_ldd_cannot_find(monkeypatch, tmp_path):
    module = _make_rootfs(monkeypatch, tmp_path)
    output = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
              "\tliblzf.so.1 => /lib/x86_64-linux-gnu/liblzf.so.1 (0x00007f7c)\n"
              "\tlibjemalloc.so.2 => not found\n")
    with pytest.raises(module.Missing) as caught:
        module.parse_ldd("/usr/bin/redis-server", output)
    assert str(caught.value) == "/usr/bin/redis-server needs libjemalloc.so.2, which is not installed"


def test_make_rootfs_reads_ldd_paths(monkeypatch, tmp_path):
    module = _make_rootfs(monkeypatch, tmp_path)
    output = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
              "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f7c)\n"
              "\t/lib64/ld-linux-x86-64.so.2 (0x00007f7c)\n")
    assert module.parse_ldd("x", output) == ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]


def test_make_rootfs_refuses_arguments(monkeypatch, tmp_path, capsys):
    module = _make_rootfs(monkeypatch, tmp_path)
    assert module.main(["make-rootfs", "web"]) == 2
    assert "usage: make-rootfs" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the CGI's refusals

CGI = EXAMPLE / "web" / "www" / "cgi-bin" / "index.cgi"
BUSYBOX = "/bin/busybox"


class _FakeRedis:
    """A listener on loopback that records what each connection sends and answers ``reply``."""

    def __init__(self, reply=b""):
        import socket
        import threading

        self.reply = reply
        self.received = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while not data.endswith(b"QUIT\r\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.received.append(data)
                conn.sendall(self.reply)

    def close(self):
        self._server.close()


@pytest.fixture
def redis():
    server = _FakeRedis()
    yield server
    server.close()


@pytest.fixture
def cgi_env(redis):
    """Only loopback: both redis names point at the fake redis on 127.0.0.1."""
    return {"PATH": "/nonexistent", "GUESTBOOK_MASTER": "127.0.0.1", "GUESTBOOK_SLAVE": "127.0.0.1",
            "GUESTBOOK_REDIS_PORT": str(redis.port)}


def _cgi(env, query, method="GET"):
    import subprocess

    # busybox runs its own applets (nc, httpd -d, wc...) whatever PATH says
    run = subprocess.run([BUSYBOX, "sh", str(CGI)], env={**env, "QUERY_STRING": query, "REQUEST_METHOD": method},
                         capture_output=True, timeout=20)
    head, _, body = run.stdout.decode().partition("\r\n\r\n")
    return head.split("\r\n")[0], body, run.stderr.decode()


@pytest.mark.parametrize("query,status,error", [
    ("", "400 Bad Request", "cmd must be get or set"),
    ("cmd=del&key=a", "400 Bad Request", "cmd must be get or set"),
    ("cmd=get", "400 Bad Request", "key is missing"),
    ("cmd=get&key=", "400 Bad Request", "key must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -"),
    ("cmd=get&key=a%20b", "400 Bad Request", "key must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -"),
    ("cmd=get&key=a%0Ab", "400 Bad Request", "key must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -"),
    ("cmd=get&key=" + "k" * 129, "400 Bad Request", "key must be 1 to 128 of the characters A-Z a-z 0-9 _ . : -"),
    ("cmd=set&key=a", "400 Bad Request", "value is missing"),
    ("cmd=set&key=a&value=x%0Ay", "400 Bad Request", "value must not contain control characters"),
    ("cmd=set&key=a&value=x%00y", "400 Bad Request", "value must not contain control characters"),
    ("cmd=set&key=a&value=x%7f", "400 Bad Request", "value must not contain control characters"),
    ("cmd=set&key=a&value=" + "v" * 4097, "400 Bad Request", "value must be at most 4096 bytes"),
])
def test_cgi_refuses_bad_input_without_reaching_redis(cgi_env, redis, query, status, error):
    line, body, stderr = _cgi(cgi_env, query)
    assert line == f"Status: {status}", stderr
    assert body == f'{{"error": "{error}"}}\n'
    assert redis.received == []


def test_cgi_refuses_other_methods(cgi_env, redis):
    line, body, _ = _cgi(cgi_env, "cmd=set&key=a&value=b", method="POST")
    assert (line, body) == ("Status: 405 Method Not Allowed", '{"error": "only GET is served"}\n')
    assert redis.received == []


def test_cgi_never_runs_what_a_key_or_value_says(cgi_env, redis, tmp_path):
    marker = tmp_path / "ran"
    for query in (f"cmd=get&key=%24(touch%20{marker})", f"cmd=get&key=%60touch%20{marker}%60",
                  f"cmd=get&key=a;touch%20{marker}"):
        line, _, _ = _cgi(cgi_env, query)
        assert line == "Status: 400 Bad Request"
    assert redis.received == []
    # a value may hold such text: it goes to redis as data, and is never run
    redis.reply = b"+OK\r\n+OK\r\n"
    line, _, _ = _cgi(cgi_env, f"cmd=set&key=a&value=%24(touch%20{marker})")
    assert line == "Status: 200 OK"
    value = f"$(touch {marker})".encode()
    assert redis.received == [b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$%d\r\n%s\r\n*1\r\n$4\r\nQUIT\r\n"
                              % (len(value), value)]
    assert not marker.exists()


def test_cgi_sends_resp_bulk_strings(cgi_env, redis):
    redis.reply = b"+OK\r\n+OK\r\n"
    line, body, stderr = _cgi(cgi_env, "cmd=set&key=greeting&value=hello+big%20world%21%22")
    assert (line, body) == ("Status: 200 OK", '{"message": "Updated"}\n'), stderr
    assert redis.received == [b"*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$17\r\nhello big world!\"\r\n"
                              b"*1\r\n$4\r\nQUIT\r\n"]


def test_cgi_answers_the_value_as_a_json_string(cgi_env, redis):
    redis.reply = b'$7\r\n"a\\b"\t!\r\n+OK\r\n'
    line, body, stderr = _cgi(cgi_env, "cmd=get&key=k")
    assert (line, body) == ("Status: 200 OK", '{"data": "\\"a\\\\b\\"\\t!"}\n'), stderr
    assert redis.received == [b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nQUIT\r\n"]
    redis.reply = b"$-1\r\n+OK\r\n"
    assert _cgi(cgi_env, "cmd=get&key=k")[:2] == ("Status: 200 OK", '{"data": ""}\n')


def test_cgi_reports_a_redis_that_refuses_to_store(cgi_env, redis):
    redis.reply = b"-READONLY You can't write against a read only replica.\r\n+OK\r\n"
    line, body, _ = _cgi(cgi_env, "cmd=set&key=k&value=v")
    assert (line, body) == ("Status: 502 Bad Gateway", '{"error": "127.0.0.1:%d did not store the value"}\n'
                            % redis.port)
