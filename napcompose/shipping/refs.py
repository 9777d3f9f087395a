"""Configs and secrets as shipped files: one copy per (content, mode, owner) on each host that needs it.

A container sees a bind-mounted file with the mode and owner of the host's file, so the copy is
prepared exactly as the container must see it (a secret 0400 root unless ``mode``/``uid``/``gid`` say
otherwise) and bound read-only at its target. The copy sits under the project's ``files`` directory,
whose directories are root's and 0700: no one on the host but root reaches it, whatever its own mode.
Two services asking for the same content with another mode or owner get copies of their own.

Reads the operator's disk only. A missing file or unset variable is refused here, before anything is
created, with a ConfigError naming the definition's file and line, the service and the config or
secret; no message carries a value.
"""

from __future__ import annotations

import hashlib
import os
from typing import Dict, Tuple

from napcompose.errors import ConfigError
from napcompose.model import FileMount, Project, ServiceSpec
from napcompose.shipping.manifest import Entry, Shipped, files_dir, scan, shipped_of, tree_digest


def _what(spec: ServiceSpec, mount: FileMount) -> str:
    return f"service '{spec.name}': {mount.kind} '{mount.name}'"


def _entry(project_dir: str, spec: ServiceSpec, mount: FileMount) -> Tuple[Entry, str]:
    """The copy's one entry (requested mode, content digest) and the operator's path ('' for a value)."""
    if mount.file is None:
        if mount.data is None:
            raise ConfigError(f"{mount.origin}: {_what(spec, mount)}: environment variable {mount.env} is not "
                              "set (nap-compose ships its value and never invents one)")
        return Entry("", "file", mount.mode, hashlib.sha256(mount.data).hexdigest(), len(mount.data)), ""
    source = mount.file
    # A file inside the project follows the bind rules (a symlink out of the project is refused);
    # one named outside it is the operator's explicit choice, read in place.
    inside = source == project_dir or source.startswith(project_dir.rstrip("/") + "/")
    try:
        kind, entries = scan(f"{_what(spec, mount)}: file", source,
                             project_dir if inside else os.path.dirname(source))
    except ConfigError as exc:
        raise ConfigError(f"{mount.origin}: {exc}") from None
    if kind != "file":
        raise ConfigError(f"{mount.origin}: {_what(spec, mount)}: file {source} is a directory; a {mount.kind} "
                          "is one file")
    found = entries[0]
    return Entry("", "file", mount.mode, found.digest, found.size), source


def shipped_mount(project: Project, spec: ServiceSpec, mount: FileMount) -> Shipped:
    """One config or secret of a service, as the copy its hosts get."""
    project_dir = os.path.normpath(os.path.abspath(project.working_dir))
    entry, source = _entry(project_dir, spec, mount)
    owner = None if mount.uid is None and mount.gid is None else (mount.uid or 0, mount.gid or 0)
    digest = tree_digest("file", (entry,), mount.kind)
    if owner is not None:
        digest = hashlib.sha256(f"{digest} owner {owner[0]}:{owner[1]}".encode()).hexdigest()
    return Shipped(service=spec.name, source=source, target=mount.target, read_only=True, kind="file",
                   digest=digest, entries=(entry,), host_path=f"{files_dir(project.name)}/{digest}/{mount.kind}",
                   mount=mount.kind, name=mount.name, owner=owner, data=mount.data if not source else None)


def shipped_by_service(project: Project) -> Dict[str, Tuple[Shipped, ...]]:
    """Every service's shipped bind sources, configs and secrets (services without any are left out)."""
    out = {}
    for spec in project.services:
        found = shipped_of(project, spec) + tuple(shipped_mount(project, spec, m) for m in spec.file_mounts)
        if found:
            out[spec.name] = found
    return out
