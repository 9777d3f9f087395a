"""Taking a lab apart, also one that crashed half-way: containers, processes, cgroups, mounts, links, files.

Only what the lab made is touched: processes by pidfile or by a command line that names the lab's DIR,
container processes by the lab's own cgroup parents, mounts under DIR, namespaces and links by the
lab's names (which its claim proves are its own), files by their known names under DIR.
"""

from __future__ import annotations

import os
import shutil
import signal
from typing import Callable, List, Optional, Sequence

import docker
import docker.errors
import requests

from napcompose.parallel import fan_out
from napcompose.lab import daemons, mountns, netns
from napcompose.lab.layout import Layout, LabHost
from napcompose.lab.netns import run

CGROUP_ROOT = "/sys/fs/cgroup"
_OWN_FILES = ("state.json", "nap-cluster.yml", "id_ed25519", "id_ed25519.pub", "known_hosts", "authorized_keys")


def _remove_containers(host: LabHost) -> int:
    """Force-remove every container of a running host daemon; returns how many."""
    if not daemons.docker_ping(host.docker_sock):
        return 0
    client = docker.APIClient(base_url=f"unix://{host.docker_sock}", version="1.41", timeout=30)
    removed = 0
    try:
        for container in client.containers(all=True):
            try:
                client.remove_container(container["Id"], force=True, v=True)
                removed += 1
            except docker.errors.NotFound:
                pass
    except (docker.errors.DockerException, requests.RequestException):
        pass  # the cgroup sweep below still ends whatever the daemon could not
    finally:
        client.close()
    return removed


def _cgroup_dirs(layout: Layout, hosts: Optional[Sequence[LabHost]] = None) -> List[str]:
    """The lab's container cgroups: under each v1 controller, or at the top of a unified (v2) tree."""
    dirs = []
    if not os.path.isdir(CGROUP_ROOT):
        return dirs
    roots = [CGROUP_ROOT] + [os.path.join(CGROUP_ROOT, c) for c in sorted(os.listdir(CGROUP_ROOT))]
    for root in roots:
        for host in layout.hosts if hosts is None else hosts:
            path = os.path.join(root, layout.cgroup_parent(host).lstrip("/"))
            if os.path.isdir(path):
                dirs.append(path)
    return dirs


def kill_cgroups(layout: Layout, hosts: Optional[Sequence[LabHost]] = None) -> int:
    """SIGKILL every process left in the lab's (or only ``hosts``') container cgroups; returns how many."""
    pids = set()  # a process shows in every cgroup v1 hierarchy: count it once
    for top in _cgroup_dirs(layout, hosts):
        for root, _, files in os.walk(top):
            if "cgroup.procs" not in files:
                continue
            try:
                with open(os.path.join(root, "cgroup.procs")) as fh:
                    pids.update(int(line) for line in fh if line.strip().isdigit())
            except OSError:  # the cgroup went away as its last process exited (ENOENT, ENODEV)
                continue
    count = 0
    for pid in sorted(pids):
        try:
            os.kill(pid, signal.SIGKILL)
            count += 1
        except ProcessLookupError:
            pass
    return count


def _remove_cgroups(layout: Layout) -> None:
    for top in _cgroup_dirs(layout):
        for root, dirs, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(root)
            except OSError:
                pass


def _mounts_under(directory: str) -> List[str]:
    prefix = directory.rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def _unmount(directory: str) -> None:
    for point in _mounts_under(directory):
        run(["umount", "-l", point], check=False)


def _remove_files(layout: Layout) -> None:
    for host in layout.hosts:
        shutil.rmtree(host.dir, ignore_errors=True)
    shutil.rmtree(layout.etcd_dir, ignore_errors=True)
    shutil.rmtree(layout.registry_dir, ignore_errors=True)
    shutil.rmtree(mountns.ns_dir(layout), ignore_errors=True)  # empty once its mounts are gone
    for name in _OWN_FILES:
        path = os.path.join(layout.dir, name)
        if os.path.lexists(path):
            os.unlink(path)
    try:
        os.rmdir(layout.dir)  # only when nothing else was put there
    except OSError:
        pass


def teardown(layout: Layout, say: Callable[[str], None], keep_files: bool = False) -> List[str]:
    """Stop and remove everything of ``layout``; returns what is still left (empty on success)."""
    marker = layout.dir.rstrip("/") + "/"
    namespaces = daemons.lab_namespace_ids(layout)
    removed = sum(r.value for r in fan_out(layout.hosts, _remove_containers, key=lambda h: h.name,
                                           max_workers=max(1, len(layout.hosts))))
    if removed:
        say(f"removed {removed} container(s)")
    kill_cgroups(layout)
    pids = [p for p in (daemons.read_pid(f) for f in daemons.pidfiles(layout).values()) if p]
    killed = daemons.stop(pids, marker, timeout=20.0, namespaces=namespaces)
    if killed:
        say(f"daemon(s) {', '.join(map(str, killed))} ignored SIGTERM and were killed")
    stray = daemons.lab_pids(marker, namespaces)
    if stray:
        daemons.stop(stray, marker, timeout=5.0, namespaces=namespaces)
    kill_cgroups(layout)
    _remove_cgroups(layout)
    _unmount(layout.dir)
    netns.remove_wiring(layout)
    if not keep_files:
        _remove_files(layout)
    # Namespace ids are inode numbers the kernel hands out again once a namespace is gone (every
    # container and every docker-untar makes a mount namespace): only ones that still exist count.
    namespaces = daemons.lab_namespace_ids(layout)
    left = netns.leftovers(layout) + [f"process {p}: {daemons.cmdline(p)}"
                                      for p in daemons.lab_pids(marker, namespaces)]
    left += [f"mount {m}" for m in _mounts_under(layout.dir)]
    return left
