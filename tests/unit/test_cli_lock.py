"""The project lock from the command line: who takes it, who never does, waiting, and a lost lease."""

import json
import os
import socket
import subprocess
import sys

import pytest

from napcompose.adapters.processes import process_table, start_time
from napcompose.lock import Holder, ProjectLock
from tests.fakes_engine import FakeClock
from tests.unit.test_cli_project import Cli

KEY = "/nap-compose/locks/shop"
T0 = 1_800_000_000.0  # what the test wiring's clock says


class RecordingKV:
    """The fake store, noting every write to the lock key."""

    def __init__(self, kv):
        self._kv = kv
        self.lock_writes = []
        self.on_create = None

    def __getattr__(self, name):
        return getattr(self._kv, name)

    def create(self, key, value):
        if key == KEY:
            self.lock_writes.append("create")
        elif self.on_create is not None:
            self.on_create(key)
        return self._kv.create(key, value)

    def compare_and_swap(self, key, value, version):
        if key == KEY:
            self.lock_writes.append("cas")
        return self._kv.compare_and_swap(key, value, version)

    def compare_and_delete(self, key, version):
        if key == KEY:
            self.lock_writes.append("cad")
        return self._kv.compare_and_delete(key, version)

    def get(self, key):
        if key == KEY:
            self.lock_writes.append("get")
        return self._kv.get(key)


@pytest.fixture
def cli(tmp_path):
    c = Cli(tmp_path)
    c.kv = RecordingKV(c.kv)
    c.wiring.kv = c.kv
    return c


def _held_by_someone_else(kv, now=T0):
    lock = ProjectLock(kv, "/nap-compose", "shop", Holder("bob", "ws2", 777, "nap-compose down"),
                       FakeClock(now), lambda: "bobs-token")
    lock.acquire()
    return lock


@pytest.mark.parametrize("argv", [["up", "-d"], ["scale", "web=2"], ["stop"], ["start"], ["restart"],
                                  ["rm", "-f"], ["down"], ["hosts", "sync"]])
def test_every_changing_command_takes_the_lock_and_gives_it_back(cli, argv):
    if argv[0] != "up":
        assert cli("up", "-d")[0] == 0
    cli.kv.lock_writes.clear()
    status, _, err = cli(*argv)
    assert status == 0, err
    assert cli.kv.lock_writes[0] == "create" and cli.kv.lock_writes[-1] == "cad", cli.kv.lock_writes
    assert cli.kv.get(KEY) is None


@pytest.mark.parametrize("argv", [["ps"], ["config"], ["plan"], ["hosts", "check"], ["logs"],
                                  ["up", "--dry-run"]])
def test_read_only_commands_never_touch_the_lock(cli, argv):
    if argv != ["logs"]:  # the fake engine keeps no logs: logs runs on an empty project
        assert cli("up", "-d")[0] == 0
    holder = _held_by_someone_else(cli.kv)  # even while someone holds it, they answer
    cli.kv.lock_writes.clear()
    status, _, err = cli(*argv)
    assert status == 0, err
    assert cli.kv.lock_writes == []
    holder.release()


def test_a_second_writer_fails_naming_the_holder_and_changes_nothing(cli):
    _held_by_someone_else(cli.kv)
    before = cli.kv.list("")
    status, out, err = cli("up", "-d")
    assert status == 10
    assert err == ("ERROR: project shop is locked by bob@ws2 (pid 777, `nap-compose down`) since "
                   "2027-01-15 08:00:00 UTC (0 s ago): another command is changing it. Run this again once "
                   "it is done, or pass --lock-wait[=SECONDS] to wait for it (a crashed holder's lock runs out by "
                   "itself at 2027-01-15 08:00:30 UTC)\n")
    assert cli.kv.list("") == before
    assert not cli.world.all_containers()
    changing = {"create", "start", "stop", "remove"}
    assert not [c for e in cli.world.engines.values() for c in e.calls if c[0] in changing]


