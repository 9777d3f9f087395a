"""A host's files: over SFTP on the host's shared SSH connection, or the local file system for unix://.

Hosts files are read and written by several workers of one host at once. One SFTP session answers
one request at a time (paramiko's client drops a reply meant for another thread), so reads and
in-place writes borrow a session from a small pool of sessions on the same SSH connection; the
shipping operations keep one session of their own.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional

import paramiko

from napcompose.adapters.dropped import once_more_if_dropped
from napcompose.adapters.file_ops import SFTP_FAILURES, LocalTree, SftpTree
from napcompose.adapters.host_commands import run_command
from napcompose.adapters import many_files, staged_put
from napcompose.adapters.sdk_errors import cause
from napcompose.errors import HostError

FILE_SESSIONS = 4  # sessions per host for hosts-file reads and writes



def within(host: str, path: str, data: bytes, max_bytes: Optional[int]) -> bytes:
    """``data`` when it is no more than ``max_bytes``; else HostError naming host, path and the limit."""
    if max_bytes is not None and len(data) > max_bytes:
        raise HostError(host, f"{path} holds more than {max_bytes} bytes; not read (a container made it grow?)")
    return data

def _bounded(host: str, path: str, data, max_bytes: int):
    """``data`` as ``within`` leaves it, its HostError returned rather than raised (a batch answers each file)."""
    if not isinstance(data, bytes):
        return data
    try:
        return within(host, path, data, max_bytes)
    except HostError as exc:
        return exc


class _SessionPool:
    """Up to ``limit`` SFTP sessions of one host, lent one per call and kept for the next.

    Sessions of a transport that was replaced (the connection was reopened) are dropped; a session
    whose call failed is closed rather than lent again.
    """

    def __init__(self, host: str, client: Callable[[], paramiko.SSHClient], timeout: float, limit: int):
        self.host = host
        self._client = client
        self._timeout = timeout
        self._limit = limit
        self._idle: List[paramiko.SFTPClient] = []
        self._open = 0
        self._transport = None
        self._ready = threading.Condition()

    def _new(self) -> paramiko.SFTPClient:
        try:
            sftp = self._client().open_sftp()
        except SFTP_FAILURES as exc:
            raise HostError(self.host, f"opening SFTP: {cause(exc)}") from exc
        sftp.get_channel().settimeout(self._timeout)
        return sftp

    def borrow(self) -> paramiko.SFTPClient:
        transport = self._client().get_transport()
        with self._ready:
            if transport is not self._transport:
                stale, self._idle, self._open = self._idle, [], 0
                self._transport = transport
                for sftp in stale:
                    _close(sftp)
            while not self._idle and self._open >= self._limit:
                self._ready.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._new()
        except BaseException:
            with self._ready:
                self._open -= 1
                self._ready.notify()
            raise

    def give_back(self, sftp: paramiko.SFTPClient, healthy: bool) -> None:
        with self._ready:
            current = sftp.get_channel().get_transport() is self._transport
            if healthy and current:
                self._idle.append(sftp)
            else:
                if current:
                    self._open -= 1
                _close(sftp)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            idle, self._idle, self._open = self._idle, [], 0
        for sftp in idle:
            _close(sftp)


def _close(sftp: paramiko.SFTPClient) -> None:
    try:
        sftp.close()
    except Exception:  # the connection may already be gone
        pass


class RemoteFiles:
    """Files of one host over SFTP on the host's shared SSH connection."""

    def __init__(self, connections, host_name: str, sessions: int = FILE_SESSIONS):
        self._connections = connections
        self.host = host_name
        self._lock = threading.Lock()
        self._sftp: Optional[paramiko.SFTPClient] = None
        self._transport = None
        self._pool = _SessionPool(host_name, lambda: connections.ssh(host_name), connections.op_timeout,
                                  sessions)

    def _connection(self) -> Callable[[], bool]:
        """Whether the SSH connection this host's operations use now is still alive, asked later."""
        transport = self._connections.ssh(self.host).get_transport()
        return lambda: transport is not None and transport.is_active()

    def _client(self) -> paramiko.SFTPClient:
        client = self._connections.ssh(self.host)
        transport = client.get_transport()
        if self._sftp is None or self._transport is not transport:
            try:
                self._sftp = client.open_sftp()
            except SFTP_FAILURES as exc:
                raise HostError(self.host, f"opening SFTP: {cause(exc)}") from exc
            self._sftp.get_channel().settimeout(self._connections.op_timeout)
            self._transport = transport
        return self._sftp

    def _with_session(self, work):
        sftp = self._pool.borrow()
        healthy = False
        try:
            result = work(sftp)
            healthy = True
            return result
        except SFTP_FAILURES as exc:
            # an answer from the server (no such file, permission) leaves the session usable
            healthy = isinstance(exc, OSError) and not isinstance(exc, (EOFError, TimeoutError))
            raise
        finally:
            self._pool.give_back(sftp, healthy)

    def read(self, path: str, max_bytes: Optional[int] = None) -> bytes:
        def work(sftp):
            with sftp.open(path, "r") as fh:
                return fh.read() if max_bytes is None else fh.read(max_bytes + 1)

        def once() -> bytes:
            try:
                return self._with_session(work)
            except SFTP_FAILURES as exc:
                raise HostError(self.host, f"reading {path} over SFTP: {cause(exc)}") from exc

        return within(self.host, path, once_more_if_dropped(self._connection, once), max_bytes)

    def write_in_place(self, path: str, data: bytes) -> None:
        # r+ keeps the inode: a container sees its hosts file through a bind mount of it.
        def work(sftp):
            with sftp.open(path, "r+") as fh:
                fh.write(data)
                fh.flush()
                fh.truncate(len(data))

        def once() -> None:
            try:
                self._with_session(work)
            except SFTP_FAILURES as exc:
                raise HostError(self.host, f"writing {path} over SFTP: {cause(exc)}") from exc

        once_more_if_dropped(self._connection, once)  # the whole text again: harmless

    def _runner(self, raw: bool = False):
        """One fixed command on this host (host_commands.run_command), as the batch modules call it."""
        return lambda argv, stdin: run_command(self._connections, self.host, argv, stdin, raw=raw)

    def read_many(self, paths, max_bytes: int):
        # one command for every file (many_files.py): reads, harmless to run twice
        got = many_files.read_many(self._runner(raw=True), self, paths, max_bytes)
        return [_bounded(self.host, path, data, max_bytes) for path, data in zip(paths, got)]

    def write_many_in_place(self, items):
        # the whole texts again on a second run: harmless
        return many_files.write_many(self._runner(raw=True), self, items)

    # Shipping: the same operations as LocalFiles, over this host's SFTP session, one call at a time.
    def _tree(self) -> SftpTree:
        return SftpTree(self.host, self._client)

    def _locked(self, work):
        with self._lock:
            return work()

    def listdir(self, path: str) -> List[str]:
        return once_more_if_dropped(self._connection, lambda: self._locked(lambda: self._tree().listdir(path)))

    def makedirs(self, path: str, mode: int) -> None:
        once_more_if_dropped(self._connection, lambda: self._locked(lambda: self._tree().makedirs(path, mode)))

    def put(self, path: str, data: bytes, mode: int) -> None:
        once_more_if_dropped(self._connection, lambda: self._locked(lambda: self._tree().put(path, data, mode)))

    def put_many(self, items) -> None:
        # Extra SFTP sessions on the same SSH connection carry the bulk; this one stays free.
        def session() -> paramiko.SFTPClient:
            try:
                sftp = self._connections.ssh(self.host).open_sftp()
            except SFTP_FAILURES as exc:
                raise HostError(self.host, f"opening SFTP: {cause(exc)}") from exc
            sftp.get_channel().settimeout(self._connections.op_timeout)
            return sftp

        # Under the lock: a few files go over this session itself, which must not carry two
        # threads' requests at once (paramiko's client then loses one's reply, and that caller
        # times out), e.g. a names write on the same host in the same wave.
        items = list(items)  # sent again whole when the connection died under them

        def once() -> None:
            with self._lock:
                self._client()
                self._tree().put_many(items, session)

        once_more_if_dropped(self._connection, once)

    def put_stages(self, directory: str, stages, mode: int, remove=()) -> None:
        # one command for the whole directory (staged_put.py); a whole second run is harmless
        staged_put.put_stages(self._runner(), self, directory, stages, mode, remove)

    def symlink(self, target: str, path: str) -> None:
        with self._lock:
            self._tree().symlink(target, path)

    def rename(self, source: str, destination: str) -> None:
        with self._lock:
            self._tree().rename(source, destination)

    def chown(self, path: str, uid: int, gid: int) -> None:
        with self._lock:
            self._tree().chown(path, uid, gid)

    def remove_tree(self, path: str) -> None:
        with self._lock:
            self._tree().remove_tree(path)

    def close(self) -> None:
        self._pool.close()
        with self._lock:
            if self._sftp is not None:
                _close(self._sftp)
                self._sftp = None


class LocalFiles(LocalTree):
    """Files of a unix:// host: the local file system, with the same in-place write."""

    def __init__(self, host_name: str):
        super().__init__(host_name)

    def read(self, path: str, max_bytes: Optional[int] = None) -> bytes:
        try:
            with open(path, "rb") as fh:
                data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except OSError as exc:
            raise HostError(self.host, f"reading {path}: {exc.strerror}") from exc
        return within(self.host, path, data, max_bytes)

    def write_in_place(self, path: str, data: bytes) -> None:
        try:
            with open(path, "r+b") as fh:
                fh.write(data)
                fh.flush()
                fh.truncate(len(data))
        except OSError as exc:
            raise HostError(self.host, f"writing {path}: {exc.strerror}") from exc

    def close(self) -> None:
        pass
