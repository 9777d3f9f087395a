"""The file operations shipping needs, over an SFTP client or on the local file system.

``SftpTree`` and ``LocalTree`` implement the same small set (listdir, makedirs, put, symlink, rename,
remove_tree); RemoteFiles and LocalFiles in ``adapters.ssh`` hand their calls here. Errors come back
as HostError naming the host, the operation and the path.
"""

from __future__ import annotations

import errno
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List, Sequence, Tuple

import paramiko

from napcompose.adapters.many_files import read_each, write_each
from napcompose.adapters.sdk_errors import cause
from napcompose.adapters.staged_put import by_parts
from napcompose.errors import HostError


def _missing(exc: BaseException) -> bool:
    return isinstance(exc, (FileNotFoundError, IOError)) and getattr(exc, "errno", None) == errno.ENOENT


# What an SFTP call raises when it fails: the server's answer (OSError), the transport's own words
# (SSHException), or EOFError when its channel ended under it (paramiko raises that bare).
SFTP_FAILURES = (paramiko.SSHException, OSError, EOFError)

PUT_WORKERS = 8  # SFTP sessions per host for a bulk copy: each file costs several round trips


def _chunks(data) -> Iterable[bytes]:
    """``data`` as chunks: bytes are one; anything else is an iterable of chunks (a large file is
    read piece by piece as it is sent, never held whole)."""
    return (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data


def _put(sftp: paramiko.SFTPClient, path: str, data, mode: int, fail) -> None:
    try:
        with sftp.open(path, "w") as fh:
            fh.set_pipelined(True)
            for chunk in _chunks(data):
                fh.write(chunk)
        sftp.chmod(path, mode)
    except SFTP_FAILURES as exc:
        raise fail("writing", path, exc) from exc


class SftpTree:
    """The operations over one paramiko SFTP client (the caller serialises calls)."""

    def __init__(self, host: str, client: Callable[[], paramiko.SFTPClient]):
        self.host = host
        self._client = client

    def _fail(self, what: str, path: str, exc: BaseException) -> HostError:
        return HostError(self.host, f"{what} {path} over SFTP: {cause(exc)}")

    def listdir(self, path: str) -> List[str]:
        try:
            return sorted(self._client().listdir(path))
        except SFTP_FAILURES as exc:
            if _missing(exc):
                return []
            raise self._fail("listing", path, exc) from exc

    def makedirs(self, path: str, mode: int) -> None:
        # mkdir first: a directory whose parent exists (the common case) costs two round trips.
        sftp = self._client()
        try:
            sftp.mkdir(path, mode)
        except SFTP_FAILURES as exc:
            try:
                if stat.S_ISDIR(sftp.stat(path).st_mode):
                    return
                raise self._fail("creating", path, exc) from exc
            except SFTP_FAILURES as missing:
                if not _missing(missing) or path.rstrip("/").count("/") < 2:
                    raise self._fail("creating", path, exc) from exc
            self.makedirs(path.rstrip("/").rsplit("/", 1)[0], mode)
            try:
                sftp.mkdir(path, mode)
            except SFTP_FAILURES as again:
                raise self._fail("creating", path, again) from again
        try:
            sftp.chmod(path, mode)  # mkdir's mode is subject to the server's umask
        except SFTP_FAILURES as exc:
            raise self._fail("creating", path, exc) from exc

    def put(self, path: str, data: bytes, mode: int) -> None:
        _put(self._client(), path, data, mode, self._fail)

    def put_many(self, items: Sequence[Tuple[str, Callable[[], bytes], int]],
                 sessions: Callable[[], paramiko.SFTPClient], workers: int = PUT_WORKERS) -> None:
        """Put many files over several SFTP sessions of the same SSH connection at once."""
        if len(items) < 2 * workers:
            for path, load, mode in items:
                self.put(path, load(), mode)
            return
        chunks = [items[i::workers] for i in range(workers)]

        def send(chunk):
            sftp = sessions()
            try:
                for path, load, mode in chunk:
                    _put(sftp, path, load(), mode, self._fail)
            finally:
                try:
                    sftp.close()
                except SFTP_FAILURES:  # the connection ended under it: the put's own error says so
                    pass

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(send, chunk) for chunk in chunks]:
                future.result()

    def symlink(self, target: str, path: str) -> None:
        try:
            self._client().symlink(target, path)
        except SFTP_FAILURES as exc:
            raise self._fail("linking", path, exc) from exc

    def rename(self, source: str, destination: str) -> None:
        try:
            self._client().rename(source, destination)
        except SFTP_FAILURES as exc:
            raise self._fail(f"renaming {source} to", destination, exc) from exc

    def chown(self, path: str, uid: int, gid: int) -> None:
        try:
            self._client().chown(path, uid, gid)
        except SFTP_FAILURES as exc:
            raise self._fail(f"giving to {uid}:{gid}", path, exc) from exc

    def remove_tree(self, path: str) -> None:
        """Remove ``path`` and everything under it, depth first with a stack of our own: a container
        can make a tree deeper than Python's recursion limit in a read-write bind (1,000 levels ended
        every ``down`` in a RecursionError, leaving the project's files and secrets on the host)."""
        sftp = self._client()
        try:
            info = sftp.lstat(path)
        except SFTP_FAILURES as exc:
            if _missing(exc):
                return
            raise self._fail("removing", path, exc) from exc
        current = path
        try:
            if not stat.S_ISDIR(info.st_mode):
                sftp.remove(path)
                return
            # (directory, listed yet?): a directory is removed once everything under it is gone
            stack = [(path, False)]
            while stack:
                current, listed = stack.pop()
                if listed:
                    sftp.rmdir(current)
                    continue
                stack.append((current, True))
                for entry in sftp.listdir_attr(current):
                    child = f"{current.rstrip('/')}/{entry.filename}"
                    if stat.S_ISDIR(entry.st_mode):
                        stack.append((child, False))
                    else:
                        sftp.remove(child)
        except SFTP_FAILURES as exc:
            raise self._fail("removing", current, exc) from exc


