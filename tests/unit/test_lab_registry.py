"""The lab's registries as files: configs, the htpasswd behind the second one, the daemons' trust."""

import json
import os
import stat

import shutil
import tempfile

import bcrypt
import pytest

from napcompose.lab import registry as lab_registry
from napcompose.lab.daemons import dockerd_argv, pidfiles
from napcompose.lab.layout import make_layout


@pytest.fixture
def short_dir():
    """A lab directory short enough for the daemons' unix sockets (pytest's tmp_path is too long)."""
    path = tempfile.mkdtemp(prefix="lr", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_prepare_writes_both_configs_and_a_bcrypt_htpasswd_kept_across_calls(short_dir):
    layout = make_layout("regt", "198.18.9.0/24", 2, short_dir)
    assert (layout.registry, layout.auth_registry) == ("198.18.9.254:5000", "198.18.9.254:5001")
    lab_registry.prepare(layout)
    open_one, secured = lab_registry.registries(layout)
    assert "addr: 198.18.9.254:5000" in open(open_one.config).read()
    assert "htpasswd" not in open(open_one.config).read()
    config = open(secured.config).read()
    assert "addr: 198.18.9.254:5001" in config and f"path: {secured.htpasswd}" in config
    assert f"rootdirectory: {secured.storage}" in config and os.path.isdir(secured.storage)
    found = lab_registry.credentials(layout)
    assert stat.S_IMODE(os.stat(lab_registry.credentials_file(layout)).st_mode) == 0o600
    user, hashed = open(secured.htpasswd).read().strip().split(":", 1)
    assert (found["registry"], user) == ("198.18.9.254:5001", found["username"])
    assert bcrypt.checkpw(found["password"].encode(), hashed.encode())
    lab_registry.prepare(layout)  # a restart keeps the password the tests and the operator use
    assert lab_registry.credentials(layout) == found
    assert json.loads(open(lab_registry.credentials_file(layout)).read())["password"] == found["password"]


def test_every_lab_dockerd_trusts_exactly_the_two_registries_and_teardown_finds_them(short_dir):
    layout = make_layout("regt", "198.18.9.0/24", 2, short_dir)
    argv = dockerd_argv(layout, layout.hosts[0])
    assert [a for a in argv if a.startswith("--insecure-registry")] == [
        "--insecure-registry=198.18.9.254:5000", "--insecure-registry=198.18.9.254:5001"]
    files = pidfiles(layout)
    assert files["registry"].startswith(layout.registry_dir) and files["registry-auth"].startswith(layout.registry_dir)
    assert lab_registry.argv(lab_registry.registries(layout)[0])[:2] == ["docker-registry", "serve"]
