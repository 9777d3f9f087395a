"""Facts into verdicts: one Verdict per check, with the fix when a check is not ok.

Limits: the Docker API must be 1.41 or later (the version the product speaks); a clock more than
``CLOCK_WARN_S`` off is a warning, one off by more than a third of the lock's lease (the renewal
interval) fails, since project locks are judged by the clocks of the machines that take them; a pool
with less than a tenth free is a warning, an empty one fails.
"""

from __future__ import annotations

import ipaddress
from typing import List, Optional, Tuple

from napcompose.clustermodel import Cluster, Host
from napcompose.doctor.facts import HostFacts, Link, StoreFacts
from napcompose.doctor.verdicts import CHECK_NAMES, Level, Verdict

MIN_API = (1, 41)
MIN_DOCKER = (20, 10)
CLOCK_WARN_S = 1.0
POOL_LOW_FRACTION = 0.1
NETFILTER = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
             "net.bridge.bridge-nf-call-arptables")
GUIDE = "docs/real-hosts.md"
PROGRAMS = ("python3", "nft", "nsenter")  # what nap-compose runs on a host; the facts say which it has


def _numbers(text: Optional[str]) -> Tuple[int, ...]:
    parts = []
    for part in (text or "").split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits or digits != part[:len(digits)]:
            break
        parts.append(int(digits))
    return tuple(parts)


class _Lines:
    """The verdicts of one subject, in the order of CHECKS."""

    def __init__(self, subject: str):
        self.subject = subject
        self.items: List[Verdict] = []

    def add(self, check: str, level: Level, detail: str, fix: str = "") -> None:
        assert check in CHECK_NAMES, check
        self.items.append(Verdict(self.subject, check, level, detail, fix if level is not Level.OK else ""))

    def skip(self, checks, why: str) -> None:
        for check in checks:
            self.add(check, Level.SKIP, why)

    def done(self) -> Tuple[Verdict, ...]:
        return tuple(sorted(self.items, key=lambda v: CHECK_NAMES.index(v.check)))


# --------------------------------------------------------------------------- hosts


def judge_host(cluster: Cluster, host: Host, facts: HostFacts) -> Tuple[Verdict, ...]:
    lines = _Lines(host.name)
    after_ssh = ("bridge", "mtu", "bridge-netfilter", "clock", "state-dir", "programs")
    resolver = cluster.network.resolver is not None
    if not resolver:
        lines.add("resolver", Level.SKIP, "the cluster file's network has no resolver")
    if facts.ssh_error is not None:
        lines.add("ssh", Level.FAIL, facts.ssh_error, _ssh_fix(cluster, host, facts))
        lines.skip(after_ssh, "no SSH connection")
        if host.docker_url.startswith("ssh://"):
            lines.skip(("docker", "docker-route") + (("resolver",) if resolver else ()), "no SSH connection")
            return lines.done()
    else:
        lines.add("ssh", Level.OK, f"{host.ssh.user}@{host.address}:{host.ssh.port}, host key known")
    _docker(lines, host, facts)
    if facts.ssh_error is None:
        _bridge(lines, cluster, host, facts)
        _netfilter(lines, cluster, facts)
        _clock(lines, cluster, facts)
        _state_dir(lines, facts)
        _programs(lines, cluster, facts)
    if resolver:
        _resolver(lines, host, facts)
    return lines.done()


def _ssh_fix(cluster: Cluster, host: Host, facts: HostFacts) -> str:
    known = host.ssh.known_hosts or "~/.ssh/known_hosts"
    if facts.host_key_refused:
        return (f"compare the key with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console, then "
                f"add it with `ssh-keyscan -p {host.ssh.port} {host.address} >> {known}` (or pass "
                "--accept-new-host-keys once for a key seen for the first time)")
    key = f"-i {host.ssh.key_file} " if host.ssh.key_file else ""
    return (f"check that the host is up and sshd listens: `ssh {key}-p {host.ssh.port} "
            f"{host.ssh.user}@{host.address} true`; the key must be in the host's "
            f"~{host.ssh.user}/.ssh/authorized_keys")


