"""Project files that travel to the hosts: which bind sources are shipped, their digests, their host copies.

A bind mount whose source lies inside the project directory names the operator's file, which a
remote host does not have. Such a source is *shipped*: copied over the host's SSH connection to
``/var/lib/nap-compose/<project>/files/<digest>/<name>`` and the bind is pointed at that copy. The
digest covers content, file modes and the tree's shape, so a changed file gives a new copy (and a new
config hash for exactly the services that mount it), and an unchanged one is never sent again.
Absolute sources outside the project (``/var/run/docker.sock``, ``/srv/data``) are host paths by
intent and pass through unchanged.

Everything here reads the operator's disk only; nothing is created anywhere. Bad sources (missing,
a symlink leading out of the project) are refused with a ConfigError naming the service and path.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.errors import ConfigError
from napcompose.model import Project, ServiceSpec

HOST_ROOT = "/var/lib/nap-compose"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One node of a shipped source; ``path`` is relative to the source ('' for the source itself)."""

    path: str
    kind: str  # file | dir | link
    mode: int  # permission bits (files and directories)
    digest: str = ""  # sha256 of a file's content
    size: int = 0
    link: str = ""  # a symlink's target, relative and inside the shipped tree


@dataclass(frozen=True)
class Shipped:
    """One shipped bind source of one service, and where its copy lives on a host."""

    service: str
    source: str  # absolute path on the operator's machine
    target: str  # path inside the container
    read_only: bool
    kind: str  # file | dir
    digest: str  # sha256 (hex) of the canonical listing of ``entries``
    entries: Tuple[Entry, ...]
    host_path: str  # the copy on the host, what the bind is rewritten to
    mount: str = "bind"  # bind | config | secret
    name: str = ""  # the config's or secret's name
    owner: Optional[Tuple[int, int]] = None  # (uid, gid) the copy is given; None: root's
    data: Optional[bytes] = field(default=None, repr=False)  # the value of content: or environment:

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def shown(self) -> str:
        """How plan lines name it: the operator's path, or the config/secret (never its value)."""
        if self.mount == "bind":
            return self.source
        return f"{self.mount} {self.name}" + (f" ({self.source})" if self.source else "")


def files_dir(project: str) -> str:
    """The directory holding every shipped copy of ``project`` on a host."""
    return f"{HOST_ROOT}/{project}/files"


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def split_volume(text: str) -> Tuple[Optional[str], str, str]:
    """(source or None, target, options) of a normalised volume entry ``source:target[:opts]``."""
    parts = text.split(":")
    if len(parts) == 1:
        return None, parts[0], ""
    return parts[0], parts[1], ":".join(parts[2:])


def _file_digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                return sha.hexdigest()
            sha.update(chunk)


def _refuse(service: str, source: str, why: str) -> ConfigError:
    # ``service`` may already say what is shipped ("service 'web': secret 'db'"); a bare name is a bind's.
    what = service if service.startswith("service ") else f"service '{service}': bind source"
    return ConfigError(f"{what} {source} {why}")


def _link_entry(service: str, root: str, project_dir: str, path: str, rel: str) -> Entry:
    """A symlink inside a shipped tree: kept when it stays inside the tree, refused otherwise (never followed)."""
    target = os.readlink(path)
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
    if not _under(resolved, project_dir):
        raise _refuse(service, root, f"holds a symlink {rel} -> {target} that points outside the project "
                                     f"directory {project_dir}; nap-compose never follows it")
    if os.path.isabs(target) or not _under(resolved, root):
        raise _refuse(service, root, f"holds a symlink {rel} -> {target} that leads out of the shipped "
                                     "directory; it would point nowhere on the host (use a relative link "
                                     "inside the directory, or mount its target)")
    return Entry(path=rel, kind="link", mode=0o777, link=target)


def _symlinked_escape(source: str, project_dir: str) -> Optional[Tuple[str, str]]:
    """(directory, its link target) of the first symlinked directory on the way from ``project_dir``
    to ``source`` that leads out of the project; None when every step stays inside. Checking only the
    last component let ``./etc-link/shadow`` (``etc-link -> /etc``) ship the operator's /etc/shadow."""
    real_project = os.path.realpath(project_dir)
    if not _under(source, project_dir):
        return None
    path = project_dir
    for part in os.path.relpath(source, project_dir).split(os.sep)[:-1]:
        if part in ("", "."):
            continue
        path = os.path.join(path, part)
        if os.path.islink(path) and not _under(os.path.realpath(path), real_project):
            return path, os.readlink(path)
    return None


