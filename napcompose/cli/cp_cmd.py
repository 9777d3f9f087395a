"""``cp``: copy files between a replica's container, on whichever host it runs, and the local machine.

``cp SERVICE[:INDEX]:PATH LOCAL`` and ``cp LOCAL SERVICE[:INDEX]:PATH`` (``--index N`` as docker
compose takes it); ``-`` for LOCAL is a tar stream on stdout or from stdin, as ``docker cp`` has it.
The files travel as tar through the engine's archive endpoint over the host's existing connection,
chunk by chunk (adapters/archives.py). Where a copy lands follows ``docker cp``: into a directory
that exists, else under the name given (whose parent must exist).

Everything the command line says is checked against the compose file before a host is asked; the
replica is found by observing the hosts, and every error names the replica's container and host.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from typing import Optional

from napcompose.cli.common import check_services, load_project
from napcompose.cli.deploy_wiring import deploy_for
from napcompose.cli.replicas import find_replica
from napcompose.errors import ExitStatus, HostError, UsageError, without_host

_DIR_BIT = 1 << 31  # Go's os.ModeDir, in the mode of the engine's path stat


@dataclass(frozen=True)
class ContainerPath:
    """``SERVICE[:INDEX]:PATH``: a path in one replica's container."""

    service: str
    index: Optional[int]  # None: not written (``--index`` or 1)
    path: str


def is_container_side(text: str) -> bool:
    """Whether an argument names a container path: ``SERVICE:...`` where SERVICE holds no ``/``.

    As with ``docker cp``, a local path with a colon is written ``./a:b`` or as an absolute path.
    """
    head, sep, _ = text.partition(":")
    return bool(sep) and bool(head) and "/" not in head and not head.startswith(".")


def parse_container_path(text: str) -> ContainerPath:
    """``SERVICE:PATH`` or ``SERVICE:INDEX:PATH``; a UsageError naming the argument otherwise."""
    service, _, rest = text.partition(":")
    index = None
    first, sep, after = rest.partition(":")
    if sep and re.fullmatch(r"[0-9]+", first):
        index, rest = int(first), after
    elif sep and first and not first.startswith("/") and "/" not in first:
        raise UsageError(f"invalid container path '{text}': expected SERVICE[:INDEX]:PATH, and "
                         f"'{first}' is not a replica number")
    elif re.fullmatch(r"[0-9]+", rest):
        raise UsageError(f"invalid container path '{text}': the path in the container is missing "
                         "(SERVICE[:INDEX]:PATH)")
    if not rest:
        raise UsageError(f"invalid container path '{text}': the path in the container is missing "
                         "(SERVICE[:INDEX]:PATH)")
    if index is not None and index < 1:
        raise UsageError(f"invalid container path '{text}': replicas count from 1")
    return ContainerPath(service, index, rest)


@dataclass(frozen=True)
class CopyRequest:
    """One checked ``cp``: the container side, the local side, and which way the files go."""

    remote: ContainerPath
    index: int
    local: str  # a path, or "-" for a tar stream on stdin/stdout
    to_container: bool


def copy_request(source: str, destination: str, index: Optional[int], project) -> CopyRequest:
    """The copy the arguments ask for, checked against ``project``; nothing is asked of a host."""
    remote_source, remote_destination = is_container_side(source), is_container_side(destination)
    if remote_source and remote_destination:
        raise UsageError("copying between containers is not supported: one of SRC and DEST must be local")
    if not remote_source and not remote_destination:
        raise UsageError(f"one of SRC and DEST must be SERVICE[:INDEX]:PATH (got '{source}' and "
                         f"'{destination}')")
    remote = parse_container_path(source if remote_source else destination)
    local = destination if remote_source else source
    if not local:
        raise UsageError("the local path is empty")
    check_services(project, [remote.service])
    if index is not None and index < 1:
        raise UsageError(f"invalid --index {index}: replicas count from 1")
    if index is not None and remote.index is not None and index != remote.index:
        raise UsageError(f"--index {index} and {remote.service}:{remote.index} name different replicas")
    return CopyRequest(remote, remote.index or index or 1, local, to_container=remote_destination)


# ---------------------------------------------------------------------------- copying


