"""Rolling updates on a lab of their own (``naprl``): a 3-replica HTTP service behind a link alias while a
client container asks the alias every 100 ms.

stop-first, parallelism 1: no request fails and every replica ends on the new version at its address. A new
version whose healthcheck fails: the update pauses after the first replica, the two others stay on the old
version, the client keeps being answered, and ``rollback`` brings back the kept container.
"""

import datetime
import threading
import time

import pytest

from tests.integration.deploy_support import module_lab, IMAGE, DeployProject, until

pytestmark = pytest.mark.integration

LAB_NAME, LAB_SUBNET = "naprl", "198.18.45.0/24"
POLLS = 3000  # the client's bound: 100 ms apart, far more than a test needs

HEALTHY = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
# busybox's own `timeout`: Debian's static busybox wget crashes when given -T
CLIENT = ("i=0; while [ $$i -lt %d ]; do if timeout 2 wget -q -O /tmp/o http://app/; then echo ok $$(cat /tmp/o); "
          "else echo fail $$(grep -w app /etc/hosts); fi; i=$$((i+1)); sleep 0.1; done" % POLLS)


@pytest.fixture(scope="module")
def own_lab():
    with module_lab(LAB_NAME, LAB_SUBNET, 3) as started:
        yield started


@pytest.fixture
def project(own_lab, tmp_path):
    p = DeployProject(own_lab, tmp_path, prefix="r")
    yield p
    p.cleanup()


def services(version: str, healthcheck=HEALTHY, update=None):
    web = {"image": IMAGE, "scale": 3, "stop_signal": "SIGKILL", "environment": {"V": version},
           "command": ["sh", "-c", "mkdir -p /www && echo v$$V > /www/index.html && exec httpd -f -p 80 -h /www"],
           "healthcheck": {"test": healthcheck, "interval": "1s", "timeout": "1s", "retries": 2}}
    if update:
        web["deploy"] = {"update_config": update}
    client = {"image": IMAGE, "stop_signal": "SIGKILL", "links": ["web:app"], "command": ["sh", "-c", CLIENT]}
    return {"web": web, "client": client}


def start(project, version="1"):
    project.write(services(version))
    project.ok("up", "-d")
    until(lambda: answers(project), lambda found: found[-3:] == [f"ok v{version}"] * 3, timeout=30)


def answers(project, since=None):
    """The client's lines (each poll's result), only those logged at ``since`` or later when given."""
    _, container = project.containers()[f"{project.name}_client_1"]
    stamp = since.timestamp() if since else None
    lines = container.logs(timestamps=True, since=int(stamp) if stamp else None).decode().splitlines()
    found = []
    for line in lines:
        when, _, text = line.partition(" ")
        if stamp is not None and _parse(when) < stamp:
            continue
        if text.startswith(("ok ", "fail")):
            found.append(text.strip())
    return found


def _parse(docker_time: str) -> float:
    head, _, fraction = docker_time.rstrip("Z").partition(".")
    moment = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() + float("0." + (fraction or "0"))


def version_of(project, index: int) -> str:
    code, out = project.run_in(f"{project.name}_client_1", "timeout", "5", "wget", "-q", "-O", "-",
                               f"http://web_{index}/")
    return out.strip() if code == 0 else f"error {code}: {out}"


def updated_without_a_failed_request(project, began, out: str) -> None:
    """The client asked all through the update (about every 100 ms), never failed, saw v1 then v2, and
    every replica answers v2."""
    polls = answers(project, since=began)
    assert len(polls) >= 30, polls
    assert [p for p in polls if not p.startswith("ok ")] == [], out
    assert polls[0] == "ok v1" and polls[-1] == "ok v2"
    assert [version_of(project, i) for i in (1, 2, 3)] == ["v2", "v2", "v2"]


def placed(project, names):
    """{name: (host, address, container id)}."""
    return {n: (project.containers()[n][0], project.address(n), project.containers()[n][1].id) for n in names}


def test_stop_first_one_by_one_answers_every_request_and_keeps_every_address(project):
    start(project)
    names = [f"{project.name}_web_{i}" for i in (1, 2, 3)]
    before = {n: project.address(n) for n in names}
    ids = {n: project.containers()[n][1].id for n in names}
    began = datetime.datetime.now(datetime.timezone.utc)
    project.write(services("2"))
    out = project.ok("up", "-d")
    updated_without_a_failed_request(project, began, out)
    assert {n: project.address(n) for n in names} == before
    assert all(project.containers()[n][1].id != ids[n] for n in names)
    assert sorted(project.containers()) == sorted(names + [f"{project.name}_client_1"])  # nothing kept
    # the alias settled on the lowest-numbered healthy replica
    assert project.block_names(f"{project.name}_client_1")["app"] == before[names[0]]


