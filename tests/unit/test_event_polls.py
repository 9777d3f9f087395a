"""The per-host watchers of ``watch``: every event once, each answer a heartbeat, a failed call a missed
beat after which the watcher connects again. Over FakeEngines and a clock that moves by itself."""

import threading
import time

from napcompose.adapters.event_polls import HostWatchers
from napcompose.model import ContainerEvent, Replica
from tests.fakes_engine import FakeWorld


class Ticking:
    """Real time (the watchers poll from threads), through the Clock port."""

    def now(self):
        return time.time()

    def sleep(self, seconds):
        time.sleep(seconds)


def until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def test_each_event_is_told_once_and_each_answer_is_a_heartbeat_and_a_failure_reconnects():
    world = FakeWorld(("node1", "node2"))
    clock = Ticking()
    connects, events, answers = [], [], []
    lock = threading.Lock()

    def connect(host):
        with lock:
            connects.append(host)
        return world.engines[host], lambda: None

    def on_answer(host, ok, now, error):
        with lock:
            answers.append((host, ok, error))

    watchers = HostWatchers(["node1", "node2"], connect, clock, events.append, on_answer, every_s=0.01)
    watchers.start()
    try:
        event = ContainerEvent(clock.now(), "node1", "c1", "gb_web_1", "die", Replica("gb", "web", 1), 137)
        world.engines["node1"].event_log.append(event)
        until(lambda: event in events)
        until(lambda: len([a for a in answers if a[0] == "node1"]) > 5)
        assert events.count(event) == 1  # the overlapping windows never tell it twice
        world.engines["node2"].unreachable = "no route to host"
        until(lambda: any(h == "node2" and not ok and "no route to host" in why for h, ok, why in answers))
        before = connects.count("node2")
        world.engines["node2"].unreachable = None
        until(lambda: connects.count("node2") > before and answers[-1][1])
    finally:
        watchers.stop()
    assert connects.count("node1") == 1  # a host that always answered kept its one connection
