"""While a command runs, cyclic garbage collections are rarer and skip what lived before it; once no run is on,
the thresholds are back and nothing is set aside."""

import gc
import threading

import pytest

from napcompose.orchestrator.garbage import FACTOR, rarer_collections
from tests import nap
from tests.unit.test_orchestrator import Rig, guestbook


@pytest.fixture
def thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_a_run_collects_the_youngest_generation_more_rarely_and_puts_the_thresholds_back(thresholds):
    seen, frozen = [], []
    rig = Rig()
    engine = rig.world.engines["node1"]
    original = engine.list_containers

    def list_containers(*args, **kwargs):  # asked while the run is on
        seen.append(gc.get_threshold())
        frozen.append(gc.get_freeze_count())
        return original(*args, **kwargs)

    engine.list_containers = list_containers
    assert nap.up(rig.orc, guestbook()).failed == ()
    assert seen and set(seen) == {(700 * FACTOR, 10, 10)}
    assert gc.get_threshold() == (700, 10, 10)
    # what lived before the run is set aside from its collections, and back among the oldest after
    assert min(frozen) > 1000 and gc.get_freeze_count() == 0


def test_overlapping_runs_restore_the_thresholds_only_when_the_last_ends(thresholds):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    during = []

    def first():
        with rarer_collections():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    worker = threading.Thread(target=first)
    worker.start()
    first_in.wait(5)
    with rarer_collections():
        second_in.set()
        first_out.wait(5)
        during.append(gc.get_threshold())  # the first run ended, this one is still on
    worker.join(5)
    assert during == [(700 * FACTOR, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)


def test_collection_turned_off_stays_off_and_an_error_still_restores(thresholds):
    gc.set_threshold(0, 10, 10)
    with rarer_collections():
        assert gc.get_threshold() == (0, 10, 10) and gc.get_freeze_count() == 0
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError):
        with rarer_collections():
            raise RuntimeError("a run that failed")
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
