"""The lab's wiring with iproute2: a switch bridge, one namespace per host and one for the router.

The root namespace holds the switch bridge with the operator's address. Every other namespace has a
veth ``eth0`` plugged into the switch and no default route, so nothing in the lab can leave the machine.
"""

from __future__ import annotations

import os
import subprocess
from typing import List, Sequence

from napcompose.errors import LabError
from napcompose.lab.layout import Layout, LabHost

NETNS_DIR = "/var/run/netns"


def run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, capturing its output; LabError with its stderr when it fails and ``check``."""
    proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def in_netns(netns: str, argv: Sequence[str]) -> List[str]:
    """argv run inside ``netns`` (network namespace only; the mount namespace stays the machine's)."""
    return ["nsenter", f"--net={os.path.join(NETNS_DIR, netns)}", "--"] + list(argv)


def in_host(host: LabHost, argv: Sequence[str]) -> List[str]:
    """argv run as on lab host ``host``: in its network namespace and its own mount namespace."""
    return ["nsenter", f"--net={os.path.join(NETNS_DIR, host.netns)}", f"--mount={host.mount_ns}", "--"] + list(argv)


def netns_exists(netns: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, netns))


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def address_in_use(address: str) -> bool:
    """True when ``address`` is configured on any interface of the root namespace."""
    out = run(["ip", "-o", "-4", "addr", "show"], check=False).stdout
    return any(f" {address}/" in line for line in out.splitlines())


def _plug(layout: Layout, netns: str, veth: str, address: str) -> None:
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run(["ip", "link", "set", veth, "master", layout.switch, "up"])
    run(in_netns(netns, ["ip", "link", "set", "lo", "up"]))
    run(in_netns(netns, ["ip", "addr", "add", f"{address}/{layout.prefixlen}", "dev", "eth0"]))
    run(in_netns(netns, ["ip", "link", "set", "eth0", "up"]))


def build_wiring(layout: Layout) -> None:
    """Create the switch, the router namespace and every host namespace."""
    run(["ip", "link", "add", layout.switch, "type", "bridge"])
    run(["ip", "addr", "add", f"{layout.operator}/{layout.prefixlen}", "dev", layout.switch])
    run(["ip", "link", "set", layout.switch, "up"])
    _plug(layout, layout.router_netns, layout.router_veth, layout.router)
    for host in layout.hosts:
        _plug(layout, host.netns, host.veth, host.address)


def enslave_nic(layout: Layout, host: LabHost, bridge: str) -> None:
    """Make eth0 a port of ``bridge`` and leave the host's address on the bridge only (the seed's ifcfg-br0)."""
    ns = host.netns
    run(in_netns(ns, ["ip", "link", "set", "eth0", "master", bridge]))
    cidr = f"{host.address}/{layout.prefixlen}"
    eth0 = run(in_netns(ns, ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])).stdout
    if f" {cidr} " in eth0:
        run(in_netns(ns, ["ip", "addr", "del", cidr, "dev", "eth0"]))
    br = run(in_netns(ns, ["ip", "-o", "-4", "addr", "show", "dev", bridge])).stdout
    if f" {cidr} " not in br:
        run(in_netns(ns, ["ip", "addr", "add", cidr, "dev", bridge]))
    run(in_netns(ns, ["ip", "link", "set", bridge, "up"]))


def remove_wiring(layout: Layout) -> List[str]:
    """Delete the lab's namespaces, veths and switch; returns what was removed."""
    removed = []
    for netns in layout.netns_names:
        if netns_exists(netns):
            run(["ip", "netns", "del", netns], check=False)
            removed.append(f"netns {netns}")
    for link in [h.veth for h in layout.hosts] + [layout.router_veth, layout.switch]:
        if link_exists(link):
            run(["ip", "link", "del", link], check=False)
            removed.append(f"link {link}")
    return removed


def leftovers(layout: Layout) -> List[str]:
    """Namespaces and links of this lab that still exist."""
    found = [f"netns {n}" for n in layout.netns_names if netns_exists(n)]
    found += [f"link {link}" for link in [h.veth for h in layout.hosts] + [layout.router_veth, layout.switch]
              if link_exists(link)]
    return found


def wiring_complete(layout: Layout) -> bool:
    """True when every namespace and link of the lab exists."""
    return len(leftovers(layout)) == len(layout.netns_names) + len(layout.hosts) + 2
