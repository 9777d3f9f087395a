"""Many small files of one directory put in one round trip: a fixed Python program on the host, the files on stdin.

Over SFTP every file costs an open, a write, a close and a chmod, one round trip after the other,
and each extra session its own handshake: the resolver's files of a first ``up`` (two per service on
every host) took a third of a second before any container could start. Here the host runs one fixed
program (``python3 -c``) with the directory as its only argument; each file comes on stdin as a
header line (kind, mode, length, name) and its bytes, written in the order given, each created or
replaced in place (truncated and written, never renamed over: the resolver rereads a file it sees
closed, and forgets whatever a removed file held). Removals come last. Names are checked on both
sides: one plain name in the directory, never a path.

A host without ``python3`` gets the same through SFTP, a stage at a time (``by_parts``).
"""

from __future__ import annotations

import re
from typing import Callable, Sequence, Tuple

from napcompose.adapters.many_files import NOT_FOUND, Runner
from napcompose.errors import HostError

Item = Tuple[str, Callable[[], object]]  # (file name, load: bytes or an iterable of byte chunks)

_NAME_RE = re.compile(r"[A-Za-z0-9@._+-]{1,255}")

PROGRAM = r"""
import os, sys
where = sys.argv[1]
def fail(name, error):
    sys.stderr.write(f"{where}/{name}: {error}\n")
    sys.exit(1)
try:
    os.makedirs(where, 0o755, exist_ok=True)
    top = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
except OSError as exc:
    fail("", exc.strerror)
source = sys.stdin.buffer
while True:
    head = source.readline()
    if not head:
        break
    fields = head.decode().rstrip("\n").split(" ")
    name = fields[-1]
    if "/" in name or name in ("", ".", ".."):
        fail(name, "not a plain file name")
    try:
        if fields[0] == "W" and len(fields) == 4:
            size, mode = int(fields[2]), int(fields[1], 8)
            data = source.read(size)
            if len(data) != size:
                fail(name, "input ended early")
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode, dir_fd=top)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
        elif fields[0] == "R" and len(fields) == 2:
            try:
                os.unlink(name, dir_fd=top)
            except FileNotFoundError:
                pass
        else:
            fail(name, "malformed input")
    except OSError as exc:
        fail(name, exc.strerror)
"""


def put_stages(run: Runner, files, directory: str, stages: Sequence[Sequence[Item]], mode: int,
               remove: Sequence[str] = ()) -> None:
    """RemoteFiles.put_stages for ``files`` (its host's): one run of the program through ``run``; on a
    host without python3, ``by_parts``. HostError names the host and the file the program stopped at."""
    payload = encode(files.host, directory, stages, mode, remove)
    status, out, err = run(["python3", "-c", PROGRAM, directory], payload)
    if status == NOT_FOUND:
        by_parts(files, directory, stages, mode, remove)
    elif status != 0:
        said = (err or out).strip().splitlines()
        raise HostError(files.host, f"writing in {directory}: {said[-1] if said else f'exit status {status}'}")


def checked_name(host: str, directory: str, name: str) -> str:
    """``name`` when it is one plain file name; else HostError naming the host and the path."""
    if not _NAME_RE.fullmatch(name) or name in (".", ".."):
        raise HostError(host, f"{directory}/{name}: not a plain file name")
    return name


def encode(host: str, directory: str, stages: Sequence[Sequence[Item]], mode: int, remove: Sequence[str]) -> bytes:
    """The program's input: every stage's files in order, then the removals."""
    parts = []
    for stage in stages:
        for name, load in stage:
            data = _whole(load())
            parts.append(f"W {mode:o} {len(data)} {checked_name(host, directory, name)}\n".encode())
            parts.append(data)
    for name in remove:
        parts.append(f"R {checked_name(host, directory, name)}\n".encode())
    return b"".join(parts)


def _whole(data) -> bytes:
    return data if isinstance(data, bytes) else b"".join(data)


def by_parts(files, directory: str, stages: Sequence[Sequence[Item]], mode: int, remove: Sequence[str]) -> None:
    """The same through the RemoteFiles operations: the directory, each stage's ``put_many`` (a stage
    wholly before the next; within one, in any order), then each removal."""
    for stage in stages:
        for name, _ in stage:
            checked_name(files.host, directory, name)
    for name in remove:
        checked_name(files.host, directory, name)
    files.makedirs(directory, 0o755)
    for stage in stages:
        if stage:
            files.put_many([(f"{directory}/{name}", load, mode) for name, load in stage])
    for name in remove:
        files.remove_tree(f"{directory}/{name}")