class LocalTree:
    """The operations on this machine's file system (a unix:// host)."""

    def __init__(self, host: str):
        self.host = host

    def _fail(self, what: str, path: str, exc: OSError) -> HostError:
        return HostError(self.host, f"{what} {path}: {exc.strerror}")

    def listdir(self, path: str) -> List[str]:
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._fail("listing", path, exc) from exc

    def makedirs(self, path: str, mode: int) -> None:
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            if os.path.isdir(current):
                continue
            try:
                os.mkdir(current, mode)
                os.chmod(current, mode)
            except OSError as exc:
                raise self._fail("creating", current, exc) from exc

    def put(self, path: str, data: bytes, mode: int) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as fh:
                for chunk in _chunks(data):
                    fh.write(chunk)
            os.chmod(path, mode)
        except OSError as exc:
            raise self._fail("writing", path, exc) from exc

    def put_many(self, items: Sequence[Tuple[str, Callable[[], bytes], int]]) -> None:
        for path, load, mode in items:
            self.put(path, load(), mode)

    def read_many(self, paths, max_bytes: int):
        return read_each(self, paths, max_bytes)

    def write_many_in_place(self, items):
        return write_each(self, items)

    def put_stages(self, directory: str, stages, mode: int, remove=()) -> None:
        by_parts(self, directory, stages, mode, remove)

    def symlink(self, target: str, path: str) -> None:
        try:
            os.symlink(target, path)
        except OSError as exc:
            raise self._fail("linking", path, exc) from exc

    def rename(self, source: str, destination: str) -> None:
        try:
            os.rename(source, destination)
        except OSError as exc:
            raise self._fail(f"renaming {source} to", destination, exc) from exc

    def chown(self, path: str, uid: int, gid: int) -> None:
        try:
            os.chown(path, uid, gid, follow_symlinks=False)
        except OSError as exc:
            raise self._fail(f"giving to {uid}:{gid}", path, exc) from exc

    def remove_tree(self, path: str) -> None:
        """As the SFTP tree's: depth first with a stack of our own (shutil.rmtree recurses)."""
        current = path
        try:
            if not (os.path.isdir(path) and not os.path.islink(path)):
                if os.path.lexists(path):
                    os.unlink(path)
                return
            stack = [(path, False)]
            while stack:
                current, listed = stack.pop()
                if listed:
                    os.rmdir(current)
                    continue
                stack.append((current, True))
                with os.scandir(current) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, False))
                        else:
                            os.unlink(entry.path)
        except OSError as exc:
            raise self._fail("removing", current, exc) from exc
