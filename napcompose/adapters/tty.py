"""The operator's side of an attached process: stdin read in chunks, output written as bytes, and the
local terminal (raw mode while a remote pseudo-terminal runs, its size, SIGWINCH).

``LocalStreams`` is the ``AttachedStreams`` port over this process's own files. Stdin is read from
its file descriptor a chunk at a time (``os.read``), so a restore piped in is never held in memory;
a stdin with no descriptor (an embedding caller's text stream) counts as empty.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import struct
import threading
from typing import Callable, Iterator, Optional, TextIO, Tuple

_CHUNK = 64 * 1024


def fileno_of(stream) -> Optional[int]:
    """The descriptor of ``stream``, or None when it has none (a StringIO, a test runner's stand-in)."""
    try:
        return stream.fileno() if stream is not None else None
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def is_terminal(stream) -> bool:
    fd = fileno_of(stream)
    return fd is not None and os.isatty(fd)


def _bytes_writer(stream: TextIO) -> Callable[[bytes], None]:
    """Write bytes to ``stream`` as they come: through its binary buffer when it has one (the output
    may be binary: a dump, an archive), decoded otherwise (a StringIO)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        def write(data: bytes) -> None:
            stream.flush()  # whatever was written as text goes first
            buffer.write(data)
            buffer.flush()
    else:
        def write(data: bytes) -> None:
            stream.write(data.decode("utf-8", "replace"))
            stream.flush()
    return write


class LocalStreams:
    """ports.AttachedStreams over this process's stdin, stdout and stderr."""

    def __init__(self, stdin, stdout: TextIO, stderr: TextIO, terminal: bool = False):
        self._stdin_fd = fileno_of(stdin)
        self.out = _bytes_writer(stdout)
        self.err = _bytes_writer(stderr)
        self._terminal_fd = self._stdin_fd if terminal and self._stdin_fd is not None else None
        self._resizers: list = []
        self._stop = threading.Event()

    @property
    def has_stdin(self) -> bool:
        return self._stdin_fd is not None

    def read(self) -> bytes:
        if self._stdin_fd is None:
            return b""
        try:
            return os.read(self._stdin_fd, _CHUNK)
        except OSError:
            return b""

    def size(self) -> Optional[Tuple[int, int]]:
        if self._terminal_fd is None:
            return None
        try:
            import fcntl
            import termios

            rows, columns, _, _ = struct.unpack("HHHH", fcntl.ioctl(self._terminal_fd, termios.TIOCGWINSZ,
                                                                    b"\0" * 8))
        except OSError:
            return None
        return (rows, columns) if rows and columns else None

    def on_resize(self, resize: Callable[[int, int], None]) -> None:
        """SIGWINCH only wakes a thread that sends the new size (a signal handler must not talk HTTP)."""
        if self._terminal_fd is None:
            return
        changed = threading.Event()
        try:
            previous = signal.signal(signal.SIGWINCH, lambda signum, frame: changed.set())
        except ValueError:  # not the main thread: the size stays as it was at the start
            return

        def follow() -> None:
            while not self._stop.is_set():
                if changed.wait(0.2):
                    changed.clear()
                    size = self.size()
                    if size is not None:
                        with contextlib.suppress(Exception):  # a lost resize must not end the session
                            resize(*size)

        threading.Thread(target=follow, daemon=True, name="resize").start()
        self._resizers.append(previous)

    def close(self) -> None:
        self._stop.set()
        for previous in self._resizers:
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGWINCH, previous)
        self._resizers.clear()


@contextlib.contextmanager
def raw_terminal(stream) -> Iterator[None]:
    """The terminal of ``stream`` in raw mode for the block (keys go to the remote terminal as typed,
    Ctrl-C included); its settings restored however the block ends. Nothing for a non-terminal."""
    fd = fileno_of(stream)
    if fd is None or not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
