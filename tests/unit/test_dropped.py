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
