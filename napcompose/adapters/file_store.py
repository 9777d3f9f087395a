"""The embedded store: one JSON file, every operation under an exclusive lock.

For one operator on one machine (the default when the cluster file names no store). A write reads
the file, changes it and replaces it through a temporary file, fsync and rename while the lock is
held, so a crash leaves either the old or the new file, never half of one. The lock is ``flock`` on a
side file opened anew for each operation: it excludes other processes and other threads alike.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from contextlib import contextmanager
from typing import Dict, Optional, Tuple

from napcompose.errors import StoreError


class FileStore:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self._lock_path = self.path + ".lock"
        self._thread_lock = threading.Lock()
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise StoreError(f"cannot use the address store {self.path}: directory {directory} does not exist")

    def __repr__(self) -> str:
        return f"FileStore({self.path!r})"

    # ------------------------------------------------------------------ the port

    def get(self, key: str) -> Optional[Tuple[str, int]]:
        with self._locked() as data:
            found = data["keys"].get(key)
            return None if found is None else (found[0], found[1])

    def create(self, key: str, value: str) -> Optional[int]:
        with self._locked(write=True) as data:
            if key in data["keys"]:
                return None
            return self._put(data, key, value)

    def compare_and_swap(self, key: str, value: str, version: int) -> Optional[int]:
        with self._locked(write=True) as data:
            found = data["keys"].get(key)
            if found is None or found[1] != version:
                return None
            return self._put(data, key, value)

    def compare_and_delete(self, key: str, version: int) -> bool:
        with self._locked(write=True) as data:
            found = data["keys"].get(key)
            if found is None or found[1] != version:
                return False
            del data["keys"][key]
            data["index"] += 1
            return True

    def list(self, prefix: str) -> Dict[str, Tuple[str, int]]:
        with self._locked() as data:
            return {k: (v[0], v[1]) for k, v in data["keys"].items() if k.startswith(prefix)}

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ the file

    @staticmethod
    def _put(data, key: str, value: str) -> int:
        data["index"] += 1
        data["keys"][key] = [value, data["index"]]
        return data["index"]

    @contextmanager
    def _locked(self, write: bool = False):
        with self._thread_lock:
            try:
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(f"cannot open the lock file {self._lock_path}: {exc.strerror}") from exc
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                data = self._read()
                before = data["index"]
                yield data
                if write and data["index"] != before:
                    self._write(data)
            finally:
                os.close(lock_fd)  # closing the descriptor releases the flock

    def _read(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            return {"format": 1, "index": 0, "keys": {}}
        except OSError as exc:
            raise StoreError(f"cannot read the address store {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(text) if text.strip() else {"format": 1, "index": 0, "keys": {}}
            if not isinstance(data.get("keys"), dict) or not isinstance(data.get("index"), int):
                raise ValueError("missing 'keys' or 'index'")
        except (ValueError, AttributeError) as exc:
            raise StoreError(f"the address store {self.path} is not a nap-compose store file ({exc}); "
                             "move it away or point store.url elsewhere") from None
        return data

    def _write(self, data: dict) -> None:
        tmp = f"{self.path}.tmp.{os.getpid()}.{threading.get_ident()}"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"), sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(os.path.dirname(self.path), os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # make the rename itself durable
            finally:
                os.close(dir_fd)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise StoreError(f"cannot write the address store {self.path}: {exc.strerror}") from exc