def scan(service: str, source: str, project_dir: str) -> Tuple[str, Tuple[Entry, ...]]:
    """(kind, entries) of a source on the operator's disk; ConfigError when it may not be shipped."""
    escape = _symlinked_escape(source, project_dir)
    if escape is not None:
        link, target = escape
        raise _refuse(service, source, f"leads through the symlink {os.path.relpath(link, project_dir)} -> "
                                       f"{target}, outside the project directory {project_dir}; nap-compose "
                                       "never follows it")
    try:
        top = os.lstat(source)
    except FileNotFoundError:
        raise _refuse(service, source, "does not exist on this machine (nap-compose ships it from the project "
                                       "directory and never creates it)") from None
    except OSError as exc:
        raise _refuse(service, source, f"cannot be read: {exc.strerror}") from None
    if stat.S_ISLNK(top.st_mode):
        real = os.path.realpath(source)
        if not _under(real, os.path.realpath(project_dir)):
            raise _refuse(service, source, f"is a symlink to {os.readlink(source)}, outside the project "
                                           f"directory {project_dir}; nap-compose never follows it")
        return scan(service, real, project_dir)
    try:
        if stat.S_ISREG(top.st_mode):
            return "file", (Entry("", "file", stat.S_IMODE(top.st_mode), _file_digest(source), top.st_size),)
        if not stat.S_ISDIR(top.st_mode):
            raise _refuse(service, source, "is neither a file nor a directory")
        entries: List[Entry] = [Entry("", "dir", stat.S_IMODE(top.st_mode))]
        for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, source)
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    entries.append(_link_entry(service, source, project_dir, path, rel))
                elif stat.S_ISDIR(info.st_mode):
                    entries.append(Entry(rel, "dir", stat.S_IMODE(info.st_mode)))
                elif stat.S_ISREG(info.st_mode):
                    entries.append(Entry(rel, "file", stat.S_IMODE(info.st_mode), _file_digest(path), info.st_size))
                else:
                    raise _refuse(service, source, f"holds {rel}, which is neither a file, a directory nor a "
                                                   "symlink")
            # Symlinked directories are entries of their own, never walked into.
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        return "dir", tuple(entries)
    except PermissionError as exc:
        raise _refuse(service, source, f"cannot be read: {exc.filename}: {exc.strerror}") from None


def tree_digest(kind: str, entries: Sequence[Entry], name: str = "") -> str:
    """sha256 of the canonical listing: kind and the copy's name (two sources with the same content
    and different names get copies of their own), then per entry its path, kind, mode, content
    digest, link."""
    sha = hashlib.sha256(f"nap-compose-ship-v2 {kind} {name}\n".encode("utf-8", "surrogateescape"))
    for e in entries:
        sha.update(f"{e.path}\0{e.kind}\0{e.mode:o}\0{e.digest}\0{e.link}\n".encode("utf-8", "surrogateescape"))
    return sha.hexdigest()


def shipped_of(project: Project, spec: ServiceSpec) -> Tuple[Shipped, ...]:
    """The service's shipped bind sources, in the order of its volumes."""
    project_dir = os.path.normpath(os.path.abspath(project.working_dir))
    out = []
    for text in spec.volumes:
        source, target, options = split_volume(text)
        if source is None or not os.path.isabs(source) or not _under(os.path.normpath(source), project_dir):
            continue
        source = os.path.normpath(source)
        kind, entries = scan(spec.name, source, project_dir)
        name = os.path.basename(source) or "content"
        read_only = "ro" in options.split(",")
        digest = tree_digest(kind, entries, name)
        if not read_only:
            # A copy a container may write is its service's own: shared by digest, one service's writes
            # showed up in another service's read-only mount of the same files (and stayed there).
            digest = hashlib.sha256(f"{digest} read-write {spec.name}".encode()).hexdigest()
        out.append(Shipped(service=spec.name, source=source, target=target,
                           read_only=read_only, kind=kind, digest=digest, entries=entries,
                           host_path=f"{files_dir(project.name)}/{digest}/{name}"))
    return tuple(out)


def digest_of(shipped: Sequence[Shipped]) -> str:
    """One digest for a service's shipped sources, to join its config hash ('' when it ships nothing)."""
    if not shipped:
        return ""
    return hashlib.sha256("".join(f"{s.target}={s.digest}\n" for s in shipped).encode()).hexdigest()


def rewrite(spec: ServiceSpec, shipped: Sequence[Shipped]) -> ServiceSpec:
    """The spec with each shipped bind source pointed at its host copy (options kept), and each
    shipped config or secret turned into a read-only bind of its copy at its target."""
    if not shipped:
        return spec
    refs = {(s.mount, s.name, s.target): s.host_path for s in shipped if s.mount != "bind"}
    kept, binds = [], []
    for mount in spec.file_mounts:
        host_path = refs.get((mount.kind, mount.name, mount.target))
        if host_path is None:
            kept.append(mount)
        else:
            binds.append(f"{host_path}:{mount.target}:ro")
    by_source = {(s.source, s.target): s.host_path for s in shipped if s.mount == "bind"}
    volumes = []
    for text in spec.volumes:
        source, target, options = split_volume(text)
        host_path = by_source.get((os.path.normpath(source), target)) if source else None
        if host_path is None:
            volumes.append(text)
        else:
            volumes.append(f"{host_path}:{target}" + (f":{options}" if options else ""))
    return replace(spec, volumes=tuple(volumes + binds), file_mounts=tuple(kept))


def describe(project: Project, spec: ServiceSpec, shipped: Sequence[Shipped]) -> List[str]:
    """For ``plan``: which bind sources are shipped (and to where) and which are host paths."""
    lines = []
    project_dir = os.path.normpath(os.path.abspath(project.working_dir))
    by_key = {(s.source, s.target): s for s in shipped}
    for text in spec.volumes:
        source, target, _ = split_volume(text)
        if source is None:
            continue
        found = by_key.get((os.path.normpath(source), target))
        if found is not None:
            shown = os.path.relpath(found.source, project_dir)
            count = sum(1 for e in found.entries if e.kind == "file")
            lines.append(f"{spec.name}: ./{shown} -> {target}: shipped ({found.kind}, {count} file(s), "
                         f"{found.size} bytes, sha256:{found.digest[:12]}) to {found.host_path}")
        elif os.path.isabs(source):
            lines.append(f"{spec.name}: {source} -> {target}: host path, used as it is on each host")
    for found in (s for s in shipped if s.mount != "bind"):
        owner = "root" if found.owner is None else f"{found.owner[0]}:{found.owner[1]}"
        lines.append(f"{spec.name}: {found.shown} -> {found.target}: shipped (mode {found.entries[0].mode:04o}, "
                     f"owner {owner}, {found.size} bytes) to {found.host_path}")
    return lines
