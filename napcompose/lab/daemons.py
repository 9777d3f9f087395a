"""Starting, watching and stopping the lab's processes: one dockerd and one sshd per host, etcd (etcd.py).

Every process is started in its own session with its output in a log file under DIR, and its pid in
a pidfile under DIR. A pid is only ever signalled when its command line names the lab's DIR or it
lives in one of the lab's network namespaces, so a recycled pid that now belongs to someone else is
never touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from napcompose.errors import LabError
from napcompose.lab.etcd_members import extra_pidfiles
from napcompose.lab.layout import Layout, LabHost
from napcompose.lab.mountns import is_ns_mount
from napcompose.lab.netns import NETNS_DIR, in_host
from napcompose.lab.registry import LabRegistry, argv as registry_argv, registries


def spawn(argv: Sequence[str], log_path: str, pidfile: str) -> int:
    """Start ``argv`` detached (own session, stdin closed, output to ``log_path``); record its pid."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    _write_pid(pidfile, proc.pid)
    # The child is reaped by whoever adopts it once we exit; until then do not leave a zombie around.
    _ORPHANS.append(proc)
    return proc.pid


_ORPHANS: List[subprocess.Popen] = []


def _write_pid(pidfile: str, pid: int) -> None:
    with open(pidfile, "w") as fh:
        fh.write(f"{pid}\n")


def read_pid(pidfile: str) -> Optional[int]:
    try:
        with open(pidfile) as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _reap() -> None:
    for proc in list(_ORPHANS):
        if proc.poll() is not None and proc in _ORPHANS:
            try:
                _ORPHANS.remove(proc)
            except ValueError:  # another waiting thread reaped it first
                pass


def netns_ids(names: Iterable[str]) -> FrozenSet[int]:
    """The inode numbers identifying the named network namespaces (those that still exist)."""
    ids = set()
    for name in names:
        try:
            ids.add(os.stat(os.path.join(NETNS_DIR, name)).st_ino)
        except OSError:
            pass
    return frozenset(ids)


def lab_namespace_ids(layout: Layout) -> FrozenSet[int]:
    """The lab's network namespaces and its hosts' mount namespaces (nsfs inodes never collide)."""
    ids = set(netns_ids(layout.netns_names))
    for host in layout.hosts:
        if is_ns_mount(host.mount_ns):
            try:
                ids.add(os.stat(host.mount_ns).st_ino)
            except OSError:
                pass
    return frozenset(ids)


def _namespaces_of(pid: int) -> Tuple[Optional[int], Optional[int]]:
    found = []
    for kind in ("net", "mnt"):
        try:
            found.append(os.stat(f"/proc/{pid}/ns/{kind}").st_ino)
        except OSError:
            found.append(None)
    return found[0], found[1]


def _ours(pid: int, marker: str, namespaces: FrozenSet[int]) -> bool:
    # sshd rewrites its command line (its process title), so a process living in one of the lab's
    # namespaces (network, or a host's mount namespace) counts as the lab's too; that also covers
    # sshd's per-connection children.
    if marker in cmdline(pid):
        return True
    return bool(namespaces) and any(ns in namespaces for ns in _namespaces_of(pid) if ns is not None)


def alive(pid: Optional[int], marker: str, namespaces: FrozenSet[int] = frozenset()) -> bool:
    """True when ``pid`` runs and belongs to the lab: its command line names ``marker`` (the lab's DIR)
    or it lives in one of ``namespaces``."""
    _reap()
    if not pid:
        return False
    if any(proc.pid == pid and marker in " ".join(proc.args) for proc in _ORPHANS):
        # Our own unreaped child, started for this lab: its pid cannot have been recycled. Its command
        # line is no proof here, since it reads empty while nsenter is in the middle of exec'ing.
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        return False
    return _ours(pid, marker, namespaces)


def lab_pids(marker: str, namespaces: FrozenSet[int] = frozenset()) -> List[int]:
    """Every live process of the lab: daemons, containerd, shims, sshd sessions, dial-stdio helpers."""
    me = os.getpid()
    return [int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and int(entry) != me and alive(int(entry), marker, namespaces)]


