"""Tar streams between the local file system and a container's archive endpoint, chunk by chunk.

``docker cp`` moves files as tar: the engine sends a path as a tar stream and unpacks one into a
directory. Here a stream from the engine is unpacked as it arrives, and a local path is packed as it
is sent (a writer thread feeds a bounded queue), so a large file is never held in memory. The
permission bits are kept (setuid, setgid and sticky bits are not); owners are not (as ``docker cp``
without ``-a``): files belong to whoever runs the command.
"""

from __future__ import annotations

import io
import os
import queue
import tarfile
import threading
from typing import BinaryIO, Iterable, Iterator, Optional

from napcompose.errors import NapComposeError

CHUNK = 1 << 16
_QUEUE_CHUNKS = 16  # at most this many chunks wait between the packer and the sender
_DONE = object()


class ArchiveError(NapComposeError):
    """A tar stream could not be packed or unpacked here; the message names the local path."""


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what tarfile's stream mode reads)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _KeepOwner(tarfile.TarFile):
    """Unpacks without giving files to the archive's owners (``docker cp`` without ``-a``)."""

    def chown(self, tarinfo, targetpath, numeric_owner):
        pass


def _safe(member: tarfile.TarInfo, directory: str) -> tarfile.TarInfo:
    """tarfile's "tar" filter (no absolute names, nothing outside ``directory``), but with the
    entry's permission bits as they were: that filter also clears group and other write."""
    checked = tarfile.tar_filter(member, directory)
    if member.mode is None or checked.mode is None:
        return checked
    return checked.replace(mode=member.mode & 0o777, deep=False)


def _renamed(name: str, top: str, new_top: Optional[str]) -> str:
    if new_top is None:
        return name
    head, sep, rest = name.partition("/")
    if head != top:
        raise ArchiveError(f"the archive holds {name!r} outside its top entry {top!r}")
    return new_top + sep + rest


def unpack(chunks: Iterable[bytes], directory: str, new_top: Optional[str] = None) -> int:
    """Unpack the tar stream ``chunks`` into ``directory``; its top entry becomes ``new_top`` when given.

    Entries that would land outside ``directory`` (absolute names, ``..``, links out) are refused.
    Returns the number of entries unpacked.
    """
    count, top = 0, None
    with _KeepOwner.open(fileobj=ChunkReader(chunks), mode="r|") as tar:
        for member in tar:
            if top is None:
                top = member.name.split("/", 1)[0]
            member.name = _renamed(member.name, top, new_top)
            try:
                tar.extract(member, directory, filter=_safe)
            except tarfile.FilterError as exc:
                raise ArchiveError(f"refused to unpack {member.name!r} into {directory}: {exc}") from exc
            except OSError as exc:
                raise ArchiveError(f"cannot write {os.path.join(directory, member.name)}: "
                                   f"{exc.strerror or exc}") from exc
            count += 1
    return count


class _QueueWriter(io.RawIOBase):
    """A writable file whose writes go to a bounded queue, for ``pack``'s thread."""

    def __init__(self, out: "queue.Queue", stop: threading.Event):
        self._out = out
        self._stop = stop

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._stop.is_set():
            raise BrokenPipeError("the receiver stopped reading")
        self._out.put(bytes(data))
        return len(data)


def pack(path: str, arcname: str) -> Iterator[bytes]:
    """``path`` (a file or a directory tree) as a tar stream whose top entry is ``arcname``.

    A missing or unreadable path is an ArchiveError before the first chunk is given.
    """
    if not os.path.lexists(path):
        raise ArchiveError(f"no such file or directory: {path}")
    if not os.access(path, os.R_OK):
        raise ArchiveError(f"cannot read {path}: permission denied")
    chunks: "queue.Queue" = queue.Queue(maxsize=_QUEUE_CHUNKS)
    stop = threading.Event()
    failure: list = []

    def writer():
        try:
            with tarfile.open(fileobj=_QueueWriter(chunks, stop), mode="w|", bufsize=CHUNK,
                              format=tarfile.PAX_FORMAT) as tar:
                tar.add(path, arcname=arcname)
        except BaseException as exc:  # handed to the reader, which raises it
            failure.append(exc)
        finally:
            chunks.put(_DONE)

    def reader():
        thread = threading.Thread(target=writer, daemon=True, name=f"pack-{arcname}")
        thread.start()
        try:
            while True:
                item = chunks.get()
                if item is _DONE:
                    break
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a writer waiting on a full queue
                try:
                    chunks.get(timeout=0.1)
                except queue.Empty:
                    pass
        if failure and not isinstance(failure[0], BrokenPipeError):
            exc = failure[0]
            raise ArchiveError(f"cannot pack {path}: {getattr(exc, 'strerror', None) or exc}") from exc

    return reader()


def copy_stream(chunks: Iterable[bytes], out: BinaryIO) -> None:
    """Write the chunks to ``out`` as they come (``cp SERVICE:PATH -``: the tar stream on stdout)."""
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def read_stream(source: BinaryIO) -> Iterator[bytes]:
    """``source`` in chunks (``cp - SERVICE:PATH``: a tar stream from stdin)."""
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            return
        yield chunk
