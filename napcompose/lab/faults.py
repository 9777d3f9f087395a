"""Faults on demand: cut a lab host off the switch and back, power its daemons off and on.

- ``partition``: the root-namespace end of the host's veth leaves the switch bridge. The link stays up
  on the host's side (as when a switch port or an uplink further away fails), so packets to and from
  the host are silently dropped: TCP connections hang until their timeouts, as with a real partition.
  ``heal`` plugs it back into the switch.
- ``kill``: what a power cut does to the host's processes. Its containers' processes are SIGKILLed,
  then dockerd is stopped (so it records them as exited), then sshd and every session and helper that
  lives in the host's namespaces. ``revive`` starts dockerd and sshd again in the host's same mount
  namespace and network namespace: its disk (data root, /var/lib/nap-compose) is as it was.

Every operation is idempotent and says what it did. Partitions are read from the links themselves,
kills from state.json (a host whose daemons died on their own is "down", not "killed").
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

from napcompose.errors import LabError
from napcompose.lab import daemons, netns, state
from napcompose.lab.layout import Layout, LabHost
from napcompose.lab.teardown import kill_cgroups

KILLED_KEY = "killed"


def _ready_layout(directory: str) -> Tuple[Layout, Dict[str, Any]]:
    recorded = state.read_state(directory)
    if recorded is None:
        raise LabError(f"no lab in {os.path.abspath(directory)} (no state.json)")
    if recorded.get("phase") != "ready":
        raise LabError(f"the lab in {recorded['dir']} is not ready (phase {recorded.get('phase')}); "
                       "run `nap-compose lab up` first")
    return state.layout_of(recorded), recorded


def is_partitioned(layout: Layout, host: LabHost) -> bool:
    """True when the host's veth exists but is not a port of the lab's switch."""
    master = os.path.join("/sys/class/net", host.veth, "master")
    if not netns.link_exists(host.veth):
        return False
    return not (os.path.islink(master) and os.path.basename(os.readlink(master)) == layout.switch)


def killed_hosts(recorded: Dict[str, Any]) -> List[str]:
    return list(recorded.get(KILLED_KEY) or [])


def partition(directory: str, host_name: str) -> str:
    layout, _ = _ready_layout(directory)
    host = layout.host(host_name)
    if not netns.link_exists(host.veth):
        raise LabError(f"{host_name}: its link {host.veth} is gone; run `nap-compose lab up` again")
    if is_partitioned(layout, host):
        return f"{host_name} is already cut off the switch {layout.switch}"
    netns.run(["ip", "link", "set", host.veth, "nomaster"])
    return f"{host_name} ({host.address}) is cut off the switch {layout.switch}: its packets go nowhere"


def heal(directory: str, host_name: str) -> str:
    layout, _ = _ready_layout(directory)
    host = layout.host(host_name)
    if not netns.link_exists(host.veth):
        raise LabError(f"{host_name}: its link {host.veth} is gone; run `nap-compose lab up` again")
    if not is_partitioned(layout, host):
        return f"{host_name} is already on the switch {layout.switch}"
    netns.run(["ip", "link", "set", host.veth, "master", layout.switch, "up"])
    return f"{host_name} ({host.address}) is back on the switch {layout.switch}"


def _host_processes(layout: Layout, host: LabHost) -> List[int]:
    """Every process of one host: by its state dir on the command line, or living in its namespaces."""
    ids = set(daemons.netns_ids([host.netns]))
    try:
        ids.add(os.stat(host.mount_ns).st_ino)
    except OSError:
        pass
    return daemons.lab_pids(host.dir.rstrip("/") + "/", frozenset(ids))


def kill(directory: str, host_name: str) -> str:
    layout, recorded = _ready_layout(directory)
    host = layout.host(host_name)
    killed = killed_hosts(recorded)
    marker = host.dir.rstrip("/") + "/"
    pids = _host_processes(layout, host)
    if host_name in killed and not pids:
        return f"{host_name} is already killed"
    containers = kill_cgroups(layout, [host])
    dockerd = daemons.read_pid(os.path.join(host.dir, "dockerd.spawn.pid"))
    daemons.stop([p for p in (dockerd,) if p], marker, timeout=20.0,
                 namespaces=daemons.netns_ids([host.netns]))
    daemons.stop(_host_processes(layout, host), marker, timeout=10.0,
                 namespaces=daemons.netns_ids([host.netns]))
    kill_cgroups(layout, [host])
    left = _host_processes(layout, host)
    if left:
        raise LabError(f"{host_name}: processes {', '.join(map(str, left))} outlived the kill")
    if host_name not in killed:
        state.update_state(layout, **{KILLED_KEY: sorted(killed + [host_name])})
    return f"{host_name}: dockerd and sshd stopped ({containers} container process(es) killed)"


def revive(directory: str, host_name: str, start: Callable[[Layout, Sequence[str]], Dict[str, int]]) -> str:
    """Start the host's dockerd and sshd again; ``start(layout, keys)`` starts and waits for them."""
    layout, recorded = _ready_layout(directory)
    host = layout.host(host_name)
    marker = layout.dir.rstrip("/") + "/"
    namespaces = daemons.lab_namespace_ids(layout)
    files = daemons.pidfiles(layout)
    dead = [key for key in (f"{host_name}/dockerd", f"{host_name}/sshd")
            if not daemons.alive(daemons.read_pid(files[key]), marker, namespaces)]
    if dead:
        pids = dict(recorded.get("pids") or {})
        pids.update(start(layout, dead))
        state.update_state(layout, pids=pids)
    killed = killed_hosts(recorded)
    if host_name in killed:
        state.update_state(layout, **{KILLED_KEY: [n for n in killed if n != host_name]})
    if not dead:
        return f"{host_name}: dockerd and sshd already run"
    return f"{host_name}: {' and '.join(k.split('/')[1] for k in dead)} started again"
