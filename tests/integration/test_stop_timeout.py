"""``-t`` reaches Docker: a container that ignores SIGTERM is killed after ``-t`` seconds, not ten.

busybox ``sleep`` as PID 1 ignores SIGTERM, so without ``stop_signal`` every stop waits the whole
timeout before Docker sends SIGKILL (10 s by default). Docker records both signals as ``kill``
events with their times; the gap between a container's SIGTERM and its SIGKILL is the timeout the
daemon was really given. That gap is what these tests read: it does not depend on how busy the
machine is, where a wall-clock bound on the whole command would (the lab shares two cores with
every other test run). This checks that the option is honoured, not how fast nap-compose is.
"""

import time
from typing import Dict, List

import pytest

from tests.integration.deploy_support import IMAGE, DeployProject

pytestmark = pytest.mark.integration

DEFAULT_STOP_TIMEOUT = 10.0  # Docker's own
HONOURED = 5.0  # a gap below this means -t 1 was used, not the default


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path, prefix="tstop")
    yield p
    p.cleanup()


def _stubborn(project):
    project.write({"web": {"image": IMAGE, "command": ["sleep", "3600"]}})  # no stop_signal, no init


def _grace_periods(project, since: float) -> List[float]:
    """Seconds between SIGTERM and SIGKILL for each of the project's containers stopped since ``since``."""
    until = time.time() + 1
    gaps = []
    for host in project.lab.cluster.hosts:
        signals: Dict[str, Dict[str, float]] = {}
        events = project.docker(host.name).api.events(
            since=int(since), until=int(until) + 1, decode=True,
            filters={"type": "container", "event": "kill", "label": f"com.docker.compose.project={project.name}"})
        for event in events:
            signal = event.get("Actor", {}).get("Attributes", {}).get("signal")
            signals.setdefault(event["id"], {})[signal] = event["timeNano"] / 1e9
        gaps += [sent["9"] - sent["15"] for sent in signals.values() if "9" in sent and "15" in sent]
    return gaps


def _run(project, *argv):
    since = time.time() - 1
    status, _, err = project.nap(*argv)
    assert status == 0, err
    return _grace_periods(project, since), err


def test_recreate_and_scale_down_honour_t(project):
    _stubborn(project)
    project.ok("up", "-d", "--scale", "web=2")
    gaps, err = _run(project, "up", "-d", "--force-recreate", "--scale", "web=2", "-t", "1")
    assert "Recreating web_1" in err and "Recreating web_2" in err
    assert len(gaps) == 2 and all(gap < HONOURED for gap in gaps), gaps
    gaps, err = _run(project, "scale", "web=1", "-t", "1")
    assert "Removing web_2" in err
    assert len(gaps) == 1 and gaps[0] < HONOURED, gaps
    assert sorted(project.containers()) == [f"{project.name}_web_1"]


def test_stop_restart_and_down_honour_t(project):
    _stubborn(project)
    project.ok("up", "-d")
    for argv in (("restart", "-t", "1"), ("stop", "-t", "1")):
        gaps, _ = _run(project, *argv)
        assert len(gaps) == 1 and gaps[0] < HONOURED, (argv, gaps)
    project.ok("start")
    gaps, _ = _run(project, "down", "-t", "1")
    assert len(gaps) == 1 and gaps[0] < HONOURED, gaps
    assert project.containers() == {}


def test_without_t_the_stop_waits_dockers_default(project):
    """The contrast that makes the checks above mean something: the same stop without -t."""
    _stubborn(project)
    project.ok("up", "-d")
    gaps, _ = _run(project, "stop")
    assert len(gaps) == 1 and gaps[0] >= DEFAULT_STOP_TIMEOUT - 0.5, gaps