def _docker(lines: _Lines, host: Host, facts: HostFacts) -> None:
    if facts.docker_error is not None:
        lines.add("docker", Level.FAIL, facts.docker_error,
                  "install and start Docker on the host (`apt-get install docker.io`, `systemctl enable --now "
                  f"docker`); the SSH user {host.ssh.user} must be allowed to use its socket (root, or the "
                  "docker group)")
        lines.skip(("docker-route",), "no Docker API")
        return
    if facts.api_version is None:
        lines.skip(("docker", "docker-route"), "not asked")
        return
    found = f"Docker {facts.docker_version or '?'}, API {facts.api_version}"
    if _numbers(facts.api_version) < MIN_API:
        lines.add("docker", Level.FAIL, found + " (1.41 or later needed)",
                  "upgrade Docker to 20.10 or later (Debian 12's docker.io is 20.10.24)")
    elif _numbers(facts.docker_version) < MIN_DOCKER:
        lines.add("docker", Level.WARN, found + " (tested with 20.10 and later)", "upgrade Docker to 20.10 or later")
    else:
        lines.add("docker", Level.OK, found)
    if not host.docker_url.startswith("ssh://"):
        lines.add("docker-route", Level.OK, f"{host.docker_url.split('://', 1)[0]}:// as the cluster file says")
    elif facts.route_refused is not None:
        lines.add("docker-route", Level.WARN,
                  f"docker system dial-stdio: the stream-local channel was refused ({facts.route_refused}); every "
                  "HTTP connection costs a session and a process on the host",
                  "allow it in the host's /etc/ssh/sshd_config (`AllowStreamLocalForwarding yes` and "
                  "`AllowTcpForwarding yes`, the defaults; no `DisableForwarding yes`), and make docker_url's "
                  "path name the Docker socket (ssh://user@address/var/run/docker.sock)")
    elif facts.docker_route is not None:
        lines.add("docker-route", Level.OK, f"stream-local channel to {facts.docker_route}")
    else:
        lines.skip(("docker-route",), "not asked")


def _bridge(lines: _Lines, cluster: Cluster, host: Host, facts: HostFacts) -> None:
    name = cluster.network.bridge
    if facts.links is None:
        lines.add("bridge", Level.FAIL, f"could not list the host's interfaces: {facts.links_error or 'no answer'}",
                  "install iproute2 on the host (`apt-get install iproute2`)")
        lines.skip(("mtu",), "no interfaces listed")
        return
    links = {link.name: link for link in facts.links}
    prefix = ipaddress.IPv4Network(cluster.network.subnet).prefixlen
    want = f"{host.address}/{prefix}"
    holders = [link for link in facts.links if any(a.split("/")[0] == host.address for a in link.addresses)]
    bridge = links.get(name)
    if bridge is None:
        where = f" (it is on {holders[0].name})" if holders else ""
        lines.add("bridge", Level.FAIL, f"no {name} on the host{where}",
                  f"make {name} with {want} and the NIC as its port in the host's network configuration "
                  f"({GUIDE}, 'The bridge'), then `nap-compose network create`")
        lines.skip(("mtu",), f"no {name}")
        return
    nics = [link for link in facts.links if link.master == name and not _container_port(link)]
    problems, fixes = [], []
    if bridge.kind and bridge.kind != "bridge":
        problems.append(f"{name} is a {bridge.kind}, not a bridge")
        fixes.append(f"rename that interface or set network.bridge in {cluster.source or 'the cluster file'}")
    mine = [a for a in bridge.addresses if a.split("/")[0] == host.address]
    if not mine:
        where = f"; it is on {', '.join(h.name for h in holders)}" if holders else ""
        problems.append(f"{name} does not hold the host's address {host.address}{where}")
        fixes.append(f"move {want} onto {name} ({GUIDE}, 'The bridge')")
    elif mine[0] != want:
        problems.append(f"{name} holds {mine[0]}, not {want} (the subnet is {cluster.network.subnet})")
        fixes.append(f"give {name} the address {want}")
    others = [h.name for h in holders if h.name != name]
    if mine and others:
        problems.append(f"{host.address} is on {', '.join(others)} too")
        fixes.append(f"remove it there: `ip addr del {want} dev {others[0]}`")
    wireless = [link.name for link in nics if link.wireless]
    if not nics:
        candidates = [h.name for h in holders if h.name != name] + [
            link.name for link in facts.links if link.master is None and link.kind != "bridge"
            and link.name != "lo" and not _container_port(link)]
        nic = candidates[0] if candidates else "NIC"
        problems.append(f"{name} has no NIC as a port: containers cannot reach other hosts")
        fixes.append(f"attach the host's NIC: `ip link set {nic} master {name}`, and make it permanent in the "
                     f"host's network configuration ({GUIDE})")
    elif wireless:
        problems.append(f"{', '.join(wireless)} is a Wi-Fi interface: an access point drops frames from the "
                        "containers' MAC addresses")
        fixes.append("use a wired NIC for the bridge")
    if problems:
        lines.add("bridge", Level.FAIL, "; ".join(problems), "; ".join(fixes))
    else:
        lines.add("bridge", Level.OK, f"{name} holds {want}; port{'s' if len(nics) > 1 else ''} "
                                      f"{', '.join(n.name for n in nics)}")
    _mtu(lines, cluster, bridge, nics)


