"""Once more on a fresh connection: only when the connection died under the operation."""

import pytest

from napcompose.adapters.dropped import once_more_if_dropped
from napcompose.errors import HostError


class Connection:
    def __init__(self):
        self.up = True

    def alive(self):
        return lambda: self.up


def test_an_operation_whose_connection_died_under_it_runs_once_more():
    connection, calls = Connection(), []

    def operation():
        calls.append(1)
        if len(calls) == 1:
            connection.up = False  # the transport went away in the middle
            raise HostError("node1", "writing /x over SFTP: Server connection dropped:")
        return "written"

    assert once_more_if_dropped(connection.alive, operation) == "written" and len(calls) == 2


def test_a_failure_on_a_live_connection_is_not_retried():
    connection, calls = Connection(), []

    def operation():
        calls.append(1)
        raise HostError("node1", "writing /x over SFTP: Permission denied")

    with pytest.raises(HostError, match="Permission denied"):
        once_more_if_dropped(connection.alive, operation)
    assert len(calls) == 1


def test_the_second_failure_is_the_one_reported_and_there_is_no_third_try():
    connection, calls = Connection(), []

    def operation():
        calls.append(1)
        connection.up = False
        raise HostError("node1", f"attempt {len(calls)}")

    with pytest.raises(HostError, match="attempt 2"):
        once_more_if_dropped(connection.alive, operation)
    assert len(calls) == 2


def test_other_errors_pass_through_untouched():
    connection = Connection()

    def operation():
        connection.up = False
        raise ValueError("a bug is not a dropped connection")

    with pytest.raises(ValueError):
        once_more_if_dropped(connection.alive, operation)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def pause(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds


def test_an_ended_stream_waits_for_the_transport_to_say_it_died_then_runs_once_more():
    calls, clock = [], Clock()

    def operation():
        calls.append(1)
        if len(calls) == 1:
            try:
                raise EOFError()  # the server closed the connection: the transport has not noticed yet
            except EOFError as exc:
                raise HostError("node3", f"ssh command failed: {exc}") from exc
        return "loaded"

    def alive():  # the transport's thread notices the end 50 ms after the operation failed
        return lambda: not (calls and clock.now >= 0.05)

    assert once_more_if_dropped(alive, operation, clock=lambda: clock.now, pause=clock.pause) == "loaded"
    assert len(calls) == 2 and 0 < sum(clock.pauses) < 0.1


def test_an_ended_stream_on_a_connection_that_stays_alive_is_reported_after_the_settling_time():
    connection, calls, clock = Connection(), [], Clock()

    def operation():
        calls.append(1)
        raise HostError("node3", "ssh command failed: reset") from ConnectionResetError("reset")

    with pytest.raises(HostError, match="reset"):
        once_more_if_dropped(connection.alive, operation, settle_s=1.0, clock=lambda: clock.now,
                             pause=clock.pause)
    assert len(calls) == 1 and 1.0 <= sum(clock.pauses) < 1.1


def test_an_answer_of_the_server_on_a_live_connection_is_reported_at_once():
    connection, calls, clock = Connection(), [], Clock()

    def operation():
        calls.append(1)
        raise HostError("node1", "reading /x over SFTP: No such file") from FileNotFoundError(2, "No such file")

    with pytest.raises(HostError, match="No such file"):
        once_more_if_dropped(connection.alive, operation, clock=lambda: clock.now, pause=clock.pause)
    assert len(calls) == 1 and clock.pauses == []