def stop(pids: Iterable[int], marker: str, timeout: float = 15.0,
         namespaces: FrozenSet[int] = frozenset()) -> List[int]:
    """SIGTERM ``pids`` (only those still ours), wait for them, SIGKILL what remains; returns killed pids."""
    ours = [p for p in pids if alive(p, marker, namespaces)]
    for pid in ours:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p, marker, namespaces) for p in ours):
        time.sleep(0.05)
    killed = [p for p in ours if alive(p, marker, namespaces)]
    for pid in killed:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p, marker, namespaces) for p in killed):
        time.sleep(0.05)
    return killed


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_until(what: str, check: Callable[[], bool], timeout: float, log_path: Optional[str] = None,
               pid_alive: Optional[Callable[[], bool]] = None) -> None:
    """Poll ``check`` until it holds; LabError naming ``what`` (and the log's tail) when it never does."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if check():
            return
        if pid_alive is not None and not pid_alive():
            raise LabError(f"{what} exited while starting{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise LabError(f"{what} did not come up within {timeout:.0f} s{_tail(log_path)}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def _tail(log_path: Optional[str]) -> str:
    if not log_path:
        return ""
    try:
        with open(log_path, errors="replace") as fh:
            lines = fh.read().strip().splitlines()[-5:]
    except OSError:
        return ""
    return f" (see {log_path}:\n  " + "\n  ".join(lines) + ")" if lines else f" (see {log_path})"


def tcp_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def etcd_ready(address: str, context, port: int = 2379) -> bool:
    """True when etcd reports itself healthy (it has a leader) and its v2 API answers, asked over TLS
    with ``context`` (an ssl.SSLContext holding the client certificate)."""
    import http.client
    import json

    try:
        for path, ok in (("/health", lambda body: json.loads(body).get("health") == "true"),
                         ("/v2/keys/", lambda body: "node" in json.loads(body))):
            conn = http.client.HTTPSConnection(address, port, timeout=1.0, context=context)
            try:
                conn.request("GET", path)
                reply = conn.getresponse()
                if reply.status != 200 or not ok(reply.read().decode()):
                    return False
            finally:
                conn.close()
        return True
    except (OSError, ValueError, http.client.HTTPException):
        return False


def docker_ping(sock_path: str) -> bool:
    """True when the dockerd behind ``sock_path`` answers /_ping."""
    if not os.path.exists(sock_path):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(sock_path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            data = b""
            while len(data) < 12:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.") and data[9:12] == b"200"
    except OSError:
        return False


# --------------------------------------------------------------------------- the daemons


def dockerd_argv(layout: Layout, host: LabHost) -> List[str]:
    # --dns: without it Docker hands containers this machine's own nameservers, which lie outside
    # the lab, and its embedded resolver forwards every unknown name there. The router holds no
    # resolver, so a lookup that misses the hosts file fails inside the lab and no packet leaves it.
    # --insecure-registry: the lab's registries speak plain HTTP on the lab's own segment; Docker's
    # documented insecure-registries setting, for exactly those ADDRESS:PORTs, lets the daemons use them.
    return in_host(host, [
        "dockerd", f"--data-root={host.data_root}", f"--exec-root={host.exec_root}",
        f"--host=unix://{host.docker_sock}", f"--pidfile={host.dockerd_pidfile}",
        "--iptables=false", "--ip-masq=false", "--bridge=none",
        f"--cgroup-parent={layout.cgroup_parent(host)}", "--log-level=warn", f"--dns={layout.router}",
    ] + [f"--insecure-registry={r.address}" for r in registries(layout)])


def _require_view(host: LabHost) -> None:
    if not is_ns_mount(host.mount_ns):
        raise LabError(f"{host.name}: its mount namespace {host.mount_ns} is gone; run `nap-compose lab up` again")


def start_dockerd(layout: Layout, host: LabHost) -> int:
    _require_view(host)
    # dockerd writes --pidfile itself and refuses to start over a live one; ours sits beside it.
    return spawn(dockerd_argv(layout, host), os.path.join(host.dir, "dockerd.log"),
                 os.path.join(host.dir, "dockerd.spawn.pid"))


def start_sshd(host: LabHost) -> int:
    _require_view(host)
    return spawn(in_host(host, ["/usr/sbin/sshd", "-D", "-f", host.sshd_config,
                                       "-E", os.path.join(host.dir, "sshd.log")]),
                 os.path.join(host.dir, "sshd.out"), host.sshd_pidfile)


def start_registry(registry: LabRegistry) -> int:
    """One registry process in the root namespace: it listens on the operator address only."""
    return spawn(registry_argv(registry), registry.log, registry.pidfile)


def pidfiles(layout: Layout) -> Dict[str, str]:
    """Every pidfile of the lab, by the process it names."""
    files = {"etcd": layout.etcd_pidfile, **extra_pidfiles(layout)}
    files.update({r.key: r.pidfile for r in registries(layout)})
    for host in layout.hosts:
        files[f"{host.name}/dockerd"] = os.path.join(host.dir, "dockerd.spawn.pid")
        files[f"{host.name}/sshd"] = host.sshd_pidfile
    return files
