"""HostError names its host first; ``without_host`` takes that prefix off again for lines that name it already."""

from napcompose.errors import HostError, without_host


def test_without_host_takes_off_the_prefix_a_host_error_adds():
    error = HostError("node1", "connection refused")
    assert str(error) == "node1: connection refused"
    assert without_host("node1", str(error)) == "connection refused"


def test_without_host_leaves_other_text_as_it_is():
    assert without_host("node1", "node12: timed out") == "node12: timed out"
    assert without_host("node1", "timed out") == "timed out"
