"""RunState: what a run's handlers share, and the locks that guard it."""

import threading

from napcompose.execute.hosts import sync_hosts
from napcompose.execute.state import Core, RunState
from napcompose.model import ObservedContainer, Project, Replica
from napcompose.observe.observation import Addresses
from napcompose.planner import Options, Plan
from napcompose.ports import ListReporter
from tests.fakes_engine import FakeClock

WEB_1 = Replica("gb", "web", 1)


def container(name, state="running", replica=WEB_1):
    return ObservedContainer(host="node1", id=name, name=name, replica=replica, config_hash="h", state=state)


def state_of(*current):
    core = Core(cluster=None, engines={}, files=None, ipam=None, reporter=ListReporter(), clock=FakeClock())
    return RunState.of(core, Project("gb", ()), Options(), Plan("gb", current=tuple(current)), Addresses())


def test_live_starts_from_the_current_containers_but_not_those_kept_for_a_rollback():
    kept, running = container("gb_web_1-previous", "exited"), container("gb_web_1")
    state = state_of(kept, running)
    assert state.live == {WEB_1: running}
    assert state.live_of(Replica("gb", "web", 2), None) is None


def test_set_live_with_only_if_leaves_a_newer_change_alone():
    old, new = container("a"), container("b")
    state = state_of(old)
    state.set_live(WEB_1, new)
    state.set_live(WEB_1, None, only_if=old)  # a handler that still thinks the old one runs
    assert state.live_of(WEB_1, None) is new
    state.set_live(WEB_1, None, only_if=new)
    assert state.snapshot() == []


def test_a_hosts_pass_waits_for_the_one_in_progress_of_its_run():
    state = state_of()
    finished = threading.Event()

    def second_pass():
        sync_hosts(state)
        finished.set()

    with state.hosts_writes:  # a pass in progress
        worker = threading.Thread(target=second_pass)
        worker.start()
        assert not finished.wait(0.2)
    worker.join(5)
    assert finished.is_set()
    assert state_of().hosts_writes is not state.hosts_writes  # each run its own


def test_an_action_s_first_step_passes_the_fence_its_action_just_passed_and_every_other_step_its_own():
    fences = []
    core = Core(cluster=None, engines={}, files=None, ipam=None, reporter=ListReporter(), clock=FakeClock(),
                fence=lambda: fences.append(threading.current_thread().name))
    here = threading.current_thread().name

    def handler():
        core.step("web_1", "Creating", "node1", None, lambda: None)
        core.step("web_1", "Starting", "node1", None, lambda: None)  # a second step fences again
        elsewhere = threading.Thread(target=core.step, args=("web_2", "Creating", "node2", None, lambda: None),
                                     name="lane")
        elsewhere.start()
        elsewhere.join()
        return "done"

    assert core.fenced(handler) == "done"
    assert fences == [here, here, "lane"]
    core.step("web_3", "Creating", "node3", None, lambda: None)  # outside any action: its own fence
    assert fences == [here, here, "lane", here]


def test_a_handler_without_a_step_leaves_no_fence_behind_for_the_next_step_in_its_thread():
    fences = []
    core = Core(cluster=None, engines={}, files=None, ipam=None, reporter=ListReporter(), clock=FakeClock(),
                fence=lambda: fences.append(1))
    core.fenced(lambda: None)
    core.step("web_1", "Creating", "node1", None, lambda: None)
    assert len(fences) == 2
