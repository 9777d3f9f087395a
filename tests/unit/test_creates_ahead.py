"""The next wave's containers are created while this wave starts its own; a skipped create leaves nothing."""

import threading

from napcompose.model import Link, Project, ServiceSpec
from tests import nap
from tests.unit.test_orchestrator import Rig

WAIT_S = 5.0


def chain(env=()):
    """a <- b <- c: each links the one before, so three dependency waves."""
    return Project(name="gb", services=(
        ServiceSpec(name="a", image="busybox", environment=env),
        ServiceSpec(name="b", image="busybox", links=(Link("a", "a"),)),
        ServiceSpec(name="c", image="busybox", links=(Link("b", "b"),)),
    ))


class Order:
    """Every engine's creates, starts and removes, in the order they happened across hosts; a start
    of ``hold`` waits (up to ``wait_s``) for the create of ``until`` and notes whether it came."""

    def __init__(self, rig, hold=None, until=None, wait_s=WAIT_S):
        self.calls = []
        self.came = None
        self._created = threading.Event()
        self._lock = threading.Lock()
        for engine in rig.world.engines.values():
            self._wrap(engine, hold, until, wait_s)

    def _note(self, call):
        with self._lock:
            self.calls.append(call)

    def _wrap(self, engine, hold, until, wait_s):
        create, start, remove = engine.create_container, engine.start_container, engine.remove_container

        def creating(request):
            container_id = create(request)
            self._note(("create", request.name, container_id))
            if request.name == until:
                self._created.set()
            return container_id

        def starting(container_id, *args, **kwargs):
            name = engine.containers[container_id].request.name
            if name == hold:
                self.came = self._created.wait(wait_s)
            self._note(("start", name, container_id))
            return start(container_id, *args, **kwargs)

        def removing(container_id, *args, **kwargs):
            self._note(("remove", engine.containers[container_id].request.name, container_id))
            return remove(container_id, *args, **kwargs)

        engine.create_container, engine.start_container, engine.remove_container = creating, starting, removing

    def of(self, kind):
        return [name for call, name, _ in self.calls if call == kind]


def test_the_next_wave_is_created_while_this_one_starts_and_starts_keep_the_dependency_order():
    rig = Rig()
    order = Order(rig, hold="gb_a_1", until="gb_b_1")
    report = nap.up(rig.orc, chain())
    assert report.failed == ()
    assert order.came is True  # b's container existed while a's start was still under way
    assert order.of("start") == ["gb_a_1", "gb_b_1", "gb_c_1"]
    assert {c.request.name: c.state for c in rig.world.all_containers()} == {
        "gb_a_1": "running", "gb_b_1": "running", "gb_c_1": "running"}
    assert rig.ipam.lookup("gb/b/1").state == "bound"
    assert ("b_1", "Creating", "done", f"on {rig.world.host_of('gb_b_1')} ({rig.address('b', 1)})") \
        in rig.reporter.events


def test_a_create_whose_dependency_failed_leaves_no_container_and_its_address_unbound():
    rig = Rig()
    for engine in rig.world.engines.values():
        engine.fail("start", "gb_a_1")
    order = Order(rig, hold="gb_a_1", until="gb_b_1")
    report = nap.up(rig.orc, chain())
    assert {o.subject for o in report.failed} == {"a_1", "b_1", "c_1"}
    assert order.came is True  # made ahead, then taken away
    assert order.of("remove") == ["gb_b_1"]
    assert sorted(c.request.name for c in rig.world.all_containers()) == ["gb_a_1"]
    assert "gb_c_1" not in order.of("create")  # two waves ahead is never made
    assert rig.ipam.lookup("gb/b/1").state == "reserved"
    assert not any("not removed" in w for w in rig.reporter.warnings)


def test_a_create_made_ahead_that_failed_fails_its_own_action_with_the_engine_s_words():
    rig = Rig()
    for engine in rig.world.engines.values():
        engine.fail("create", "gb_b_1")
    report = nap.up(rig.orc, chain())
    failed = {o.subject: o.error for o in report.failed}
    assert failed["b_1"].endswith("create gb_b_1: injected failure")
    assert failed["c_1"] == "dependency b_1 failed"
    errors = [e for e in rig.reporter.events if e[:3] == ("b_1", "Creating", "error")]
    assert len(errors) == 1 and errors[0][3].endswith(f"({rig.address('b', 1)})")
    assert sorted(c.request.name for c in rig.world.all_containers()) == ["gb_a_1"]


def test_nothing_is_created_beside_a_wave_that_removes_a_container():
    rig = Rig()
    nap.up(rig.orc, chain())
    # a is recreated (its old container removed first); b gets a second replica after it
    order = Order(rig, hold="gb_a_1", until="gb_b_2", wait_s=0.3)
    report = nap.up(rig.orc, chain(env=(("DEBUG", "1"),)), scales={"b": 2})
    assert report.failed == ()
    assert order.came is False
    assert order.of("create").index("gb_b_2") > order.of("create").index("gb_a_1")
    assert [c for c in order.calls if c[1] == "gb_b_2"][0][0] == "create"
    assert rig.world.container("gb_b_2").state == "running"
