"""Where everything of a lab lives: addresses in the subnet, namespace and link names, files under DIR.

Pure: the same (name, subnet, hosts, dir) always gives the same layout, so ``lab down`` and
``lab status`` find what ``lab up`` made from the recorded parameters alone.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Tuple

from napcompose.errors import LabError, UsageError

MAX_HOSTS = 8
# The /24: router .1, hosts .11-.18, one /28 block per host in .32-.159 (8 x 16 addresses, for
# containers started without an address), nap-compose's pool .160-.249, .250-.253 spare, the operator .254.
HOST_OFFSET = 10  # node1 is .11
HOST_BLOCK = 28
BLOCKS_FIRST, BLOCKS_LAST = 32, 159
POOL_FIRST, POOL_LAST = 160, 249
ROUTER_OFFSET, OPERATOR_OFFSET = 1, 254
IMAGE = "nap-lab/busybox:latest"
# The lab's registries listen on the operator address: open on REGISTRY_PORT, htpasswd on AUTH_REGISTRY_PORT.
REGISTRY_PORT, AUTH_REGISTRY_PORT = 5000, 5001
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL


@dataclass(frozen=True)
class LabHost:
    name: str
    index: int
    address: str
    netns: str
    veth: str  # the root-namespace end; the namespace end is eth0
    dir: str

    @property
    def docker_sock(self) -> str:
        return os.path.join(self.dir, "docker.sock")

    @property
    def data_root(self) -> str:
        return os.path.join(self.dir, "docker")

    @property
    def exec_root(self) -> str:
        return os.path.join(self.dir, "exec")

    @property
    def dockerd_pidfile(self) -> str:
        return os.path.join(self.dir, "dockerd.pid")

    @property
    def sshd_pidfile(self) -> str:
        return os.path.join(self.dir, "sshd.pid")

    @property
    def sshd_config(self) -> str:
        return os.path.join(self.dir, "sshd_config")

    @property
    def host_key(self) -> str:
        return os.path.join(self.dir, "ssh_host_ed25519_key")

    @property
    def authorized_keys(self) -> str:
        """The operator's key as this host's sshd reads it (inside the host's own view)."""
        return os.path.join(self.dir, "authorized_keys")

    @property
    def var_lib_dir(self) -> str:
        """What the host sees as /var/lib/nap-compose: its own, not the machine's."""
        return os.path.join(self.dir, "var-lib-nap-compose")

    @property
    def mount_ns(self) -> str:
        """The bind mount that keeps the host's mount namespace (DIR/mntns/NODE)."""
        return os.path.join(os.path.dirname(self.dir), "mntns", self.name)


@dataclass(frozen=True)
class Layout:
    name: str
    subnet: str
    prefixlen: int
    dir: str
    router: str
    operator: str
    pool: str
    hosts: Tuple[LabHost, ...]
    host_blocks: str = ""  # the area the hosts' blocks are carved from

    @property
    def switch(self) -> str:
        return f"{self.name}-sw"

    @property
    def router_netns(self) -> str:
        return f"{self.name}-router"

    @property
    def router_veth(self) -> str:
        return f"{self.name}-rt"

    @property
    def cluster_file(self) -> str:
        return os.path.join(self.dir, "nap-cluster.yml")

    @property
    def state_file(self) -> str:
        return os.path.join(self.dir, "state.json")

    @property
    def operator_key(self) -> str:
        return os.path.join(self.dir, "id_ed25519")

    @property
    def known_hosts(self) -> str:
        return os.path.join(self.dir, "known_hosts")

    @property
    def etcd_dir(self) -> str:
        return os.path.join(self.dir, "etcd")

    @property
    def etcd_pidfile(self) -> str:
        return os.path.join(self.etcd_dir, "etcd.pid")

    @property
    def etcd_url(self) -> str:
        return f"etcd://{self.operator}:2379"

    @property
    def registry_dir(self) -> str:
        return os.path.join(self.dir, "registry")

    @property
    def registry(self) -> str:
        """ADDRESS:PORT of the lab's open registry (plain HTTP, trusted by every lab dockerd)."""
        return f"{self.operator}:{REGISTRY_PORT}"

    @property
    def auth_registry(self) -> str:
        """ADDRESS:PORT of the lab's password-protected registry (htpasswd)."""
        return f"{self.operator}:{AUTH_REGISTRY_PORT}"

    @property
    def netns_names(self) -> Tuple[str, ...]:
        return (self.router_netns,) + tuple(h.netns for h in self.hosts)

    def cgroup_parent(self, host: LabHost) -> str:
        return f"/nap-lab-{self.name}-{host.name}"

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise LabError(f"lab {self.name} has no host '{name}' (hosts: {', '.join(h.name for h in self.hosts)})")


def make_layout(name: str, subnet: str, hosts: int, directory: str) -> Layout:
    """Check the parameters of a lab and lay it out; UsageError names the bad one."""
    if not _NAME_RE.match(name or ""):
        raise UsageError(f"lab name '{name}' must be 1 to 8 lower-case letters or digits, starting with a letter")
    if not 1 <= hosts <= MAX_HOSTS:
        raise UsageError(f"--hosts {hosts}: a lab has 1 to {MAX_HOSTS} hosts")
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError:
        raise UsageError(f"--subnet {subnet}: not an IPv4 network in CIDR form (e.g. 198.18.0.0/24)") from None
    if net.prefixlen > 24:
        raise UsageError(f"--subnet {subnet}: the lab needs at least a /24 (router .1, hosts .11-.18, "
                         "host blocks .32-.159, pool .160-.249, operator .254)")
    base = net.network_address
    directory = os.path.abspath(directory)
    lab_hosts = tuple(
        LabHost(name=f"node{i}", index=i, address=str(base + HOST_OFFSET + i), netns=f"{name}-node{i}",
                veth=f"{name}-n{i}", dir=os.path.join(directory, f"node{i}"))
        for i in range(1, hosts + 1))
    layout = Layout(name=name, subnet=str(net), prefixlen=net.prefixlen, dir=directory,
                    router=str(base + ROUTER_OFFSET), operator=str(base + OPERATOR_OFFSET),
                    pool=f"{base + POOL_FIRST}-{base + POOL_LAST}", hosts=lab_hosts,
                    host_blocks=f"{base + BLOCKS_FIRST}-{base + BLOCKS_LAST}")
    longest = os.path.join(lab_hosts[-1].exec_root, "containerd", "containerd.sock.ttrpc")
    if len(longest) > _UNIX_PATH_MAX:
        raise UsageError(f"--dir {directory}: too long for the daemons' unix sockets "
                         f"({longest} is {len(longest)} characters, at most {_UNIX_PATH_MAX}); use a shorter path")
    return layout
