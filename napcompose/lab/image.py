"""The lab's base image, nap-lab/busybox:latest, made offline from Debian's static busybox.

No registry is reachable, so the image is a root file system built in memory (busybox plus one
symlink per applet) and imported into each host's daemon through that host's local socket.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from typing import Iterable, Tuple

import docker
import docker.errors

from napcompose.errors import LabError
from napcompose.lab.layout import IMAGE

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
REQUIRED_APPLETS = ("sh", "ping", "nc", "wget", "httpd", "hostname", "cat", "sleep")


def find_busybox() -> str:
    for path in BUSYBOX_CANDIDATES:
        if os.path.exists(path) and _is_static(path):
            return path
    raise LabError("no static busybox found (looked at " + ", ".join(BUSYBOX_CANDIDATES)
                   + "): install it with `apt-get install busybox-static`")


def _is_static(path: str) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP header (no dynamic loader needed)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return False
        phoff = int.from_bytes(head[0x20:0x28], "little")
        phentsize = int.from_bytes(head[0x36:0x38], "little")
        phnum = int.from_bytes(head[0x38:0x3A], "little")
        fh.seek(phoff)
        table = fh.read(phentsize * phnum)
    pt_interp = 3
    return all(int.from_bytes(table[i:i + 4], "little") != pt_interp for i in range(0, len(table), phentsize))


def applets(busybox: str) -> Tuple[str, ...]:
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False).stdout
    names = tuple(sorted({n.strip() for n in out.split() if n.strip() and "/" not in n}))
    missing = [a for a in REQUIRED_APPLETS if a not in names]
    if missing:
        raise LabError(f"{busybox} lacks the applets {', '.join(missing)}")
    return names


def _add(tar: tarfile.TarFile, name: str, kind: bytes, mode: int, data: bytes = b"", target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, int(time.time())
    if target:
        info.linkname = target
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)


def rootfs_tar(busybox: str, names: Iterable[str]) -> bytes:
    """A tar of the image's root file system."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "root", "var", "var/www",
                          "proc", "sys", "dev", "home"):
            _add(tar, directory, tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755)
        with open(busybox, "rb") as fh:
            _add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, fh.read())
        for applet in names:
            if applet != "busybox":
                _add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, target="busybox")
        _add(tar, "etc/passwd", tarfile.REGTYPE, 0o644, b"root:x:0:0:root:/root:/bin/sh\n"
             b"nobody:x:65534:65534:nobody:/home:/bin/false\n")
        _add(tar, "etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
        _add(tar, "var/www/index.html", tarfile.REGTYPE, 0o644, b"nap-lab\n")
    return buf.getvalue()


def import_image(sock_path: str, tar_bytes: bytes, host_name: str) -> bool:
    """Import the image into the daemon at ``sock_path`` unless it is there; True when imported."""
    client = docker.APIClient(base_url=f"unix://{sock_path}", version="1.41", timeout=120)
    try:
        try:
            client.inspect_image(IMAGE)
            return False
        except docker.errors.ImageNotFound:
            pass
        repo, tag = IMAGE.rsplit(":", 1)
        client.import_image_from_data(tar_bytes, repository=repo, tag=tag,
                                      changes=['ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin', 'CMD ["sh"]'])
        client.inspect_image(IMAGE)
        return True
    except docker.errors.DockerException as exc:
        raise LabError(f"{host_name}: importing {IMAGE}: {exc}") from exc
    finally:
        client.close()
