"""Images made offline from programs installed on this machine: the program, the libraries it links, a few files.

No registry is reachable from the hosts, and real hosts need nothing but Docker and sshd, so a tool
nap-compose runs on every host (the names resolver) is packed here from the operator's own Debian
packages: each program with the shared libraries ``ldd`` lists for it, plus the small files it
reads, as the root file system of an image imported into a host's daemon. The tar is built in
memory with fixed times, so the same programs give the same bytes and the same digest; the digest
is put on the image as a label, which tells an image made from other programs apart.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from napcompose.errors import ConfigError, HostError

DIGEST_LABEL = "io.nap-compose.image-digest"
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


@dataclass(frozen=True)
class BinaryImage:
    """A root file system as a tar, with the digest of its bytes."""

    tag: str
    tar: bytes
    digest: str  # sha256 hex of ``tar``


def linked_libraries(program: str) -> Tuple[str, ...]:
    """The shared libraries ``program`` loads (the dynamic loader included), as ``ldd`` lists them."""
    try:
        done = subprocess.run(["ldd", program], capture_output=True, text=True, check=False, timeout=30)
    except OSError as exc:
        raise ConfigError(f"cannot run ldd on {program}: {exc}") from exc
    if done.returncode != 0:
        if "not a dynamic executable" in (done.stdout + done.stderr):
            return ()
        raise ConfigError(f"ldd {program} failed: {(done.stderr or done.stdout).strip()}")
    found: List[str] = []
    for line in done.stdout.splitlines():
        if "not found" in line:
            raise ConfigError(f"{program} needs {line.split()[0]}, which is not installed")
        match = _LDD_PATH.search(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return tuple(found)


def _entry(tar: tarfile.TarFile, name: str, kind: bytes, mode: int, data: bytes = b"", target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 0  # fixed times: same files, same bytes
    info.linkname = target
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)


def build(tag: str, programs: Mapping[str, str], files: Mapping[str, bytes] = {},
          symlinks: Mapping[str, str] = {}, directories: Iterable[str] = ("tmp",)) -> BinaryImage:
    """The image ``tag`` holding ``programs`` {path in the image: program on this machine} with the
    libraries each links (at their own paths), ``files`` {path: content} and ``symlinks`` {path: target}."""
    content: Dict[str, bytes] = {}
    modes: Dict[str, int] = {}
    for inside, source in programs.items():
        if not os.path.isfile(source):
            raise ConfigError(f"{source} is not installed on this machine (needed for the image {tag})")
        for library in linked_libraries(source):
            real = os.path.realpath(library)
            with open(real, "rb") as fh:
                content[library.lstrip("/")] = fh.read()
            modes[library.lstrip("/")] = 0o755
        with open(source, "rb") as fh:
            content[inside.lstrip("/")] = fh.read()
        modes[inside.lstrip("/")] = 0o755
    for inside, data in files.items():
        content[inside.lstrip("/")] = data
        modes[inside.lstrip("/")] = 0o644
    dirs = set(d.strip("/") for d in directories)
    for path in list(content) + [p.lstrip("/") for p in symlinks]:
        parent = os.path.dirname(path)
        while parent:
            dirs.add(parent)
            parent = os.path.dirname(parent)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for directory in sorted(dirs):
            _entry(tar, directory, tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755)
        for path in sorted(content):
            _entry(tar, path, tarfile.REGTYPE, modes[path], content[path])
        for path in sorted(symlinks):
            _entry(tar, path.lstrip("/"), tarfile.SYMTYPE, 0o777, target=symlinks[path])
    data = buf.getvalue()
    return BinaryImage(tag, data, hashlib.sha256(data).hexdigest())


def image_digest(api, tag: str, host: str) -> Optional[str]:
    """The digest label of ``tag`` on the daemon behind ``api`` (docker-py's APIClient); None when absent."""
    import docker.errors

    try:
        labels = (api.inspect_image(tag).get("Config") or {}).get("Labels") or {}
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise HostError(host, f"inspect image {tag}: {exc}") from exc
    return labels.get(DIGEST_LABEL, "")


def ensure(api, image: BinaryImage, host: str, entrypoint: Tuple[str, ...] = ()) -> bool:
    """Import ``image`` into the daemon behind ``api`` unless it holds one of the same digest; True when imported."""
    import docker.errors

    if image_digest(api, image.tag, host) == image.digest:
        return False
    repo, _, version = image.tag.rpartition(":")
    changes = [f"LABEL {DIGEST_LABEL}={image.digest}"]
    if entrypoint:
        changes.append("ENTRYPOINT [" + ", ".join(f'"{word}"' for word in entrypoint) + "]")
    try:
        api.import_image_from_data(image.tar, repository=repo, tag=version, changes=changes)
    except docker.errors.DockerException as exc:
        raise HostError(host, f"import image {image.tag}: {exc}") from exc
    if image_digest(api, image.tag, host) != image.digest:
        raise HostError(host, f"import image {image.tag}: the daemon does not show the imported image")
    return True