def test_waiting_a_bounded_time_then_failing(cli):
    _held_by_someone_else(cli.kv)
    status, _, err = cli("down", "--lock-wait=5")
    assert status == 10
    lines = err.splitlines()
    assert lines[0].startswith("Waiting for the lock of project shop, held by bob@ws2 (pid 777, "
                               "`nap-compose down`) since ")
    assert lines[0].endswith(" (at most 5 s)")
    assert "(still, after waiting 5 s)" in lines[1]


def test_waiting_without_a_limit_takes_over_a_crashed_holders_lock(cli):
    _held_by_someone_else(cli.kv, now=T0 - 20)  # its lease runs out 10 s from now; nobody renews it
    status, _, err = cli("up", "-d", "--lock-wait")
    assert status == 0, err
    assert "(as long as it takes)" in err
    assert ("WARNING: took over the lock of project shop from bob@ws2 (pid 777, `nap-compose down`) since "
            "2027-01-15 07:59:40 UTC") in err
    assert len(cli.names()) == 2
    assert cli.kv.get(KEY) is None


def test_a_lock_left_by_a_crashed_command_of_this_machine_is_taken_over_at_once(cli):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # the holder: a command on this machine that was killed
    crashed = Holder("bob", socket.gethostname(), child.pid, "nap-compose up -d", process_table(),
                     start_time(os.getpid()))  # its start time, whatever process has its pid now
    ProjectLock(cli.kv, "/nap-compose", "shop", crashed, FakeClock(T0), lambda: "crashed").acquire()
    status, _, err = cli("up", "-d")  # no --lock-wait: its lease has 30 s to run, but nobody can renew it
    assert status == 0, err
    assert err.startswith(f"WARNING: took over the lock of project shop from bob@{socket.gethostname()} "
                          f"(pid {child.pid}, `nap-compose up -d`) since 2027-01-15 08:00:00 UTC (0 s ago): "
                          "its process is gone (that command crashed); check the project with "
                          "`nap-compose ps`\n"), err
    assert len(cli.names()) == 2 and cli.kv.get(KEY) is None


def test_the_holder_record_names_its_process_so_a_later_run_can_tell_it_crashed(cli):
    seen = []
    cli.kv.on_create = lambda key: seen.append(json.loads(cli.kv.get(KEY)[0])) if not seen else None
    assert cli("up", "-d")[0] == 0
    assert (seen[0]["process_table"], seen[0]["started"]) == (process_table(), start_time(os.getpid()))


def test_the_holder_record_names_this_run(cli):
    seen = []
    cli.kv.on_create = lambda key: seen.append(json.loads(cli.kv.get(KEY)[0])) if not seen else None
    status, _, err = cli("up", "-d", "--scale", "web=2")
    assert status == 0, err
    record = seen[0]
    assert (record["machine"], record["pid"]) == (socket.gethostname(), os.getpid())
    assert record["command"] == "nap-compose -p shop up -d --scale web=2"
    assert record["expires"] - record["since"] == 30.0


def test_a_lock_taken_over_during_the_run_makes_it_fail(cli):
    def steal(key):
        if "/addresses/" in key and cli.kv.get(KEY) is not None:
            cli.kv._kv._data[KEY] = (json.dumps({"token": "x", "user": "eve", "machine": "ws3", "pid": 1,
                                                 "command": "nap-compose up", "since": T0, "expires": T0 + 30}),
                                     10_000)
            cli.kv.on_create = None

    cli.kv.on_create = steal
    status, _, err = cli("up", "-d")
    assert status == 10
    assert err.splitlines()[-1] == (
        "ERROR: the lock of project shop was taken over by eve@ws3 (pid 1, `nap-compose up`) since "
        "2027-01-15 08:00:00 UTC (0 s ago) while this command held it (its lease of 30 s was not renewed in "
        "time); check the project with `nap-compose ps`")
    assert json.loads(cli.kv.get(KEY)[0])["user"] == "eve"  # never deleted another run's lock


