"""A host without a device a service asks for: the engine's error reaches the user, naming the
replica, the host and the container, and the run fails without a half-made service."""

import textwrap

import pytest

from tests.unit.test_cli_project import Cli

COMPOSE = textwrap.dedent("""\
    version: "2.4"
    services:
      db:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
        devices: ["/dev/ttyUSB0:/dev/ttyS0"]
    """)

MISSING = 'error gathering device information while adding custom device "/dev/ttyUSB0": no such file or directory'


@pytest.fixture
def cli(tmp_path):
    made = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    return made


@pytest.mark.parametrize("operation", ["create", "start"])
def test_the_engines_device_error_names_replica_and_host(cli, operation):
    for engine in cli.world.engines.values():
        engine.fail(operation, "shop_db_1", MISSING)
    status, _, err = cli("up", "-d")
    assert status == 8
    lines = err.splitlines()
    host = lines[-1].split()[3].rstrip(":")
    assert host in cli.world.engines
    assert lines[-2:] == ["ERROR: up: 1 of 7 steps failed",  # and the bridge filters on 3 hosts, twice
                          f"  Creating db_1 on {host}: {operation} shop_db_1: {MISSING}"]