def _container_port(link: Link) -> bool:
    """A Docker container's end of a veth pair (Docker names them veth…), not the host's NIC."""
    return link.name.startswith("veth")


def _mtu(lines: _Lines, cluster: Cluster, bridge: Link, nics: List[Link]) -> None:
    want = cluster.network.mtu
    problems, fixes = [], []
    if bridge.mtu != want:
        problems.append(f"{bridge.name} has MTU {bridge.mtu}, network.mtu is {want}")
        fixes.append(f"`ip link set {bridge.name} mtu {want}` and the same in the host's network configuration, "
                     "or set network.mtu to the LAN's MTU")
    small = [n for n in nics if n.mtu < want]
    if small:
        problems.append(", ".join(f"{n.name} has MTU {n.mtu}" for n in small) + f", below network.mtu {want}: "
                        "larger frames are dropped on the way")
        fixes.append(f"raise the NIC's MTU to {want} or lower network.mtu")
    if problems:
        lines.add("mtu", Level.FAIL, "; ".join(problems), "; ".join(fixes))
    else:
        lines.add("mtu", Level.OK, f"{bridge.name} {bridge.mtu}" + "".join(f", {n.name} {n.mtu}" for n in nics))


def _netfilter(lines: _Lines, cluster: Cluster, facts: HostFacts) -> None:
    """With bridge-nf-call-iptables=1 (Docker sets it when it runs with iptables), every frame crossing the
    bridge, between a container and the LAN too, goes through iptables' FORWARD chain as ``-i br0 -o br0``:
    Docker's own rule for the network accepts it; a host firewall that drops forwarded traffic before it
    cuts the containers off the LAN."""
    if facts.netfilter is None:
        lines.skip(("bridge-netfilter",), "not asked")
        return
    values = dict(facts.netfilter)
    bridge = cluster.network.bridge
    if values.get(NETFILTER[0]) != 1:
        why = "br_netfilter is not loaded" if all(v is None for v in values.values()) else "bridge-nf-call-iptables=0"
        lines.add("bridge-netfilter", Level.OK, f"{why}: frames crossing {bridge} bypass iptables")
        return
    rules = facts.forward_rules
    accept = f"-A FORWARD -i {bridge} -o {bridge} -j ACCEPT"
    dropping = rules is not None and any(r in ("-P FORWARD DROP", "-P FORWARD REJECT") or r.endswith(("-j DROP",
                                                                                                      "-j REJECT"))
                                         for r in rules)
    fix = (f"make the FORWARD chain accept `-i {bridge} -o {bridge}` before any DROP (`iptables -I FORWARD -i "
           f"{bridge} -o {bridge} -j ACCEPT`, kept by your firewall's configuration), or set "
           "net.bridge.bridge-nf-call-iptables=0 where Docker runs without iptables")
    if rules is None:
        lines.add("bridge-netfilter", Level.WARN, f"bridge-nf-call-iptables=1: frames crossing {bridge} pass "
                  "iptables' FORWARD chain, which could not be read (`iptables -S FORWARD`)", fix)
    elif accept in rules:
        lines.add("bridge-netfilter", Level.OK, f"bridge-nf-call-iptables=1; FORWARD accepts {bridge} to {bridge}")
    elif dropping:
        lines.add("bridge-netfilter", Level.WARN, f"bridge-nf-call-iptables=1 and iptables' FORWARD chain drops "
                  f"without accepting {bridge} to {bridge} first: containers may be cut off the LAN", fix)
    else:
        lines.add("bridge-netfilter", Level.OK, "bridge-nf-call-iptables=1; iptables' FORWARD chain drops nothing")


