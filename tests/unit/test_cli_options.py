"""Tests build their Options as the CLI does: for the same command line, tests/nap.py hands the
orchestrator the same command and the same Options as the CLI's handler, so a test cannot run an
option the command line cannot spell, nor drift from what it means."""

import pytest

from napcompose.cli.options import attached_kill, attached_stop
from napcompose.errors import UsageError
from napcompose.orchestrator import Orchestrator
from napcompose.planner import Command, Options
from tests import nap
from tests.unit.test_cli_project import Cli


class _Planned(Exception):
    """Raised where the CLI's orchestrator would plan: what it was asked is all this test needs."""


class _Recorder:
    """The orchestrator doors tests/nap.py uses, recording what they were asked."""

    def __init__(self):
        self.asked = []

    def run(self, project, options, command=Command.UP, name=None):
        self.asked.append((command, options))

    def plan(self, project, options, command=Command.UP, name=None):
        self.asked.append((command, options))
        return None, None


@pytest.fixture
def asked_by_cli(tmp_path, monkeypatch):
    """``argv`` → (project, command, Options) the CLI's handler asked its orchestrator to plan."""
    cli = Cli(tmp_path)
    seen = []

    def plan(self, project, options=Options(), command=Command.UP, name=None):
        seen.append((project, command, options))
        raise _Planned()

    monkeypatch.setattr(Orchestrator, "plan", plan)

    def ask(*argv):
        with pytest.raises(_Planned):
            cli(*argv)
        return seen.pop()

    return ask


def _by_helper(call, project):
    recorder = _Recorder()
    call(recorder, project)
    (asked,) = recorder.asked
    return asked


EVERY_FLAG = ["up", "-d", "--force-recreate", "--no-deps", "--remove-orphans", "--prune-previous", "--no-rolling",
              "--build", "--scale", "web=3", "-t", "5", "web"]


CASES = [
    (["up", "-d"], lambda o, p: nap.up(o, p)),
    (EVERY_FLAG, lambda o, p: nap.up(o, p, ("web",), scales={"web": 3}, timeout=5, force_recreate=True,
                                     no_deps=True, remove_orphans=True, prune_previous=True, no_rolling=True,
                                     build=True)),
    (["up", "-d", "--no-recreate", "db", "web"], lambda o, p: nap.up(o, p, ("db", "web"), no_recreate=True)),
    (["up", "--no-start", "web"], lambda o, p: nap.up(o, p, ("web",), no_start=True)),
    (["plan", "--scale", "web=2", "--no-rolling", "web"],
     lambda o, p: nap.preview(o, p, ("web",), scales={"web": 2}, no_rolling=True)),
    (["scale", "-t", "2", "web=3", "db=0"], lambda o, p: nap.scale(o, p, {"web": 3, "db": 0}, timeout=2)),
    (["down", "--remove-orphans", "-t", "3"], lambda o, p: nap.down(o, p, timeout=3, remove_orphans=True)),
    (["down"], lambda o, p: nap.down(o, p.name)),
    (["stop", "-t", "4", "web"], lambda o, p: nap.stop(o, p, ("web",), timeout=4)),
    (["start", "db"], lambda o, p: nap.start(o, p, ("db",))),
    (["restart", "-t", "1"], lambda o, p: nap.restart(o, p, timeout=1)),
    (["rm", "-f", "-s", "web"], lambda o, p: nap.rm(o, p, ("web",), stop=True)),
    (["kill", "-s", "SIGHUP", "web"], lambda o, p: nap.kill(o, p, ("web",), signal="SIGHUP")),
    (["kill"], lambda o, p: nap.kill(o, p)),
    (["rollback", "web"], lambda o, p: nap.rollback(o, p, ("web",))),
]


@pytest.mark.parametrize("argv,call", CASES, ids=[" ".join(argv) for argv, _ in CASES])
def test_the_helper_asks_what_the_cli_asks(asked_by_cli, argv, call):
    project, command, options = asked_by_cli(*argv)
    assert _by_helper(call, project) == (command, options)


def test_every_flag_reaches_the_options(asked_by_cli):
    _, command, options = asked_by_cli(*EVERY_FLAG)
    assert (command, options) == (Command.UP, Options(
        force_recreate=True, remove_orphans=True, services=("web",), no_deps=True, timeout=5,
        scales=(("web", 3),), build=True, rolling=False, prune_previous=True))


def test_a_flag_the_command_line_cannot_spell_is_refused(asked_by_cli):
    project, _, _ = asked_by_cli("up", "-d")
    with pytest.raises(UsageError, match="unrecognized arguments: --stop-first"):
        nap.up(_Recorder(), project, stop_first=True)


def test_ctrl_c_after_an_attached_up_stops_its_services_with_its_timeout_then_kills_them(asked_by_cli):
    _, _, up = asked_by_cli(*EVERY_FLAG)
    assert attached_stop(up) == Options(services=("web",), timeout=5)
    assert attached_kill(up) == Options(services=("web",))
