"""configs: and secrets: read, shipped as copies with the asked mode and owner, and never shown."""

import io
import json
import os
import textwrap

import pytest

from napcompose.cli import main
from napcompose.config import parse_project
from napcompose.errors import ConfigError
from tests.fakes_engine import FakeWorld
from tests.fakes_kv import MemoryKV
from tests.unit.test_cli_project import CLUSTER, HOSTS, _Wiring

SECRET = "s3cr3t-Value-9f2c"
ENV_SECRET = "env-Secret-77aa"
FILES = "/var/lib/nap-compose/shop/files"

COMPOSE = textwrap.dedent("""\
    services:
      web:
        image: nap-lab/busybox:latest
        scale: 3
        configs:
          - app_conf
          - source: app_conf
            target: /etc/app.conf
            mode: 0440
        secrets:
          - db_pass
          - source: api_key
            target: key
            uid: "1000"
            gid: "1001"
            mode: 0440
      other:
        image: nap-lab/busybox:latest
        configs: [inline]
    configs:
      app_conf:
        file: ./app.conf
      inline:
        content: "x=1"
    secrets:
      db_pass:
        file: ./db_pass.txt
      api_key:
        environment: API_KEY
    """)


class Cli:
    def __init__(self, tmp_path, compose=COMPOSE):
        self.dir = tmp_path
        (tmp_path / "nap-cluster.yml").write_text(CLUSTER)
        (tmp_path / "docker-compose.yml").write_text(compose)
        (tmp_path / "app.conf").write_text("hello=1\n")
        (tmp_path / "db_pass.txt").write_text(SECRET + "\n")
        self.world = FakeWorld(HOSTS)
        self.kv = MemoryKV()
        self.wiring = _Wiring(self.world, self.kv)
        self.environ = {"API_KEY": ENV_SECRET}

    def __call__(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(["-p", "shop", *argv], stdout=out, stderr=err, environ=self.environ, cwd=str(self.dir),
                      wiring=self.wiring, stdin=io.StringIO(""))
        return status, out.getvalue(), err.getvalue()

    def containers(self, service=None):
        return [c for c in self.world.all_containers() if service in (None, c.request.spec.name)]

    def untouched(self):
        changing = {"create", "start", "stop", "remove"}
        calls = [c for e in self.world.engines.values() for c in e.calls if c[0] in changing]
        trees = [p for f in self.world.files_by_host.values() for p in f.tree]
        return not self.world.all_containers() and not self.kv.list("") and not calls and not trees


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def _mounts(environ=None, compose=COMPOSE, tmp="/p"):
    project = parse_project([("docker-compose.yml", compose)], project_name="shop", working_dir=tmp,
                            environ=environ or {"API_KEY": ENV_SECRET})
    return {s.name: s.file_mounts for s in project.services}


# ---------------------------------------------------------------------------- reading the file


def test_short_and_long_syntax_defaults_targets_modes_and_owners():
    web = _mounts()["web"]
    got = [(m.kind, m.name, m.target, oct(m.mode), m.uid, m.gid, m.file) for m in web]
    assert got == [("config", "app_conf", "/app_conf", "0o444", None, None, "/p/app.conf"),
                   ("config", "app_conf", "/etc/app.conf", "0o440", None, None, "/p/app.conf"),
                   ("secret", "db_pass", "/run/secrets/db_pass", "0o400", None, None, "/p/db_pass.txt"),
                   ("secret", "api_key", "/run/secrets/key", "0o440", 1000, 1001, None)]
    assert web[3].env == "API_KEY" and web[3].data == ENV_SECRET.encode()
    assert ENV_SECRET not in repr(web)  # a value never shows in a trace
    (inline,) = _mounts()["other"]
    assert (inline.target, inline.data) == ("/inline", b"x=1")


def _refused(compose):
    with pytest.raises(ConfigError) as err:
        parse_project([("docker-compose.yml", compose)], project_name="shop", working_dir="/p", environ={})
    return str(err.value)


BASE = "services:\n  web:\n    image: busybox\n"


@pytest.mark.parametrize("body,message", [
    ("    secrets: [db_pas]\nsecrets:\n  db_pass: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: secret 'db_pas' is not defined under the top-level secrets "
     "(did you mean 'db_pass'?)"),
    ("    configs: [nope]\n",
     "docker-compose.yml:4: service 'web': configs: config 'nope' is not defined under the top-level configs"),
    ("    secrets: [{source: s, mode: 'rw'}]\nsecrets:\n  s: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: mode 'rw' is not an octal file mode (e.g. 0440)"),
    ("    secrets: [{source: s, mode: 01777}]\nsecrets:\n  s: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: mode 0o1777 is not a file mode (0 to 0777)"),
    ("    secrets: [{source: s, mode: 4000}]\nsecrets:\n  s: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: mode 0o7640 is not a file mode (0 to 0777)"),
    ("    secrets: [{source: s, mode: 0.5}]\nsecrets:\n  s: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: mode 0.5 is not a file mode (write it in octal, e.g. 0440)"),
    ("    secrets: [{source: s, uid: www-data}]\nsecrets:\n  s: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: uid 'www-data' must be a numeric id (names cannot be "
     "resolved on the hosts)"),
    ("    secrets: [s, {source: s}]\nsecrets:\n  s: {file: ./x}\n",
     "docker-compose.yml:4: service 'web': secrets: secret 's' and secret 's' both land at /run/secrets/s"),
    ("    secrets: [s]\nsecrets:\n  s: {external: true}\n",
     "docker-compose.yml:6: secret 's': external configs and secrets live in a swarm's store, which a cluster "
     "of plain Docker hosts does not have; use 'file:' (or 'environment:') instead"),
    ("    configs: [c]\nconfigs:\n  c: {external: true, name: other}\n",
     "docker-compose.yml:6: config 'c': external configs and secrets live in a swarm's store"),
    ("    secrets: [s]\nsecrets:\n  s: {content: hunter2}\n",
     "docker-compose.yml:6: secret 's': 'content:' is for configs only; give a secret with 'file:' or "
     "'environment:'"),
    ("    secrets: [s]\nsecrets:\n  s: {name: x}\n",
     "docker-compose.yml:6: secret 's': needs exactly one of 'file:', 'environment:'"),
    ("    configs: [c]\nconfigs:\n  c: {file: ./a, content: b}\n",
     "docker-compose.yml:6: config 'c': needs exactly one of 'file:', 'environment:', 'content:' (it has file, "
     "content)"),
])
def test_bad_references_and_definitions_are_refused_naming_file_line_service_and_name(body, message):
    text = _refused(BASE + body)
    assert text.startswith(message), text
    assert "hunter2" not in text


def test_bad_input_through_the_cli_exits_non_zero_and_creates_nothing(cli):
    (cli.dir / "docker-compose.yml").write_text(BASE + "    secrets: [nope]\n")
    status, out, err = cli("up", "-d")
    assert status == 3
    assert "docker-compose.yml:4: service 'web': secrets: secret 'nope' is not defined" in err
    assert cli.untouched()


# ---------------------------------------------------------------------------- shipping


def test_up_ships_each_copy_with_the_mode_and_owner_the_container_must_see(cli):
    status, out, err = cli("up", "-d")
    assert status == 0, err
    webs = cli.containers("web")
    assert sorted(c.request.host for c in webs) == list(HOSTS)
    binds = {v.split(":")[1]: v for v in webs[0].request.spec.volumes}
    assert sorted(binds) == ["/app_conf", "/etc/app.conf", "/run/secrets/db_pass", "/run/secrets/key"]
    assert all(v.startswith(FILES + "/") and v.endswith(":ro") for v in binds.values())
    assert webs[0].request.spec.file_mounts == ()
    for host in HOSTS:
        files = cli.world.files_by_host[host]
        tree = files.tree

        def copy(target):
            return tree[binds[target].split(":")[0]]

        assert copy("/run/secrets/db_pass") == ("file", 0o400, (SECRET + "\n").encode())
        assert copy("/run/secrets/key") == ("file", 0o440, ENV_SECRET.encode())
        assert copy("/app_conf") == ("file", 0o444, b"hello=1\n")
        assert copy("/etc/app.conf") == ("file", 0o440, b"hello=1\n")  # same content, its own copy
        assert files.owners == {binds["/run/secrets/key"].split(":")[0]: (1000, 1001)}
        for path, (kind, mode, _) in tree.items():
            if kind == "dir" and path.startswith("/var/lib/nap-compose/shop"):
                assert mode == 0o700, path
    (other,) = cli.containers("other")
    (inline,) = other.request.spec.volumes
    assert inline.endswith(":/inline:ro")
    assert cli.world.files_by_host[other.request.host].tree[inline.split(":")[0]] == ("file", 0o444, b"x=1")


def test_a_secret_value_appears_in_no_output_label_or_plan(cli):
    outputs = []
    for argv in (("config",), ("config", "--format", "json"), ("plan",), ("up", "-d"), ("ps",),
                 ("ps", "--format", "json"), ("plan",)):
        status, out, err = cli(*argv)
        assert status == 0, (argv, err)
        outputs += [out, err]
    config_out = outputs[0]
    assert "db_pass:\n    file: " in config_out and "api_key:\n    environment: API_KEY" in config_out
    for text in outputs:
        assert SECRET not in text and ENV_SECRET not in text
    for container in cli.containers():
        labels = json.dumps(dict(container.request.labels))
        assert SECRET not in labels and ENV_SECRET not in labels
        assert ENV_SECRET not in json.dumps(container.request.spec.environment)


def test_a_missing_secret_file_is_refused_naming_its_definition_and_nothing_is_created(cli):
    (cli.dir / "db_pass.txt").unlink()
    for argv in (("plan",), ("up", "-d")):
        status, out, err = cli(*argv)
        assert status == 3
        assert (f"ERROR: docker-compose.yml:26: service 'web': secret 'db_pass': file {cli.dir}/db_pass.txt does "
                "not exist on this machine") in err, err
        assert ENV_SECRET not in out + err
    assert cli.untouched()


def test_an_unset_environment_variable_is_refused_without_showing_any_value(cli):
    cli.environ = {}
    status, out, err = cli("up", "-d")
    assert status == 3
    assert ("ERROR: docker-compose.yml:28: service 'web': secret 'api_key': environment variable API_KEY is not "
            "set") in err
    assert SECRET not in out + err
    assert cli.untouched()


def test_a_secret_file_through_a_symlinked_directory_out_of_the_project_is_refused(cli, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside-etc")
    (outside / "db_pass.txt").write_text("operator-only\n")
    (cli.dir / "db_pass.txt").unlink()
    os.symlink(str(outside), cli.dir / "etc-link")
    for link in ("etc-link/db_pass.txt", None):  # the file a link through it, or named through it in place
        if link:
            os.symlink(link, cli.dir / "db_pass.txt")
        else:
            (cli.dir / "docker-compose.yml").write_text(
                (cli.dir / "docker-compose.yml").read_text().replace("./db_pass.txt", "./etc-link/db_pass.txt"))
        status, out, err = cli("up", "-d")
        assert status == 3, err
        said = "is a symlink to etc-link/db_pass.txt, outside" if link else "leads through the symlink etc-link"
        assert "secret 'db_pass': file " in err and said in err, err
        assert "operator-only" not in out + err
        assert cli.untouched()
        if link:
            (cli.dir / "db_pass.txt").unlink()


def test_a_secret_that_is_a_directory_is_refused(cli):
    (cli.dir / "db_pass.txt").unlink()
    (cli.dir / "db_pass.txt").mkdir()
    status, out, err = cli("up", "-d")
    assert status == 3
    assert f"secret 'db_pass': file {cli.dir}/db_pass.txt is a directory; a secret is one file" in err
    assert cli.untouched()


def test_editing_a_secret_recreates_its_consumers_only_and_down_removes_every_copy(cli):
    assert cli("up", "-d")[0] == 0
    before = {c.request.name: c.id for c in cli.containers()}
    (cli.dir / "db_pass.txt").write_text("another\n")
    status, out, err = cli("up", "-d")
    assert status == 0, err
    after = {c.request.name: c.id for c in cli.containers()}
    assert after["shop_other_1"] == before["shop_other_1"]
    assert all(after[f"shop_web_{i}"] != before[f"shop_web_{i}"] for i in (1, 2, 3))
    assert "another" not in out + err
    status, out, err = cli("down")
    assert status == 0, err
    assert all(files.tree.get(p) is None for files in cli.world.files_by_host.values()
               for p in list(files.tree) if p.startswith("/var/lib/nap-compose/shop"))
    assert not [p for f in cli.world.files_by_host.values() for p in f.tree if "/shop" in p]


def test_down_works_when_the_secret_file_and_variable_are_gone(cli):
    assert cli("up", "-d")[0] == 0
    (cli.dir / "db_pass.txt").unlink()
    cli.environ = {}
    status, out, err = cli("down")
    assert status == 0, err
    assert not cli.containers()