def _clock(lines: _Lines, cluster: Cluster, facts: HostFacts) -> None:
    if facts.clock_offset_s is None:
        lines.add("clock", Level.WARN, f"could not read the host's clock: {facts.clock_error or 'no answer'}",
                  "check that `date` runs for the SSH user")
        return
    offset, margin = facts.clock_offset_s, facts.clock_uncertainty_s or 0.0
    found = f"{offset:+.3f} s against this machine (±{margin:.3f} s)"
    limit = cluster.lock_ttl_s / 3
    fix = ("run NTP on every host and on the machines nap-compose runs from (`apt-get install systemd-timesyncd` "
           "or chrony); project locks expire by the clocks of the machines that take them")
    if abs(offset) - margin > limit:
        lines.add("clock", Level.FAIL, f"{found}: more than a third of the lock's lease ({limit:g} s)", fix)
    elif abs(offset) - margin > CLOCK_WARN_S:
        lines.add("clock", Level.WARN, f"{found}: more than {CLOCK_WARN_S:g} s", fix)
    else:
        lines.add("clock", Level.OK, found)


def _state_dir(lines: _Lines, facts: HostFacts) -> None:
    if not facts.state_dir_checked:
        lines.skip(("state-dir",), "not asked")
    elif facts.state_dir_error is not None:
        lines.add("state-dir", Level.FAIL, f"{facts.state_dir}: {facts.state_dir_error}",
                  f"`mkdir -p {facts.state_dir}` as root on the host, on a file system that is writable and "
                  "has room")
    else:
        lines.add("state-dir", Level.OK, f"{facts.state_dir} is writable")


def _programs(lines: _Lines, cluster: Cluster, facts: HostFacts) -> None:
    if facts.programs is None:
        lines.skip(("programs",), "not asked")
        return
    isolating = cluster.network.isolation
    missing = [p for p in PROGRAMS if p not in facts.programs]
    wanted = missing if isolating else [p for p in missing if p == "python3"]
    if not wanted:
        lines.add("programs", Level.OK, ", ".join(facts.programs) or "none needed")
        return
    packages = " ".join(sorted({_PACKAGES[p] for p in wanted}))
    fix = f"`apt-get install {packages}` on the host"
    if isolating and ("nft" in wanted or "nsenter" in wanted or _announces_itself(facts) is False):
        lines.add("programs", Level.FAIL, f"no {', '.join(wanted)}: isolation is on (the cluster file's "
                  "network.isolation) and its filters need them", fix)
    else:
        lines.add("programs", Level.WARN, "no python3: hosts files and names files go file by file over SFTP, "
                  "one round trip after another", fix)


_PACKAGES = {"python3": "python3-minimal", "nft": "nftables", "nsenter": "util-linux"}


def _announces_itself(facts: HostFacts) -> Optional[bool]:
    """Whether the host's Docker announces a started container's address itself (28 and later), so
    isolation needs no python3 there; None when the version is not known."""
    found = _numbers(facts.docker_version)
    return (found[0] >= 28) if found else None