def _is_dir(stat) -> bool:
    return bool(stat) and bool(int(stat.get("mode") or 0) & _DIR_BIT)


def _copy_out(ctx, engine, container, request: CopyRequest) -> None:
    from napcompose.adapters.archives import copy_stream, unpack

    path = request.remote.path if request.remote.path.startswith("/") else "/" + request.remote.path
    if engine.path_stat(container.id, path) is None:
        raise HostError(container.host, f"{container.name}: no such file or directory: {path}")
    if request.local == "-":
        out = getattr(ctx.stdout, "buffer", None)
        if out is None:
            raise UsageError("cp ... -: this output takes no tar stream")
        chunks, _ = engine.get_archive(container.id, path)
        ctx.stdout.flush()  # whatever the text layer holds goes before the archive
        copy_stream(chunks, out)
        return
    local = os.path.abspath(os.path.join(ctx.cwd, request.local))
    if os.path.isdir(local):
        directory, name = local, None  # into it, under the source's own name
    else:
        directory, name = os.path.dirname(local), os.path.basename(local)
        if not os.path.isdir(directory):
            raise UsageError(f"cannot copy to {request.local}: no such directory {directory}")
    chunks, _ = engine.get_archive(container.id, path)
    unpack(chunks, directory, name)


def _copy_in(ctx, engine, container, request: CopyRequest) -> None:
    from napcompose.adapters.archives import pack, read_stream

    path = request.remote.path if request.remote.path.startswith("/") else "/" + request.remote.path
    where = engine.path_stat(container.id, path)
    if request.local == "-":
        if not _is_dir(where):
            raise HostError(container.host, f"{container.name}: {path} is not a directory (a tar stream "
                                            "from stdin is unpacked into a directory)")
        source = getattr(ctx.stdin, "buffer", None)
        if source is None:
            raise UsageError("cp - ...: this input gives no tar stream")
        engine.put_archive(container.id, path, read_stream(source))
        return
    local = os.path.abspath(os.path.join(ctx.cwd, request.local))
    if not os.path.lexists(local):
        raise UsageError(f"cannot copy {request.local}: no such file or directory")
    if _is_dir(where):
        directory, name = path, os.path.basename(local.rstrip("/"))
    else:
        if where is not None and os.path.isdir(local):
            raise HostError(container.host, f"{container.name}: cannot copy the directory {request.local} "
                                            f"over the file {path}")
        directory, name = posixpath.dirname(path.rstrip("/")) or "/", posixpath.basename(path.rstrip("/"))
        if not _is_dir(engine.path_stat(container.id, directory)):
            raise HostError(container.host, f"{container.name}: no such directory: {directory}")
    engine.put_archive(container.id, directory, pack(local, name))


def cmd_cp(args, ctx) -> int:
    project = load_project(ctx)
    request = copy_request(args.source, args.destination, args.index, project)
    deploy = deploy_for(ctx)
    container = find_replica(deploy, project, request.remote.service, request.index)
    engine = deploy.engines[container.host]
    try:
        if request.to_container:
            _copy_in(ctx, engine, container, request)
        else:
            _copy_out(ctx, engine, container, request)
    except HostError as exc:
        if container.name in str(exc):
            raise
        raise HostError(container.host, f"{container.name}: {without_host(container.host, str(exc))}") from exc
    if request.local != "-":
        arrow = (f"{request.local} -> {container.name}:{request.remote.path}" if request.to_container
                 else f"{container.name}:{request.remote.path} -> {request.local}")
        ctx.err(f"Copied {arrow} on {container.host}")
    return ExitStatus.OK


def register(sub) -> None:
    p = sub.add_parser("cp", help="copy files between a service's container (on its host) and the local machine")
    p.add_argument("--index", type=int, default=None, metavar="N",
                   help="which replica, when SERVICE:INDEX:PATH does not say (default 1)")
    p.add_argument("source", metavar="SRC", help="SERVICE[:INDEX]:PATH, a local path, or - (a tar stream on stdin)")
    p.add_argument("destination", metavar="DEST",
                   help="SERVICE[:INDEX]:PATH, a local path, or - (a tar stream on stdout)")
    p.set_defaults(func=cmd_cp)
