"""A private file system view per lab host, so a lab host is as blind to the operator's disk as a real one.

Each host gets one persistent mount namespace, kept by a bind mount of its nsfs file at
DIR/mntns/nodeN (as `ip netns` keeps network namespaces). Its dockerd, its sshd and `lab exec` all
enter that same namespace, so what SFTP writes is what dockerd and its containers see. In it:

- every top-level directory that is not part of the system (/usr, /etc, /var, ...), /tmp, /var/tmp,
  the checkout nap-compose runs from and the lab's DIR are empty tmpfs (the operator's files, keys and
  projects are not there, as on a separate machine, wherever on the disk the operator keeps them);
- the host's own state directory DIR/nodeN is bound back at its usual path, so the daemons' sockets,
  data roots and logs stay where the operator (and ``lab status``) find them;
- /var/lib/nap-compose is the host's own directory DIR/nodeN/var-lib-nap-compose, not the machine's.

Propagation is private, so nothing mounted in one view (container mounts, overlay layers) shows up in
another; all of it goes away with the namespace when ``lab down`` has stopped the host's processes and
unmounted the nsfs file.

``python3 -m napcompose.lab.mountns --keep DIR --bind SRC:DST --hide PATH...`` is the part that runs
inside the new namespace (started by ``unshare --mount=FILE``); it only calls mount(2).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from napcompose.errors import LabError
from napcompose.lab.layout import Layout, LabHost

HIDDEN_ALWAYS = ("/root", "/home", "/tmp", "/var/tmp")
# What a host's daemons need from the machine: programs, libraries, configuration, devices and kernel
# views. Every other top-level directory (/work, /srv, /opt, /mnt, a CI runner's checkout root...) is
# the operator's and is hidden, so the lab stays blind wherever the operator keeps a project.
SYSTEM_DIRS = frozenset(("/bin", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
                         "/sbin", "/sys", "/usr", "/var"))
HOST_STATE_DIR = "/var/lib/nap-compose"
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
_MNT_DETACH = 2


def checkout_dir() -> str:
    """The directory holding the napcompose package that runs: the operator's checkout (or site-packages)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.dirname(package)


def top_level_dirs() -> Tuple[str, ...]:
    """The real directories directly under / (symlinks such as /lib -> usr/lib are left alone)."""
    found = []
    for entry in os.scandir("/"):
        if entry.is_dir(follow_symlinks=False):
            found.append("/" + entry.name)
    return tuple(sorted(found))


@dataclass(frozen=True)
class View:
    """What a host's namespace hides and binds back: computed from the layout alone."""

    hide: Tuple[str, ...]
    binds: Tuple[Tuple[str, str], ...]  # (source in the machine's view, target in the host's view)


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def host_view(layout: Layout, host: LabHost, checkout: str, top_level: Sequence[str] = ()) -> View:
    """Hide the operator's places (outermost only, as a tmpfs over a parent hides its children).

    ``top_level`` is the machine's list of directories under /; all but the system ones are hidden.
    """
    others = [path for path in top_level if path not in SYSTEM_DIRS]
    wanted = list(HIDDEN_ALWAYS) + others + [checkout, layout.dir]
    hide: List[str] = []
    for path in sorted({os.path.normpath(p) for p in wanted}, key=lambda p: (len(p), p)):
        if path == "/":
            raise LabError(f"refusing to hide / from lab hosts: the checkout ({checkout}) or the lab "
                           f"directory ({layout.dir}) is /")
        if not any(_under(path, outer) for outer in hide):
            hide.append(path)
    binds = ((host.dir, host.dir), (host.var_lib_dir, HOST_STATE_DIR))
    return View(hide=tuple(hide), binds=binds)


def ns_dir(layout: Layout) -> str:
    return os.path.join(layout.dir, "mntns")


def is_ns_mount(path: str) -> bool:
    """True when ``path`` is a bind mount of a namespace file (nsfs) in this mount namespace."""
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            sep = fields.index("-")
            point = fields[4].encode().decode("unicode_escape")
            if point == path and fields[sep + 1] == "nsfs":
                return True
    return False


def _is_mount_point(path: str) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4].encode().decode("unicode_escape") == path for line in fh)


def _run(argv: Sequence[str], env: Optional[dict] = None) -> None:
    proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {(proc.stderr or proc.stdout).strip()}")


def _private_anchor(layout: Layout) -> None:
    """DIR/mntns as a private mount: a namespace file may not be bound onto a shared mount."""
    directory = ns_dir(layout)
    os.makedirs(directory, exist_ok=True)
    if not _is_mount_point(directory):
        _run(["mount", "--bind", directory, directory])
    _run(["mount", "--make-private", directory])


def ensure(layout: Layout, host: LabHost) -> str:
    """The host's mount namespace file, made (with its view) unless it already exists; returns its path."""
    if is_ns_mount(host.mount_ns):
        return host.mount_ns
    _private_anchor(layout)
    os.makedirs(host.var_lib_dir, mode=0o755, exist_ok=True)
    with open(host.mount_ns, "a"):
        pass
    view = host_view(layout, host, checkout_dir(), top_level_dirs())
    argv = ["unshare", f"--mount={host.mount_ns}", "--propagation", "private", "--",
            sys.executable, "-m", "napcompose.lab.mountns", "--detach", ns_dir(layout)]
    for source, target in view.binds:
        argv += ["--bind", f"{source}:{target}"]
    for path in view.hide:
        argv += ["--hide", path]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (checkout_dir(), env.get("PYTHONPATH", "")) if p)
    try:
        _run(argv, env=env)
    except LabError:
        if is_ns_mount(host.mount_ns):
            subprocess.run(["umount", host.mount_ns], capture_output=True)
        raise
    return host.mount_ns


# --------------------------------------------------------------------------- inside the new namespace


def _mount(libc, source: Optional[str], target: str, fstype: Optional[str], flags: int,
           data: Optional[bytes] = None) -> None:
    if libc.mount(source.encode() if source else None, target.encode(),
                  fstype.encode() if fstype else None, flags, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def _apply(detach: Sequence[str], binds: Sequence[Tuple[str, str]], hide: Sequence[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    # Other hosts' namespace files came along in the copy of the machine's mounts; drop them so a
    # namespace never keeps another one alive.
    for directory in detach:
        with open("/proc/self/mountinfo") as fh:
            points = [line.split()[4].encode().decode("unicode_escape") for line in fh]
        for point in sorted((p for p in points if _under(p, directory)), key=len, reverse=True):
            libc.umount2(point.encode(), _MNT_DETACH)
    # Open the directories to bind back before anything hides them: the descriptors keep reaching them.
    fds = [(os.open(source, os.O_RDONLY | os.O_DIRECTORY), target) for source, target in binds]
    for path in hide:
        if os.path.isdir(path):
            _mount(libc, "tmpfs", path, "tmpfs", 0, b"mode=1777" if path == "/tmp" else b"mode=0755")
    for fd, target in fds:
        os.makedirs(target, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC)
        os.close(fd)


def main(argv: Sequence[str]) -> int:
    detach, binds, hide = [], [], []
    args = list(argv)
    while args:
        flag, value = args.pop(0), args.pop(0)
        if flag == "--detach":
            detach.append(value)
        elif flag == "--bind":
            source, target = value.split(":", 1)
            binds.append((source, target))
        elif flag == "--hide":
            hide.append(value)
        else:
            raise SystemExit(f"mountns: unknown option {flag}")
    try:
        _apply(detach, binds, hide)
    except OSError as exc:
        sys.stderr.write(f"mountns: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
