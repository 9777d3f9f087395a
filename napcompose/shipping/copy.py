"""Putting shipped sources on a host, and taking a project's copies away again, through RemoteFiles.

One listing of ``/var/lib/nap-compose/<project>/files`` per host and run says which digests are
there already; only missing ones are sent. A copy is written under a ``.partial-<digest>`` name and
renamed into place when complete, so an interrupted run never leaves a half copy under a digest name
(the next run removes the partial one and starts over).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

from napcompose.errors import ConfigError
from napcompose.ports import RemoteFiles
from napcompose.shipping.manifest import HOST_ROOT, Entry, Shipped, files_dir

DIR_MODE = 0o700  # root-owned and private: the container sees the copy through its bind mount only


@dataclass(frozen=True)
class HostShipment:
    """What one host got: digests sent, digests it already had, bytes sent."""

    host: str
    sent: Tuple[str, ...]
    present: Tuple[str, ...]
    bytes_sent: int


CHUNK = 1024 * 1024  # a shipped file travels in pieces of this size: a 1 GB bind never sits in memory


def _read_checked(shipped: Shipped, entry: Entry):
    """The entry's content: a value's bytes, or the file's chunks as they are read, checked against
    the digest the plan was made with once the last one is read (a copy that fails the check stays
    under its ``.partial-`` name and is never renamed into place)."""
    if shipped.data is not None:
        return shipped.data
    path = shipped.source if not entry.path else os.path.join(shipped.source, entry.path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ConfigError(f"service '{shipped.service}': {path}: {exc.strerror} while shipping it") from None

    def chunks():
        sha = hashlib.sha256()
        with fh:
            while True:
                try:
                    chunk = fh.read(CHUNK)
                except OSError as exc:
                    raise ConfigError(f"service '{shipped.service}': {path}: {exc.strerror} while shipping it") \
                        from None
                if not chunk:
                    break
                sha.update(chunk)
                yield chunk
        if sha.hexdigest() != entry.digest:
            raise ConfigError(f"service '{shipped.service}': {path} changed while it was being shipped; run again")

    return chunks()


def _copy(files: RemoteFiles, root: str, shipped: Shipped) -> int:
    partial = f"{root}/.partial-{shipped.digest}"
    files.remove_tree(partial)
    files.makedirs(partial, DIR_MODE)
    base = f"{partial}/{os.path.basename(shipped.host_path)}"
    # Directories first (top-down), then every file at once, then the links.
    def where(entry: Entry) -> str:
        return base if not entry.path else f"{base}/{entry.path}"

    for entry in shipped.entries:
        if entry.kind == "dir":
            files.makedirs(where(entry), entry.mode)
    regular = [e for e in shipped.entries if e.kind == "file"]
    files.put_many([(where(e), lambda e=e: _read_checked(shipped, e), e.mode) for e in regular])
    for entry in shipped.entries:
        if entry.kind == "link":
            files.symlink(entry.link, where(entry))
    if shipped.owner is not None:  # a config or secret the container reads as this uid/gid
        files.chown(base, *shipped.owner)
    files.rename(partial, f"{root}/{shipped.digest}")
    return sum(e.size for e in regular)


def ship_to_host(host: str, files: RemoteFiles, project: str, sources: Sequence[Shipped]) -> HostShipment:
    """Make sure every source's copy is on the host; sends only digests it does not have."""
    root = files_dir(project)
    have = set(files.listdir(root))
    unique: Dict[str, Shipped] = {}
    for shipped in sources:
        unique.setdefault(shipped.digest, shipped)
    missing = [s for d, s in sorted(unique.items()) if d not in have]
    if missing:
        files.makedirs(root, DIR_MODE)
    sent = sum(_copy(files, root, s) for s in missing)
    return HostShipment(host=host, sent=tuple(s.digest for s in missing),
                        present=tuple(sorted(d for d in unique if d in have)), bytes_sent=sent)


def remove_project_files(files: RemoteFiles, project: str) -> None:
    """Remove every copy of ``project`` from a host; other projects' directories are never touched."""
    files.remove_tree(f"{HOST_ROOT}/{project}")
