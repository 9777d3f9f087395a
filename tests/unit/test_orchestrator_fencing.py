"""Two deploys of one project at once, without the lock: the IPAM fencing keeps every address on one host.

Each test forces the worst interleaving on purpose: the second run's observation is taken before
the first run reserves anything (or the first run stalls between reserving and creating).
"""

import json
import threading
from collections import Counter

import pytest

from napcompose.errors import AddressFencedError
from napcompose.model import PlacementSpec, Project, ServiceSpec
from napcompose.orchestrator import Orchestrator
from napcompose.ports import ListReporter
from tests import nap
from tests.fakes_engine import FakeClock, FakeWorld, make_ipam
from tests.fakes_kv import MemoryKV
from tests.unit.test_orchestrator import NODES, cluster


def pinned(host, scale=4):
    extra = ServiceSpec(name="extra", image="busybox", scale=scale,
                        placement=PlacementSpec(constraints=(f"node.hostname=={host}",)))
    return Project(name="gb", services=(extra,))


class _Around:
    """An Ipam that runs ``before``/``after`` around its first ensure_many (the other run's moment)."""

    def __init__(self, ipam, before=None, after=None):
        self._ipam = ipam
        self._before, self._after = before, after

    def __getattr__(self, name):
        return getattr(self._ipam, name)

    def ensure_many(self, requests, vacated=None):
        before, self._before = self._before, None
        if before:
            before()
        got = self._ipam.ensure_many(requests, vacated)
        after, self._after = self._after, None
        if after:
            after()
        return got


class Rigs:
    def __init__(self):
        self.cluster = cluster()
        self.world = FakeWorld(NODES)
        self.clock = FakeClock()
        self.store = MemoryKV()

    def orchestrator(self, before=None, after=None):
        ipam = _Around(make_ipam(self.cluster, self.clock, self.store), before, after)
        return Orchestrator(self.cluster, self.world.engines, self.world.files, ipam, ListReporter(), self.clock)



def test_the_second_of_two_concurrent_runs_is_refused_before_it_creates_anything():
    rigs = Rigs()
    first = rigs.orchestrator()
    reports = {}
    # The second run has looked at every host (nothing there yet); then the first run does all its work.
    second = rigs.orchestrator(before=lambda: reports.setdefault("first", nap.up(first, pinned("node1"))))
    with pytest.raises(AddressFencedError) as err:
        nap.up(second, pinned("node2"))
    assert not reports["first"].failed
    ip = json.loads(rigs.store.get("/nap-compose/owners/gb~extra~1")[0])["ip"]
    assert str(err.value) == (
        f"address {ip} of gb/extra/1 is bound on node1; refusing it on node2: its container was bound there "
        "after (or just before) this run looked at node1: another run is working on it")
    hosts = {c.request.name: c.id.split("-")[0] for c in rigs.world.all_containers()}
    assert sorted(hosts.values()) == ["node1"] * 4
    ips = Counter(c.request.ip for c in rigs.world.all_containers())
    assert max(ips.values()) == 1


def test_a_run_whose_reservation_was_moved_meanwhile_removes_its_container_unstarted():
    rigs = Rigs()
    other_reserved, first_done = threading.Event(), threading.Event()
    late = {}

    def the_other_run():
        rigs.clock.sleep(60)  # the first run stalled after reserving; the other looks at the hosts now
        other = rigs.orchestrator(after=lambda: (other_reserved.set(), first_done.wait(30)))
        late["report"] = nap.up(other, pinned("node2"))

    thread = threading.Thread(target=the_other_run)
    stalled = rigs.orchestrator(after=lambda: (thread.start(), other_reserved.wait(30)))
    report = nap.up(stalled, pinned("node1"))
    first_done.set()
    thread.join(30)
    assert not late["report"].failed
    failed = [o for o in report.outcomes if o.error]
    assert len(failed) == 4
    assert all("was moved to node2 while its container was being created on node1; that container is not "
               "started" in o.error for o in failed), failed
    containers = rigs.world.all_containers()
    assert sorted(c.id.split("-")[0] for c in containers) == ["node2"] * 4
    assert max(Counter(c.request.ip for c in containers).values()) == 1
    node1 = rigs.world.engines["node1"]
    assert [call[0] for call in node1.calls if call[0] in ("create", "start", "remove")] == \
        ["create", "remove"] * 4  # created, refused at its bind, removed: never started