def _resolver(lines: _Lines, host: Host, facts: HostFacts) -> None:
    found = facts.resolver
    if found is None:
        lines.skip(("resolver",), "no Docker API")
        return
    fix = "`nap-compose network create` starts or repairs it"
    if found.container is None:  # not started yet: a cluster before its first `network create`
        lines.add("resolver", Level.WARN, "no nap-compose-resolver container", fix)
    elif found.container != "running":
        lines.add("resolver", Level.FAIL, f"nap-compose-resolver is {found.container}", fix)
    elif not found.answered:
        lines.add("resolver", Level.FAIL, f"nap-compose-resolver runs but {host.address}:53 did not answer "
                                          f"({found.error or 'no reply'})",
                  f"check for a firewall on the host dropping port 53 on {host.address}; {fix}")
    else:
        lines.add("resolver", Level.OK, f"answers on {host.address}:53")


# --------------------------------------------------------------------------- the store


def judge_store(cluster: Cluster, facts: StoreFacts) -> Tuple[Verdict, ...]:
    lines = _Lines("store")
    url = facts.url
    if facts.error is not None:
        lines.add("store", Level.FAIL, facts.error,
                  f"check that etcd runs and that this machine reaches {url.split('://', 1)[-1]}; "
                  f"`etcdctl --endpoints ... endpoint health` ({GUIDE}, 'etcd')")
        lines.skip(("store-tls", "store-members", "pool"), "no store")
        return lines.done()
    lines.add("store", Level.OK, url)
    if url.startswith("file://"):
        lines.add("store-tls", Level.WARN, "a file on this machine: only commands run from here share the pool",
                  f"run etcd (3 members, TLS) and set store.url ({GUIDE}, 'etcd')")
        lines.skip(("store-members",), "a file store")
    else:
        _store_tls(lines, facts)
        _members(lines, facts)
    _pool(lines, facts)
    return lines.done()


def _store_tls(lines: _Lines, facts: StoreFacts) -> None:
    if facts.tls and facts.client_cert:
        lines.add("store-tls", Level.OK, "TLS with a client certificate")
    elif facts.tls:
        lines.add("store-tls", Level.WARN, "TLS without a client certificate: "
                  + ("a password is the only guard" if facts.auth else "anyone on the LAN can change the pool"),
                  "run etcd with --client-cert-auth and set store.cert and store.key")
    else:
        lines.add("store-tls", Level.WARN, "plain HTTP: anyone on the LAN (containers too) can read and change "
                                           "the pool and the locks",
                  "serve etcd over TLS with client certificates and set store.ca_cert, store.cert, store.key "
                  f"({GUIDE}, 'etcd')")


def _members(lines: _Lines, facts: StoreFacts) -> None:
    sick = [m for m in facts.members if not m.healthy]
    text = ", ".join(f"{m.endpoint} {'healthy' if m.healthy else 'NOT healthy: ' + m.detail}" for m in facts.members)
    if not facts.members:
        lines.skip(("store-members",), "no endpoint asked")
    elif len(sick) == len(facts.members):
        lines.add("store-members", Level.FAIL, text, "start etcd on those members")
    elif sick:
        lines.add("store-members", Level.WARN, text,
                  f"bring {', '.join(m.endpoint for m in sick)} back: one more loss may end the quorum")
    elif len(facts.members) == 1:
        lines.add("store-members", Level.WARN, text + " (one endpoint: no failover)",
                  "list every member in store.url (etcd3://a:2379,b:2379,c:2379)")
    else:
        lines.add("store-members", Level.OK, text)


def _pool(lines: _Lines, facts: StoreFacts) -> None:
    if facts.pool_used is None:
        lines.add("pool", Level.WARN, f"could not count the allocations: {facts.pool_error or 'no answer'}",
                  "`nap-compose ipam ls` shows the error")
        return
    free = facts.pool_size - facts.pool_used
    found = f"{free} of {facts.pool_size} addresses free"
    if free <= 0:
        lines.add("pool", Level.FAIL, found, "`nap-compose ipam gc` lists leaked addresses; or widen network.pools")
    elif free < facts.pool_size * POOL_LOW_FRACTION:
        lines.add("pool", Level.WARN, found, "`nap-compose ipam gc` lists leaked addresses; or widen network.pools")
    else:
        lines.add("pool", Level.OK, found)
