"""Many files of one host read, or rewritten in place, in one round trip: a fixed Python program, paths on stdin.

A pass over a host's hosts files read and rewrote each file over SFTP: an open, a read or a write, a
close, each a round trip, for every container. Here one command reads them all and another writes
the changed ones: ``python3 -c`` with a constant program, the paths and contents on stdin (each a
header line and its bytes), the answers on stdout, one per path in the order asked, each file on
its own (a file that fails is answered with the system's words; the others go on). A write keeps
the file's inode: it opens the existing file (never creating one, never following a symlink),
writes and truncates, as a container sees its hosts file through a bind mount of that inode.

A host without ``python3`` gets the same file by file over the RemoteFiles operations.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

from napcompose.errors import HostError

# runs argv on the host with stdin: (exit status, stdout, stderr)
Runner = Callable[[Sequence[str], Union[str, bytes]], Tuple[int, Union[str, bytes], str]]
NOT_FOUND = 127  # the shell's status for a program the host does not have

READ_PROGRAM = r"""
import os, sys
limit = int(sys.argv[1])
out = sys.stdout.buffer
for line in sys.stdin.buffer.read().split(b"\n"):
    if not line:
        continue
    try:
        fd = os.open(line, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            data = b""
            while len(data) <= limit:
                chunk = os.read(fd, limit + 1 - len(data))
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
    except OSError as exc:
        out.write(b"ERR " + (exc.strerror or "error").encode() + b"\n")
        continue
    out.write(b"OK %d\n" % len(data))
    out.write(data)
"""

WRITE_PROGRAM = r"""
import os, sys
source = sys.stdin.buffer
out = sys.stdout.buffer
while True:
    head = source.readline()
    if not head:
        break
    size, path = head.rstrip(b"\n").split(b" ", 1)
    data = source.read(int(size))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
    except OSError as exc:
        out.write(b"ERR " + (exc.strerror or "error").encode() + b"\n")
        continue
    out.write(b"OK\n")
"""


def _checked(host: str, path: str) -> bytes:
    if not path.startswith("/") or "\n" in path or "\0" in path:
        raise HostError(host, f"{path!r}: not an absolute path of one line")
    return path.encode()


def read_many(run: Runner, files, paths: Sequence[str], max_bytes: int) -> List[Union[bytes, HostError]]:
    """Each file's bytes (at most ``max_bytes + 1`` of them, as RemoteFiles.read takes them), or the
    HostError naming its host and path; in the order of ``paths``."""
    if not paths:
        return []
    payload = b"\n".join(_checked(files.host, p) for p in paths) + b"\n"
    status, out, err = run(["python3", "-c", READ_PROGRAM, str(int(max_bytes))], payload)
    if status == NOT_FOUND:
        return read_each(files, paths, max_bytes)
    answers = _answers(files.host, status, out, err, len(paths), with_data=True)
    return [HostError(files.host, f"reading {path}: {answer}") if isinstance(answer, str) else answer
            for path, answer in zip(paths, answers)]


def write_many(run: Runner, files, items: Sequence[Tuple[str, bytes]]) -> List[Optional[HostError]]:
    """Rewrite each existing file in place with its bytes; for each, None or the HostError naming its
    host and path, in the order of ``items``."""
    if not items:
        return []
    payload = b"".join(b"%d " % len(data) + _checked(files.host, path) + b"\n" + data for path, data in items)
    status, out, err = run(["python3", "-c", WRITE_PROGRAM], payload)
    if status == NOT_FOUND:
        return write_each(files, items)
    answers = _answers(files.host, status, out, err, len(items), with_data=False)
    return [HostError(files.host, f"writing {path}: {answer}") if isinstance(answer, str) else None
            for (path, _), answer in zip(items, answers)]


def read_each(files, paths: Sequence[str], max_bytes: int) -> List[Union[bytes, HostError]]:
    """``read_many`` through ``files.read``, one file after another (a host without python3, a unix:// host)."""
    return [_answer(lambda p=p: files.read(p, max_bytes)) for p in paths]


def write_each(files, items: Sequence[Tuple[str, bytes]]) -> List[Optional[HostError]]:
    """``write_many`` through ``files.write_in_place``, one file after another."""
    return [_answer(lambda i=item: files.write_in_place(*i)) for item in items]


def _answer(work):
    """``work()``, or the HostError it raised: a batch answers for each file on its own."""
    try:
        return work()
    except HostError as exc:
        return exc


def _answers(host: str, status: int, out, err: str, count: int, with_data: bool) -> list:
    """The program's answers: bytes (a file read), True (a file written) or the system's words (str)."""
    if status != 0:
        said = (err or "").strip().splitlines()
        raise HostError(host, f"python3 on the host failed: {said[-1] if said else f'exit status {status}'}")
    data = out if isinstance(out, bytes) else out.encode("utf-8", "surrogateescape")
    answers, at = [], 0
    while len(answers) < count:
        end = data.find(b"\n", at)
        if end < 0:
            raise HostError(host, f"python3 on the host answered {len(answers)} of {count} files")
        head = data[at:end]
        at = end + 1
        if head.startswith(b"ERR "):
            answers.append(head[4:].decode("utf-8", "replace"))
        elif with_data and head.startswith(b"OK "):
            size = int(head[3:])
            answers.append(bytes(data[at:at + size]))
            at += size
        elif not with_data and head == b"OK":
            answers.append(True)
        else:
            raise HostError(host, "python3 on the host answered what it should not")
    return answers
