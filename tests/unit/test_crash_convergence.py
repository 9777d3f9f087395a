"""A deploy that dies half-way (the process killed) converges when the same command runs again.

A run is cut short by an exception no handler catches, raised by the address book at a chosen call:
what a SIGKILL at that moment leaves behind, as far as the store and the hosts are concerned.
"""

from collections import Counter

import pytest

from napcompose.orchestrator import Orchestrator
from napcompose.ports import ListReporter
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook


class Killed(BaseException):
    """The process died here."""


class DiesAt:
    """The address book, dying at the ``nth`` call of ``method`` (after doing it when ``after``)."""

    def __init__(self, ipam, method, nth=1, after=False):
        self._ipam, self._method, self._left, self._after = ipam, method, nth, after

    def __getattr__(self, name):
        real = getattr(self._ipam, name)
        if name != self._method:
            return real

        def call(*args, **kwargs):
            self._left -= 1
            if self._left == 0 and not self._after:
                raise Killed(name)
            result = real(*args, **kwargs)
            if self._left == 0:
                raise Killed(name)
            return result
        return call


def _dying(rig, method, nth=1, after=False):
    return Orchestrator(rig.cluster, rig.world.engines, rig.world.files, DiesAt(rig.ipam, method, nth, after),
                        ListReporter(), rig.clock, images=rig.world.images)


def _converged(rig):
    containers = rig.world.all_containers()
    assert sorted(c.request.name for c in containers) == ["gb_db_1", "gb_front_1", "gb_lone_1", "gb_web_1",
                                                          "gb_web_2"]
    assert all(c.state == "running" for c in containers)
    records = {a.owner: a for a in rig.ipam.allocations() if a.owner.startswith("gb/")}
    for c in containers:
        record = records[c.request.replica.owner]
        assert (record.ip, record.host, record.state) == (c.request.ip, c.id.split("-")[0], "bound"), record
    assert len(records) == len(containers)
    assert max(Counter(c.request.ip for c in containers).values()) == 1
    live = {h: {c.request.replica.owner for c in e.containers.values()} for h, e in rig.world.engines.items()}
    assert rig.ipam.gc(live, set()) == []


@pytest.mark.parametrize("nth", [1, 3, 5])
def test_killed_between_creating_a_container_and_binding_its_address(nth):
    rig = Rig()
    with pytest.raises(Killed):
        nap.up(_dying(rig, "mark_bound", nth), guestbook())
    left = [c for c in rig.world.all_containers() if c.state == "created"]
    assert left  # created, never started
    records = [rig.ipam.lookup(c.request.replica.owner) for c in left]
    # the one whose binding the kill cut off is still only reserved; one of the next wave, created
    # and bound beside it, is bound to its own host
    assert any(r.state == "reserved" for r in records)
    assert all(r.state == "reserved" or (r.state, r.host) == ("bound", c.id.split("-")[0])
               for r, c in zip(records, left))
    report = nap.up(rig.orc, guestbook())
    assert not report.failed, report
    _converged(rig)


def test_a_container_started_by_hand_after_the_kill_is_kept_and_its_address_bound():
    rig = Rig()
    with pytest.raises(Killed):
        nap.up(_dying(rig, "mark_bound", 2), guestbook())
    left = [c for c in rig.world.all_containers() if c.state == "created"]
    for c in left:  # `docker start` by an operator: running, its address still only reserved
        rig.world.engines[c.id.split("-")[0]].start_container(c.id)
    report = nap.up(rig.orc, guestbook())
    assert not report.failed, report
    kept = {o.subject for o in report.outcomes if o.action == "Keeping"}
    assert {c.request.name.split("_", 1)[1] for c in left} <= kept, report
    _converged(rig)


@pytest.mark.parametrize("method,after", [("ensure_many", True), ("mark_bound", True)])
def test_killed_after_reserving_or_binding_before_the_containers_exist_or_start(method, after):
    rig = Rig()
    with pytest.raises(Killed):
        nap.up(_dying(rig, method, 1, after), guestbook())
    report = nap.up(rig.orc, guestbook())
    assert not report.failed, report
    _converged(rig)


@pytest.mark.parametrize("method,nth", [("mark_unbound", 1), ("mark_unbound", 4), ("release_owner", 2)])
def test_killed_half_way_through_down(method, nth):
    rig = Rig()
    assert not nap.up(rig.orc, guestbook()).failed
    dying = _dying(rig, method, nth, after=True)
    try:
        nap.down(dying, "gb")
    except Killed:
        pass
    report = nap.down(rig.orc, "gb")
    assert not report.failed, report
    assert rig.world.all_containers() == []
    assert [a for a in rig.ipam.allocations() if a.owner.startswith("gb/")] == []