def test_a_failing_healthcheck_pauses_with_two_old_and_rollback_returns_the_kept_one(project):
    start(project)
    first = f"{project.name}_web_1"
    host, old = project.containers()[first]
    address = project.address(first)
    began = datetime.datetime.now(datetime.timezone.utc)
    project.write(services("3", healthcheck=["CMD", "false"]))
    status, out, err = project.nap("up", "-d")
    assert status != 0
    assert (f"update of web paused: {host}: web_1 failed its gate (healthcheck healthy): its healthcheck "
            "reports unhealthy; web_2, web_3 stay on the old version") in err, err
    assert [version_of(project, i) for i in (2, 3)] == ["v1", "v1"]
    kept = project.containers()[f"{first}-previous"][1]
    assert kept.id == old.id and kept.status == "exited"
    ps = project.ok("ps")
    assert any(line.startswith(f"{first}-previous ") and "(previous, kept for rollback)" in line
               for line in ps.splitlines()), ps
    # the consumers were sent to healthy replicas all along: no failed request, never the new version
    polls = answers(project, since=began)
    assert polls and set(polls) == {"ok v1"}, polls

    project.write(services("1"))
    project.ok("rollback", "web")
    host_after, back = project.containers()[first]
    assert (back.id, host_after, project.address(first)) == (old.id, host, address)
    assert version_of(project, 1) == "v1"
    assert f"{first}-previous" not in project.containers()
    assert "Recreating" not in project.ok("up", "-d")  # whole again: up has nothing to change


def test_start_first_moves_each_replica_to_a_new_address_without_a_failed_request(project):
    start(project)
    names = [f"{project.name}_web_{i}" for i in (1, 2, 3)]
    before = {n: project.address(n) for n in names}
    project.write(services("1", update={"order": "start-first"}))
    assert "Recreating" not in project.ok("up", "-d")  # deploy.update_config is not part of the config hash
    began = datetime.datetime.now(datetime.timezone.utc)
    project.write(services("2", update={"order": "start-first"}))
    plan = project.ok("plan")
    assert f"(address changes: {before[names[0]]} -> a new address from the pool)" in plan, plan
    out = project.ok("up", "-d")
    updated_without_a_failed_request(project, began, out)
    after = {n: project.address(n) for n in names}
    assert all(after[n] != before[n] for n in names), (before, after)
    assert sorted(project.containers()) == sorted(names + [f"{project.name}_client_1"])
    held = {a.ip for a in project.allocations()}
    assert not held & set(before.values()), held  # the old addresses were released
    assert all("@gen" not in a.owner for a in project.allocations())
    assert project.block_names(f"{project.name}_client_1")["app"] == after[names[0]]


def test_failure_action_rollback_returns_the_updated_replica_by_itself(project):
    start(project)
    names = [f"{project.name}_web_{i}" for i in (1, 2, 3)]
    before = placed(project, names)
    began = datetime.datetime.now(datetime.timezone.utc)
    project.write(services("4", healthcheck=["CMD", "false"], update={"failure_action": "rollback"}))
    status, out, err = project.nap("up", "-d")
    assert status != 0
    host = before[names[0]][0]
    assert (f"update of web failed and was rolled back: {host}: web_1 failed its gate (healthcheck healthy): "
            "its healthcheck reports unhealthy") in err, err
    assert "Rolling back batch 1/1 of web" in out + err, out + err
    # web_1 is its old container again (same id, host and address); the two others were never touched
    assert placed(project, names) == before
    assert [version_of(project, i) for i in (1, 2, 3)] == ["v1", "v1", "v1"]
    assert sorted(project.containers()) == sorted(names + [f"{project.name}_client_1"])  # nothing kept
    assert sorted(a.owner for a in project.allocations()) == sorted(
        f"{project.name}/{s}" for s in ("client/1", "web/1", "web/2", "web/3"))
    polls = answers(project, since=began)
    assert polls and set(polls) == {"ok v1"}, polls
    assert project.block_names(f"{project.name}_client_1")["app"] == before[names[0]][1]


def test_start_first_rollback_returns_a_replica_that_passed_to_its_old_copy_and_address(project):
    update = {"order": "start-first", "failure_action": "rollback"}
    project.write(services("1", update=update))
    start(project)
    names = [f"{project.name}_web_{i}" for i in (1, 2, 3)]
    before = placed(project, names)
    began = datetime.datetime.now(datetime.timezone.utc)
    project.write(services("2", update=update))
    result = []
    run = threading.Thread(target=lambda: result.append(project.nap("up", "-d")))
    run.start()
    # web_1 passes; web_2's new copy is killed while it waits at its gate
    host2, _, old2 = before[names[1]]
    killed = []
    while run.is_alive() and not killed:
        for c in project.docker(host2).containers.list(filters={"label": f"com.docker.compose.project={project.name}"}):
            if c.name == names[1] and c.id != old2:
                c.kill()
                killed.append(c.id)
        time.sleep(0.1)
    run.join(timeout=300)
    [(status, out, err)] = result
    assert killed and status != 0, out + err
    assert "update of web failed and was rolled back: " in err and "web_2 failed its gate" in err, err
    # web_1 passed and was then returned: its old container, on its host, at its address
    assert placed(project, names) == before
    assert [version_of(project, i) for i in (1, 2, 3)] == ["v1", "v1", "v1"]
    assert sorted(project.containers()) == sorted(names + [f"{project.name}_client_1"])
    assert sorted(a.owner for a in project.allocations()) == sorted(
        f"{project.name}/{s}" for s in ("client/1", "web/1", "web/2", "web/3"))
    polls = answers(project, since=began)
    assert len(polls) >= 10 and set(polls) <= {"ok v1", "ok v2"} and polls[-1] == "ok v1", polls
    assert project.block_names(f"{project.name}_client_1")["app"] == before[names[0]][1]
