"""The output of an exec, read whole from the upgraded connection Docker streams it on.

docker-py's ``exec_start`` reads the exec's output from the raw socket (for ssh:// the paramiko
channel) under http.client's buffered reader. The reader that parsed the ``101 UPGRADED`` headers
may already hold the first bytes of the output, when they arrived in the same packet as the headers:
a short output (``echo hi``, a small ``pg_dump``) is then lost whole, and the exit code still says 0.
Here the output is read through that buffered reader, so what it holds comes first and nothing is
dropped. The stream's framing (8-byte headers per stdout/stderr chunk, none with a tty) is Docker's.
"""

from __future__ import annotations

import struct
from typing import Callable, Optional

_HEADER = 8  # stream type (1), padding (3), big-endian payload length (4)
_CHUNK = 32 * 1024


def buffered_reader(response) -> Callable[[int], bytes]:
    """``read(n)``: at most ``n`` bytes of the upgraded connection (b"" at its end), starting with
    what http.client's reader of ``response`` read past the headers."""
    fp = response.raw._fp.fp
    if hasattr(fp, "read1"):  # io.BufferedReader over a socket: unix:// and tcp:// (TLS too)
        return fp.read1
    # paramiko's ChannelFile (ssh://): its own buffer first, then the channel it reads from.
    channel = fp.channel
    pending = bytes(fp._rbuffer)
    fp._rbuffer = bytes()

    def read(size: int) -> bytes:
        nonlocal pending
        if pending:
            out, pending = pending[:size], pending[size:]
            return out
        return channel.recv(size)

    return read


def read_exactly(read: Callable[[int], bytes], size: int) -> Optional[bytes]:
    """``size`` bytes, or None when the stream ends first."""
    got = bytearray()
    while len(got) < size:
        chunk = read(size - len(got))
        if not chunk:
            return None
        got += chunk
    return bytes(got)


STDERR = 2  # a frame's stream type: 1 stdout, 2 stderr


def read_frames(read: Callable[[int], bytes], out: Callable[[bytes], None],
                err: Optional[Callable[[bytes], None]] = None) -> None:
    """Each frame's payload passed on as it arrives, never held whole (an output may be gigabytes):
    stderr's to ``err`` (to ``out`` too when there is no ``err``), everything else to ``out``."""
    while True:
        header = read_exactly(read, _HEADER)
        if header is None:
            return
        kind, remaining = struct.unpack(">BxxxL", header)
        emit = err if kind == STDERR and err is not None else out
        while remaining:
            chunk = read(min(remaining, _CHUNK))
            if not chunk:
                return
            emit(chunk)
            remaining -= len(chunk)


def exec_output(api, exec_id: str, tty: bool, write: Optional[Callable[[bytes], None]]) -> None:
    """Start the created exec ``exec_id`` and pass its output (stdout and stderr, in the order Docker
    sends them) to ``write`` as it comes, until the exec ends."""
    response = api._post_json(api._url("/exec/{0}/start", exec_id),
                              headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                              data={"Tty": tty, "Detach": False}, stream=True)
    api._raise_for_status(response)
    # An exec may print nothing for longer than the connection's timeout: wait as long as it runs.
    api._disable_socket_timeout(api._get_raw_response_socket(response))
    try:
        read = buffered_reader(response)
        emit = write or (lambda data: None)
        if tty:  # one raw stream, no frames
            for chunk in iter(lambda: read(_CHUNK), b""):
                emit(chunk)
        else:
            read_frames(read, emit)
    finally:
        response.close()
