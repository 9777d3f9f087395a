"""The exec stream reader: what http.client buffered past the headers comes first, frames are unwrapped."""

import io
import struct
from types import SimpleNamespace

from napcompose.adapters.exec_stream import buffered_reader, read_frames


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def response_over(reader):
    return SimpleNamespace(raw=SimpleNamespace(_fp=SimpleNamespace(fp=reader)))


def test_bytes_read_past_the_headers_are_not_lost():
    wire = io.BufferedReader(io.BytesIO(b"HTTP/1.1 101 UPGRADED\r\n\r\n" + frame(1, b"hi\n")))
    assert wire.readline() == b"HTTP/1.1 101 UPGRADED\r\n" and wire.readline() == b"\r\n"
    assert wire.raw.read(100) == b""  # the raw stream is drained: the frame sits in the buffer alone
    out = []
    read_frames(buffered_reader(response_over(wire)), out.append)
    assert b"".join(out) == b"hi\n"


class ChannelFile:
    """paramiko's ChannelFile as the reader sees it: a buffer of its own and the channel behind it."""

    def __init__(self, buffered: bytes, rest: bytes):
        self._rbuffer = buffered
        self.channel = SimpleNamespace(recv=io.BytesIO(rest).read)


def test_a_channel_files_buffer_comes_before_the_channel():
    whole = frame(1, b"out") + frame(2, b"err") + frame(1, b"x" * 70000)
    out = []
    read_frames(buffered_reader(response_over(ChannelFile(whole[:5], whole[5:]))), out.append)
    assert b"".join(out) == b"outerr" + b"x" * 70000
    assert max(len(chunk) for chunk in out) <= 32 * 1024  # passed on as it comes, never held whole


def test_a_stream_cut_inside_a_frame_gives_what_came():
    out = []
    cut = frame(1, b"abcdef")[:11]
    read_frames(buffered_reader(response_over(ChannelFile(b"", cut))), out.append)
    assert b"".join(out) == b"abc"


def test_stderr_frames_go_to_their_own_stream_when_one_is_given():
    wire = io.BufferedReader(io.BytesIO(frame(1, b"out") + frame(2, b"err") + frame(1, b"!")))
    out, err = [], []
    read_frames(buffered_reader(response_over(wire)), out.append, err.append)
    assert (b"".join(out), b"".join(err)) == (b"out!", b"err")
