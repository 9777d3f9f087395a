"""``depends_on: {job: {condition: service_completed_successfully}}``: dependents start once the job's
container exited 0; another exit code fails the job and skips its dependents, naming code and host."""

import textwrap

import pytest

from napcompose.model import Dependency, Project, ServiceSpec
from napcompose.planner import Create, Keep, Recreate, RollingUpdate, Start, render
from tests import nap
from tests.unit.test_cli_project import Cli
from tests.unit.test_orchestrator import Rig


def project(command=("migrate",)):
    return Project(name="gb", services=(
        ServiceSpec(name="migrate", image="busybox", command=command),
        ServiceSpec(name="web", image="busybox",
                    depends_on=(Dependency("migrate", "service_completed_successfully"),)),
    ))


@pytest.fixture
def rig():
    return Rig()


def test_the_plan_waits_for_the_job_and_says_so(rig):
    plan = nap.preview(rig.orc, project())
    actions = {a.key: a for a in plan.actions if isinstance(a, Create)}
    assert actions["migrate_1"].completed and not actions["web_1"].completed
    assert "migrate_1" in actions["web_1"].after
    line = next(line for line in render(plan) if line.startswith("migrate_1") and ": create" in line)
    assert line.endswith("create (not created yet); dependents wait until it exits 0")


def test_a_job_that_exits_0_lets_its_dependents_start_after_it(rig):
    seen = {}  # what the job was doing when each container was created
    for engine in rig.world.engines.values():
        engine.exit_script["gb_migrate_1"] = [None, None, 0]  # runs for two looks, then exits 0
        create = engine.create_container

        def recording(request, create=create):
            job = [c for c in rig.world.all_containers() if c.request.name == "gb_migrate_1"]
            seen[request.name] = (job[0].state, job[0].exit_code) if job else None
            return create(request)

        engine.create_container = recording
    report = nap.up(rig.orc, project())
    assert report.failed == ()
    assert seen == {"gb_migrate_1": None, "gb_web_1": ("exited", 0)}
    migrate, web = rig.world.container("gb_migrate_1"), rig.world.container("gb_web_1")
    assert (migrate.state, migrate.exit_code, web.state) == ("exited", 0, "running")
    assert rig.clock.t > 1_800_000_000.0  # it waited while the job ran


def test_a_job_that_exits_3_fails_and_its_dependents_are_not_created(rig):
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 3
    report = nap.up(rig.orc, project())
    host = rig.world.host_of("gb_migrate_1")
    failed = {o.subject: o.error for o in report.failed}
    assert failed == {"migrate_1": f"{host}: migrate_1 exited with code 3 (its dependents wait for "
                                   "service_completed_successfully)",
                      "web_1": "dependency migrate_1 failed"}
    assert [c.request.name for c in rig.world.all_containers()] == ["gb_migrate_1"]
    assert rig.world.container("gb_migrate_1").state == "exited"  # nothing started it again


def test_a_finished_job_is_started_again_by_the_next_up_and_waited_for(rig):
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 0
    assert nap.up(rig.orc, project()).failed == ()
    plan = nap.preview(rig.orc, project())
    job = next(a for a in plan.actions if a.key == "migrate_1")
    assert isinstance(job, Start) and job.completed
    assert isinstance(next(a for a in plan.actions if a.key == "web_1"), Keep)
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 5
    failed = {o.subject: o.error for o in nap.up(rig.orc, project()).failed}
    assert set(failed) == {"migrate_1", "web_1"} and "exited with code 5" in failed["migrate_1"]


def test_a_changed_job_is_recreated_not_rolled(rig):
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 0
    nap.up(rig.orc, project())
    plan = nap.preview(rig.orc, project(command=("migrate", "--again")))
    assert not any(isinstance(a, RollingUpdate) for a in plan.actions)
    job = next(a for a in plan.actions if a.key == "migrate_1")
    assert isinstance(job, Recreate) and job.completed
    assert nap.up(rig.orc, project(command=("migrate", "--again"))).failed == ()


def test_start_waits_for_the_job_too(rig):
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 0
    nap.up(rig.orc, project())
    nap.stop(rig.orc, project(), ())
    for engine in rig.world.engines.values():
        engine.exits_on_start["gb_migrate_1"] = 2
    failed = {o.subject: o.error for o in nap.start(rig.orc, project(), ()).failed}
    assert set(failed) == {"migrate_1", "web_1"} and "exited with code 2" in failed["migrate_1"]
    assert rig.world.container("gb_web_1").state == "exited"


COMPOSE = textwrap.dedent("""\
    services:
      migrate:
        image: nap-lab/busybox:latest
        command: ["sh", "-c", "exit 3"]
      web:
        image: nap-lab/busybox:latest
        command: ["sleep", "3600"]
        depends_on:
          migrate: {condition: service_completed_successfully}
    """)


def test_the_command_exits_non_zero_naming_the_job_its_code_and_host(tmp_path):
    cli = Cli(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    for engine in cli.world.engines.values():
        engine.exits_on_start["shop_migrate_1"] = 3
    status, _, err = cli("up", "-d")
    host = cli.world.host_of("shop_migrate_1")
    assert status == 8
    assert (f"  Creating migrate_1 on {host}: migrate_1 exited with code 3 (its dependents wait for "
            "service_completed_successfully)\n") in err
    assert "  Creating web_1 on node2: dependency migrate_1 failed\n".replace("node2", _web_host(err)) in err
    assert cli.names() == ["shop_migrate_1"]


def _web_host(err):
    """The host the plan placed web_1 on, as the progress line names it (it was never created)."""
    line = next(line for line in err.splitlines() if line.startswith("Creating web_1 on "))
    return line.split()[3]
