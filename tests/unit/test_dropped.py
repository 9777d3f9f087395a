"""Once more on a fresh connection: only when the connection died under the operation."""

import pytest

from napcompose.adapters.dropped import once_more_if_dropped, once_more_if_in_transit, once_more_unless_landed
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


class Server:
    """A host that keeps containers by name; a create's answer can be lost on the way back."""

    def __init__(self, lose_answers=0, refuse_before=0, lookups_lost=0):
        self.containers = {}
        self.creates = 0
        self.lookups = 0
        self.lose_answers = lose_answers  # creates that land and whose answer is lost
        self.refuse_before = refuse_before  # creates that fail before reaching the server
        self.lookups_lost = lookups_lost

    def create(self, name):
        self.creates += 1
        if self.refuse_before:
            self.refuse_before -= 1
            raise ConnectionAbortedError("the channel could not open")
        if name in self.containers:
            raise RuntimeError(f"Conflict: the name {name} is in use")  # an answer, not in transit
        self.containers[name] = f"id-{self.creates}"
        if self.lose_answers:
            self.lose_answers -= 1
            raise ConnectionResetError("Connection aborted: Remote end closed connection without response")
        return self.containers[name]

    def landed(self, name):
        self.lookups += 1
        if self.lookups_lost:
            self.lookups_lost -= 1
            raise ConnectionResetError("the lookup met the dying connection")
        return self.containers.get(name)


def in_transit(exc):
    return isinstance(exc, ConnectionError)


def _create(server, pauses=None):
    return once_more_unless_landed(lambda: server.create("web_1"), lambda: server.landed("web_1"), in_transit,
                                   pause=(pauses.append if pauses is not None else lambda s: None))


def test_a_create_that_landed_with_its_answer_lost_is_found_by_name_and_not_made_twice():
    server = Server(lose_answers=1)
    assert _create(server) == "id-1"
    assert server.creates == 1 and server.lookups == 1 and server.containers == {"web_1": "id-1"}


def test_a_create_that_never_reached_the_server_runs_once_more_after_the_lookup_finds_nothing():
    server = Server(refuse_before=1)
    assert _create(server) == "id-2"
    assert server.creates == 2 and server.lookups == 1 and server.containers == {"web_1": "id-2"}


def test_a_lookup_that_meets_the_dying_connection_is_asked_once_more_after_a_pause():
    server, pauses = Server(lose_answers=1, lookups_lost=1), []
    assert _create(server, pauses) == "id-1"
    assert server.creates == 1 and server.lookups == 2 and len(pauses) == 1


def test_when_the_lookup_cannot_answer_the_first_failure_is_raised_and_nothing_is_created_again():
    server, pauses = Server(lose_answers=1, lookups_lost=2), []
    with pytest.raises(ConnectionResetError, match="Remote end closed connection"):
        _create(server, pauses)
    assert server.creates == 1 and server.lookups == 2 and pauses == [0.2]


def test_an_answer_of_the_server_is_raised_at_once_without_a_lookup():
    server = Server()
    server.containers["web_1"] = "someone-else"
    with pytest.raises(RuntimeError, match="Conflict"):
        _create(server)
    assert server.creates == 1 and server.lookups == 0


def test_a_second_create_that_fails_in_transit_too_is_reported_without_a_third():
    server = Server(refuse_before=2)
    with pytest.raises(ConnectionAbortedError):
        _create(server)
    assert server.creates == 2 and server.lookups == 1


def test_a_harmless_operation_that_failed_in_transit_runs_once_more_and_only_once():
    calls = []

    def start():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError(f"reset {len(calls)}")
        return "started"

    pauses = []
    with pytest.raises(ConnectionResetError, match="reset 2"):
        once_more_if_in_transit(start, in_transit, pause=pauses.append)
    assert len(calls) == 2 and pauses == [0.2]
    assert once_more_if_in_transit(start, in_transit, pause=pauses.append) == "started" and len(calls) == 3


def test_a_harmless_operation_answered_with_an_error_is_not_run_again():
    calls = []

    def stop():
        calls.append(1)
        raise RuntimeError("answered: no such container")

    pauses = []
    with pytest.raises(RuntimeError, match="answered"):
        once_more_if_in_transit(stop, in_transit, pause=pauses.append)
    assert len(calls) == 1 and pauses == []


def test_a_lookup_the_server_answers_with_an_error_raises_the_first_failure_without_a_second_create():
    server = Server(lose_answers=1)

    def landed():
        raise RuntimeError("500: the daemon could not say")

    with pytest.raises(ConnectionResetError, match="Remote end closed connection"):
        once_more_unless_landed(lambda: server.create("web_1"), landed, in_transit, pause=lambda s: None)
    assert server.creates == 1