@pytest.mark.parametrize("value", ["web", "-3", "inf", "nan"])
def test_lock_wait_takes_only_a_number_of_seconds(cli, value):
    status, _, err = cli("up", "-d", f"--lock-wait={value}")
    assert status == 2
    assert err == (f"ERROR: nap-compose up: argument --lock-wait: '{value}' is not a number of seconds (write "
                   "--lock-wait=SECONDS, or --lock-wait alone to wait as long as it takes)\n")
    assert cli.untouched()


def test_the_old_spelling_still_waits_for_the_lock_where_it_is_not_docker_compose_s_wait(cli):
    _held_by_someone_else(cli.kv)
    status, _, err = cli("down", "--wait=5")
    assert status == 10
    assert err.splitlines()[0] == ("WARNING: --wait here waits for the project's lock: its name is now "
                                   "--lock-wait (docker compose's --wait, wait until the services run, belongs "
                                   "to up and start)")
    assert err.splitlines()[1].endswith(" (at most 5 s)")
    status, _, err = cli("stop", "--wait=x")
    assert (status, err) == (2, "ERROR: nap-compose stop: argument --wait: 'x' is not a number of seconds "
                                "(write --wait=SECONDS, or --wait alone to wait as long as it takes)\n")


@pytest.mark.parametrize("argv", [("up", "-d", "--wait=120"), ("up", "--wait", "120"), ("start", "--wait=120")])
def test_the_old_lock_spelling_on_up_and_start_is_answered_with_both_new_ones(cli, argv):
    status, out, err = cli(*argv)
    assert (status, out) == (2, "")
    command = argv[0]
    read_as = " ('120' is read as a service)" if argv[1:] == ("--wait", "120") else ""
    prog = "nap-compose up: " if "--wait=120" in argv and command == "up" else (
        "nap-compose start: " if command == "start" else "")
    assert err == (f"ERROR: {prog}--wait takes no value{read_as}: on {command} it waits until the services run "
                   "(and are healthy), as docker compose's --wait does. To wait for the project's lock write "
                   "--lock-wait=120; to bound the wait, --wait --wait-timeout 120\n")
    assert cli.untouched()


def test_build_holds_the_lock_while_it_puts_images_on_the_hosts(cli, monkeypatch):
    from tests.fakes_engine import FakeImages

    (cli.dir / "app").mkdir()
    (cli.dir / "app" / "Dockerfile").write_text("FROM scratch\n")
    (cli.dir / "docker-compose.yml").write_text('version: "2.4"\nservices:\n  app:\n    build: ./app\n')
    seen = []
    build = FakeImages.build
    monkeypatch.setattr(FakeImages, "build", lambda self, host, spec, tag, no_cache=False: (
        seen.append(json.loads(cli.kv.get(KEY)[0])["command"]), build(self, host, spec, tag, no_cache))[1])
    status, _, err = cli("build")
    assert status == 0, err
    assert seen == ["nap-compose -p shop build"]
    assert cli.kv.get(KEY) is None
    _held_by_someone_else(cli.kv)
    status, _, err = cli("build")
    assert status == 10 and "is locked by bob@ws2" in err
    assert len(seen) == 1


def test_a_store_that_fails_when_the_lock_is_given_back_only_warns(cli):
    from napcompose.errors import StoreError

    def broken(key, version):
        raise StoreError("etcd at 198.18.0.254:2379 failed on /nap-compose/locks/shop: timed out")

    cli.kv.compare_and_delete = broken
    status, _, err = cli("up", "-d")
    assert status == 0, err
    assert err.splitlines()[-1] == (
        "WARNING: could not give back the lock of project shop (etcd at 198.18.0.254:2379 failed on "
        "/nap-compose/locks/shop: timed out); it runs out by itself within 30 s")
