"""The file operations shipping needs, over an SFTP client or on the local file system.

``SftpTree`` and ``LocalTree`` implement the same small set (listdir, makedirs, put, symlink, rename,
remove_tree); RemoteFiles and LocalFiles in ``adapters.ssh`` hand their calls here. Errors come back
as HostError naming the host, the operation and the path.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import Callable, List

import paramiko

from napcompose.adapters.sdk_errors import cause
from napcompose.errors import HostError


def _missing(exc: BaseException) -> bool:
    return isinstance(exc, (FileNotFoundError, IOError)) and getattr(exc, "errno", None) == errno.ENOENT


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
        except (paramiko.SSHException, OSError) as exc:
            if _missing(exc):
                return []
            raise self._fail("listing", path, exc) from exc

    def makedirs(self, path: str, mode: int) -> None:
        sftp = self._client()
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            try:
                sftp.stat(current)
                continue
            except (paramiko.SSHException, OSError) as exc:
                if not _missing(exc):
                    raise self._fail("creating", current, exc) from exc
            try:
                sftp.mkdir(current, mode)
                sftp.chmod(current, mode)  # mkdir's mode is subject to the server's umask
            except (paramiko.SSHException, OSError) as exc:
                raise self._fail("creating", current, exc) from exc

    def put(self, path: str, data: bytes, mode: int) -> None:
        sftp = self._client()
        try:
            with sftp.open(path, "w") as fh:
                fh.set_pipelined(True)
                fh.write(data)
            sftp.chmod(path, mode)
        except (paramiko.SSHException, OSError) as exc:
            raise self._fail("writing", path, exc) from exc

    def symlink(self, target: str, path: str) -> None:
        try:
            self._client().symlink(target, path)
        except (paramiko.SSHException, OSError) as exc:
            raise self._fail("linking", path, exc) from exc

    def rename(self, source: str, destination: str) -> None:
        try:
            self._client().rename(source, destination)
        except (paramiko.SSHException, OSError) as exc:
            raise self._fail(f"renaming {source} to", destination, exc) from exc

    def remove_tree(self, path: str) -> None:
        sftp = self._client()
        try:
            info = sftp.lstat(path)
        except (paramiko.SSHException, OSError) as exc:
            if _missing(exc):
                return
            raise self._fail("removing", path, exc) from exc
        try:
            if stat.S_ISDIR(info.st_mode):
                for entry in sftp.listdir_attr(path):
                    child = f"{path.rstrip('/')}/{entry.filename}"
                    if stat.S_ISDIR(entry.st_mode):
                        self.remove_tree(child)
                    else:
                        sftp.remove(child)
                sftp.rmdir(path)
            else:
                sftp.remove(path)
        except (paramiko.SSHException, OSError) as exc:
            raise self._fail("removing", path, exc) from exc


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
                fh.write(data)
            os.chmod(path, mode)
        except OSError as exc:
            raise self._fail("writing", path, exc) from exc

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

    def remove_tree(self, path: str) -> None:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        except OSError as exc:
            raise self._fail("removing", path, exc) from exc
