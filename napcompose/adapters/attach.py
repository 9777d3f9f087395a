"""Both directions of an upgraded Docker connection: an exec's or a container's stdin, stdout and stderr.

Docker answers an exec start or a container attach with ``101 UPGRADED`` and then carries the
process's streams on that very connection (for ssh:// the paramiko channel to the host's Docker
socket, the same SSH transport every other call uses). Output is read through the reader that
parsed the headers (``exec_stream.buffered_reader``: what it holds past them comes first), so no
byte is lost. Stdin is copied in chunks from the operator's side as it comes, never held whole;
at its end the write side is half-closed (``channel.shutdown_write()``: SSH's channel EOF, which
sshd turns into a shutdown of its socket to Docker) so the process reads EOF while its output
still flows back. Reading goes on until Docker ends the stream.
"""

from __future__ import annotations

import socket
import threading
from typing import Callable, Protocol, Tuple

from napcompose.adapters.exec_stream import buffered_reader, read_frames

_CHUNK = 64 * 1024


class Streams(Protocol):
    """The operator's side of an attached process (the CLI's terminal or pipes)."""

    def read(self) -> bytes:
        """The next chunk of stdin as it comes; b"" at its end."""

    def out(self, data: bytes) -> None:
        """Bytes of the process's stdout (of the terminal, with a tty)."""

    def err(self, data: bytes) -> None:
        """Bytes of the process's stderr."""


def _writer(response) -> Tuple[Callable[[bytes], None], Callable[[], None]]:
    """(send all of some bytes, half-close) for the upgraded connection of ``response``."""
    fp = response.raw._fp.fp
    channel = getattr(fp, "channel", None)
    if channel is not None:  # paramiko's ChannelFile (ssh://)
        return channel.sendall, channel.shutdown_write
    sock = getattr(fp.raw, "_sock", None) or fp.raw  # socket.SocketIO over a unix or tcp socket

    def half_close() -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # already gone: the process ended first
            pass

    return sock.sendall, half_close




class Upgraded:
    """One upgraded connection; ``pump`` carries the streams until Docker ends it. ``close`` always."""

    def __init__(self, api, response, tty: bool, stdin: bool):
        self._response = response
        self._tty = tty
        self._stdin = stdin
        # A process may print nothing for longer than the connection's timeout: wait as long as it runs.
        api._disable_socket_timeout(api._get_raw_response_socket(response))
        self._read = buffered_reader(response)
        self._send, self._half_close = _writer(response)
        self._done = threading.Event()

    def pump(self, streams: Streams) -> None:
        """Copy stdin in (on a thread of its own) and the output out, until the output ends."""
        if self._stdin:
            feeder = threading.Thread(target=self._feed, args=(streams,), daemon=True, name="stdin")
            feeder.start()
        try:
            if self._tty:  # one raw stream, no frames
                for chunk in iter(lambda: self._read(_CHUNK), b""):
                    streams.out(chunk)
            else:
                read_frames(self._read, streams.out, streams.err)
        finally:
            self._done.set()

    def _feed(self, streams: Streams) -> None:
        """Stdin in chunks until its end, then the half-close; a stream that ended first stops it.

        A thread blocked reading the operator's stdin when the process ends is left to the
        process's exit (it is a daemon): nothing is read from a terminal after that.
        """
        try:
            while not self._done.is_set():
                chunk = streams.read()
                if not chunk:
                    break
                self._send(chunk)
            if not self._done.is_set():
                self._half_close()
        except (OSError, EOFError, ValueError):
            pass  # the connection ended (the process exited): its output says the rest

    def close(self) -> None:
        self._done.set()
        self._response.close()


def exec_upgrade(api, exec_id: str, tty: bool, stdin: bool) -> Upgraded:
    """Start the created exec ``exec_id`` on an upgraded connection."""
    response = api._post_json(api._url("/exec/{0}/start", exec_id),
                              headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                              data={"Tty": tty, "Detach": False}, stream=True)
    api._raise_for_status(response)
    return Upgraded(api, response, tty, stdin)


def container_upgrade(api, container_id: str, tty: bool, stdin: bool) -> Upgraded:
    """Attach to the container's streams (before it starts, so its first byte is caught)."""
    params = {"stdout": 1, "stderr": 1, "stream": 1, "stdin": 1 if stdin else 0}
    response = api._post(api._url("/containers/{0}/attach", container_id), params=params,
                         headers={"Connection": "Upgrade", "Upgrade": "tcp"}, stream=True)
    api._raise_for_status(response)
    return Upgraded(api, response, tty, stdin)
