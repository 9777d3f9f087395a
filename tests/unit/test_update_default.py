"""Which updates roll by default: a service whose file asks for it (``update_config``) or that has a
healthcheck is updated batch by batch; any other is recreated at once, as docker-compose does."""

import pytest

from napcompose.config import parse_project
from napcompose.config.render import render
from napcompose.planner import Recreate, RollingUpdate
from tests import nap
from tests.unit.test_orchestrator import Rig

HEALTH = "    healthcheck: {test: [CMD, 'true'], interval: 1s}\n"


def compose(version: str, extra: str = "", top: str = "") -> str:
    return ("version: '3.8'\n" + top + "services:\n"
            "  front: {image: busybox, links: ['web:app']}\n"
            f"  web:\n    image: busybox\n    scale: 3\n    environment: {{V: '{version}'}}\n" + extra)


def project(version: str, extra: str = "", top: str = ""):
    return parse_project([("docker-compose.yml", compose(version, extra, top))], project_name="gb")


def kinds(the_plan):
    return ([a.service for a in the_plan.actions if isinstance(a, RollingUpdate)],
            sorted(a.replica.label for a in the_plan.actions if isinstance(a, Recreate)))


@pytest.mark.parametrize("extra,top,rolls", [
    ("", "", False),
    (HEALTH, "", True),
    ("    deploy: {update_config: {}}\n", "", True),
    ("    deploy: {update_config: {order: start-first}}\n", "", True),
    ("", "x-nap: {update_config: {delay: 1s}}\n", True),
    ("    deploy: {update_config: {parallelism: 0}}\n", "", False),
])
def test_only_a_service_that_asks_for_it_or_has_a_healthcheck_rolls(extra, top, rolls):
    rig = Rig()
    assert not nap.up(rig.orc, project("1", extra, top)).failed
    the_plan = nap.preview(rig.orc, project("2", extra, top))
    assert kinds(the_plan) == ((["web"], []) if rolls else ([], ["web_1", "web_2", "web_3"]))


def test_an_update_nobody_asked_for_waits_on_nothing_and_keeps_every_address():
    rig = Rig()
    nap.up(rig.orc, project("1"))
    addresses = {i: rig.address("web", i) for i in (1, 2, 3)}
    started = rig.clock.now()
    report = nap.up(rig.orc, project("2"), force_recreate=True, timeout=1)
    assert not report.failed
    # no monitor (5 s) and no drain (1 s) per batch: the clock of the run never moved
    assert rig.clock.now() == started
    assert not [c for c in rig.world.all_containers() if c.request.name.endswith("-previous")]
    for i in (1, 2, 3):
        container = rig.world.container(f"gb_web_{i}")
        assert (container.state, dict(container.request.spec.environment)["V"]) == ("running", "2")
        assert container.request.ip == addresses[i]


def test_an_empty_update_config_survives_config_rendering():
    spec = project("1", "    deploy: {update_config: {}}\n").service("web")
    assert spec.update.given
    text = render(project("1", "    deploy: {update_config: {}}\n"))
    again = parse_project([("docker-compose.yml", text)], project_name="gb").service("web")
    assert again.update.given and again.update == spec.update
    assert not project("1").service("web").update.given
