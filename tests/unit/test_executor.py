"""The wave executor, exercised with plain integers."""

import threading

import pytest

from napcompose.errors import HostError, NapComposeError
from napcompose.parallel import run_waves

# 1 <- 2 <- 4, 1 <- 3, 5 alone; waves follow the dependencies
DEPS = {1: (), 2: (1,), 3: (1,), 4: (2,), 5: ()}
WAVES = [[1, 5], [2, 3], [4]]


def run(func, waves=WAVES, max_workers=4):
    return run_waves(waves, func, key=str, depends=lambda n: [str(d) for d in DEPS[n]],
                     max_workers=max_workers)


def test_everything_succeeds_in_wave_order():
    seen = []
    lock = threading.Lock()

    def func(n):
        with lock:
            seen.append(n)

    outcomes = run(func)
    assert sorted(outcomes) == ["1", "2", "3", "4", "5"]
    assert all(o.ok and not o.skipped for o in outcomes.values())
    position = {n: i for i, n in enumerate(seen)}
    assert position[1] < position[2] < position[4] and position[1] < position[3]


def test_a_failure_skips_its_dependents_and_others_go_on():
    def func(n):
        if n == 2:
            raise HostError("node2", "create web_2: disk full")

    outcomes = run(func)
    assert outcomes["2"].error == "node2: create web_2: disk full" and not outcomes["2"].skipped
    assert outcomes["4"].skipped and outcomes["4"].error == "dependency 2 failed"
    assert outcomes["1"].ok and outcomes["3"].ok and outcomes["5"].ok


def test_skips_propagate_naming_the_skipped_dependency():
    def func(n):
        if n == 1:
            raise NapComposeError("boom")

    outcomes = run(func)
    assert outcomes["2"].error == "dependency 1 failed"
    assert outcomes["4"].error == "dependency 2 failed"
    assert outcomes["4"].skipped
    assert outcomes["5"].ok


def test_all_failures_are_collected():
    def func(n):
        if n in (3, 5):
            raise NapComposeError(f"failed {n}")

    outcomes = run(func)
    assert {k for k, o in outcomes.items() if o.error and not o.skipped} == {"3", "5"}


def test_items_of_one_wave_run_in_parallel():
    barrier = threading.Barrier(3, timeout=5)
    outcomes = run_waves([[1, 2, 3]], lambda n: barrier.wait(), key=str, depends=lambda n: (),
                         max_workers=3)
    assert all(o.ok for o in outcomes.values())


def test_max_workers_bounds_concurrency():
    active, peak = [0], [0]
    lock = threading.Lock()

    def func(n):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        threading.Event().wait(0.01)
        with lock:
            active[0] -= 1

    run_waves([list(range(12))], func, key=str, depends=lambda n: (), max_workers=2)
    assert peak[0] == 2


def test_a_bug_is_raised_after_the_wave_finishes():
    done = []

    def func(n):
        if n == 1:
            raise KeyError("oops")
        done.append(n)

    with pytest.raises(KeyError):
        run(func)
    assert done == [5]


def test_dependencies_outside_the_run_are_ignored():
    outcomes = run_waves([[7]], lambda n: None, key=str, depends=lambda n: ["99"])
    assert outcomes["7"].ok


def test_fan_out_keeps_the_order_and_turns_errors_into_results():
    from napcompose.parallel import HostResult, fan_out

    def ask(host):
        if host == "node2":
            raise HostError("node2", "connection refused")
        return host.upper()

    results = fan_out(["node1", "node2", "node3"], ask)
    assert results == (HostResult("node1", "NODE1"), HostResult("node2", error="node2: connection refused"),
                       HostResult("node3", "NODE3"))
    assert [r.ok for r in results] == [True, False, True]
    assert fan_out([], ask) == ()


def test_fan_out_raises_a_bug_after_every_item_finished():
    from napcompose.parallel import fan_out

    done = []

    def work(n):
        if n == 1:
            raise KeyError("bug")
        done.append(n)

    with pytest.raises(KeyError):
        fan_out([1, 2, 3], work)
    assert sorted(done) == [2, 3]


def test_inline_items_run_in_the_calling_thread_beside_the_others():
    where = {}
    barrier = threading.Barrier(2, timeout=5)

    def func(n):
        where[n] = threading.current_thread()
        if n in (1, 2):  # the two pooled items meet while the inline one ran
            barrier.wait()
        if n == 4:
            raise NapComposeError("inline failed")

    outcomes = run_waves([[1, 2, 3], [4], [5]], func, key=str,
                         depends=lambda n: ["4"] if n == 5 else [], max_workers=4,
                         inline=lambda n: n in (3, 4))
    caller = threading.current_thread()
    assert where[3] is caller and where[4] is caller
    assert where[1] is not caller and where[2] is not caller
    assert outcomes["4"].error == "inline failed" and not outcomes["4"].skipped
    assert outcomes["5"].skipped and outcomes["5"].error == "dependency 4 failed"
    assert outcomes["1"].ok and outcomes["2"].ok and outcomes["3"].ok


def test_an_inline_bug_is_raised_after_the_wave_finishes():
    done = []

    def func(n):
        if n == 5:
            raise KeyError("oops")
        done.append(n)

    with pytest.raises(KeyError):
        run_waves(WAVES, func, key=str, depends=lambda n: [str(d) for d in DEPS[n]], inline=lambda n: n == 5)
    assert done == [1]


def test_lanes_keep_the_order_bound_the_width_and_turn_errors_into_results():
    from napcompose.parallel import in_lanes

    active, peak, threads = [0], [0], set()
    lock = threading.Lock()

    def work(n):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            threads.add(threading.current_thread())
        threading.Event().wait(0.005)
        with lock:
            active[0] -= 1
        if n % 5 == 0:
            raise HostError("node1", f"read {n}: no such file")
        return n * 2

    results = in_lanes(list(range(1, 21)), work, key=str, width=3)
    assert [r.key for r in results] == [str(n) for n in range(1, 21)]
    assert [r.value for r in results if r.ok] == [n * 2 for n in range(1, 21) if n % 5]
    assert results[4].error == "node1: read 5: no such file"
    assert peak[0] == 3 and len(threads) == 3 and threading.current_thread() in threads
    assert in_lanes([], work, key=str, width=3) == []


def test_lanes_raise_a_bug_after_every_lane_finished():
    from napcompose.parallel import in_lanes

    done = []
    lock = threading.Lock()

    def work(n):
        if n == 2:
            raise KeyError("bug")
        with lock:
            done.append(n)

    with pytest.raises(KeyError):
        in_lanes([1, 2, 3, 4], work, key=str, width=2)
    assert sorted(done) == [1, 3, 4]
