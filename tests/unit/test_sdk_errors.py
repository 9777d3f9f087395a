"""Which SDK failures leave a request's fate unknown (in transit) and which are the server's answer."""

import docker.errors
import paramiko
import pytest
import requests
from http.client import RemoteDisconnected

from napcompose.adapters.sdk_errors import in_transit


def _aborted():
    # what docker-py raises when the channel ends before the answer: requests' wrapping of urllib3's
    return requests.exceptions.ConnectionError(
        ("Connection aborted.", RemoteDisconnected("Remote end closed connection without response")))


@pytest.mark.parametrize("exc", [
    _aborted(),
    requests.exceptions.ConnectTimeout("no connection within 10 s"),
    paramiko.SSHException("Server connection dropped: "),
    paramiko.ChannelException(2, "Connect failed"),
    EOFError(),
    ConnectionResetError(104, "Connection reset by peer"),
    BrokenPipeError(32, "Broken pipe"),
], ids=lambda e: type(e).__name__)
def test_a_connection_that_ended_under_the_request_is_in_transit(exc):
    assert in_transit(exc)


@pytest.mark.parametrize("exc", [
    docker.errors.APIError("409 Conflict: the name is in use"),
    docker.errors.NotFound("no such image"),
    requests.exceptions.ReadTimeout("no answer within 60 s"),
    TimeoutError("timed out"),
    ValueError("a bug"),
], ids=lambda e: type(e).__name__)
def test_an_answer_or_a_timeout_is_not(exc):
    assert not in_transit(exc)
