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

# The compose file of the nap-compose design note (seed 004), as published there.
SEED_COMPOSE = """
web:
  image: guestbook
  ports:
  - 80:80
  links:
  - redis-master:redis-master
  - redis-slave:redis-slave

redis-master:
  image: redis
  ports:
  - 6379

redis-slave:
  image: redis-slave
  ports:
  - 6379
  links:
  - redis-master:redis-master
"""


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
