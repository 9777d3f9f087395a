"""Turning SDK exceptions into the words of a nap-compose error, in one place for every adapter."""

from __future__ import annotations

import socket


def sdk_errors() -> tuple:
    """The exception classes that mean "this host failed" (imported here, never in the core)."""
    import docker.errors
    import paramiko
    import requests

    return (docker.errors.DockerException, requests.exceptions.RequestException,
            paramiko.SSHException, socket.error, EOFError)


def in_transit(exc: BaseException) -> bool:
    """Whether ``exc`` says the request may have left and no answer came back: the connection
    ended, was reset or refused under it (docker-py's ``Connection aborted``, paramiko's dropped
    connection, a channel that could not open). An answer of the server (an API error) and a
    timeout (the server may still be at work) are not."""
    import paramiko
    import requests

    # requests' ReadTimeout is no ConnectionError; its ConnectTimeout is (nothing was sent)
    return isinstance(exc, (requests.exceptions.ConnectionError, paramiko.SSHException, EOFError,
                            ConnectionError))


def cause(exc: BaseException) -> str:
    """The most useful short sentence an SDK exception holds."""
    import paramiko

    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError) and exc.errors:
        # paramiko's own text is "[Errno None] Unable to connect ..."; the socket errors say why.
        return ", ".join(sorted({(e.strerror or str(e)) for e in exc.errors.values()}))
    explanation = getattr(exc, "explanation", None)  # docker-py's API errors: the daemon's message
    if explanation:
        text = explanation.decode() if isinstance(explanation, bytes) else str(explanation)
    else:
        text = str(exc)
    return text.strip().rstrip(".") or type(exc).__name__
