"""``network check``: what is wrong with the addresses the containers on the flat network really hold.

Pure: it compares what every host's Docker reports for the network (``NetworkView``) with the
cluster file, the host blocks and the allocations in the store, and names host and container in
every finding. Records in the store that cannot be read are findings too, named by their key.
Nothing here talks to a host or to the store.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

from napcompose.ipam import blocks as arith
from napcompose.ipam.records import BadRecord
from napcompose.model import Allocation
from napcompose.clustermodel import Cluster, Endpoint, HostBlock, NetworkView

@dataclass(frozen=True)
class Finding:
    kind: str  # duplicate | reserved-for-other | unreserved-pool | outside-block | infrastructure |
    #            unreachable | no-network | wrong-range | resolver-down | malformed-record
    address: Optional[str]
    host: str
    container: Optional[str]
    message: str

    def as_dict(self) -> Dict[str, Optional[str]]:
        return {"kind": self.kind, "address": self.address, "host": self.host, "container": self.container,
                "message": self.message}


def _infrastructure(cluster: Cluster) -> Dict[int, str]:
    """Addresses no container may hold: the router, the hosts' own and the reserved ones."""
    out: Dict[int, str] = {int(ipaddress.IPv4Address(cluster.network.router)): "the router's address"}
    for host in cluster.hosts:
        try:
            out[int(ipaddress.IPv4Address(host.address))] = f"the address of host {host.name}"
        except ValueError:
            pass
    for text in cluster.network.reserved:
        first, last = arith.parse_range(text, "network.reserved")
        for value in range(first, min(last, first + 65535) + 1):
            out.setdefault(value, f"reserved ({text})")
    return out


def check_network(cluster: Cluster, views: Sequence[NetworkView], blocks: Mapping[str, HostBlock],
                  allocations: Sequence[Allocation], in_pool, unreachable: Mapping[str, str] = {}) -> List[Finding]:
    """Every finding, sorted by address then host. ``in_pool(ip)`` tells a pool address; ``blocks``
    is each host's block; ``unreachable`` names hosts that did not answer (reported, not checked)."""
    findings: List[Finding] = []
    for host in sorted(unreachable):
        findings.append(Finding("unreachable", None, host, None,
                                f"host {host} did not answer ({unreachable[host]}); its containers are not checked"))
    infra = _infrastructure(cluster)
    held = {a.ip: a for a in allocations}
    by_ip: Dict[str, List[Endpoint]] = {}
    for view in views:
        if not view.exists:
            findings.append(Finding("no-network", None, view.host, None,
                                    f"host {view.host} has no network {cluster.network.name} "
                                    "(run `nap-compose network create`)"))
            continue
        own = blocks.get(view.host)
        if view.ip_range != (own.cidr if own is not None else None):
            findings.append(Finding("wrong-range", None, view.host, None, (
                f"network {cluster.network.name} on {view.host} has ip-range {view.ip_range or '(none)'}, not "
                f"its block {own.cidr if own is not None else '(none reserved)'}: containers started there "
                "without an address may take addresses of other hosts (`nap-compose network create` says how to "
                "migrate)")))
        for ep in view.endpoints:
            if ep.ip:
                by_ip.setdefault(ep.ip, []).append(ep)
    for ip in sorted(by_ip, key=lambda a: int(ipaddress.IPv4Address(a))):
        eps = by_ip[ip]
        where = ", ".join(f"{e.container} on {e.host}" for e in eps)
        if len(eps) > 1:
            for e in eps:
                findings.append(Finding("duplicate", ip, e.host, e.container,
                                        f"{ip} is held by {len(eps)} containers: {where}"))
        for e in eps:
            findings += _one(cluster, e, infra, held, blocks, in_pool)
    return findings


def _one(cluster, ep: Endpoint, infra, held, blocks, in_pool) -> List[Finding]:
    ip, out = ep.ip, []
    who = f"container {ep.container} on {ep.host}"
    why = infra.get(int(ipaddress.IPv4Address(ip)))
    if why is not None:
        out.append(Finding("infrastructure", ip, ep.host, ep.container, f"{who} holds {ip}, {why}"))
    alloc = held.get(ip)
    if alloc is not None and alloc.owner != ep.owner:
        out.append(Finding("reserved-for-other", ip, ep.host, ep.container,
                           f"{who} holds {ip}, reserved for {alloc.owner}"
                           + (f" on {alloc.host}" if alloc.host else "")))
    if alloc is None and why is None and in_pool(ip):
        out.append(Finding("unreserved-pool", ip, ep.host, ep.container,
                           f"{who} holds {ip}, a pool address nobody reserved: nap-compose may hand it out "
                           "again (an address given by hand)"))
    own = blocks.get(ep.host)
    if why is None and not in_pool(ip) and not (own is not None and arith.contains(own.cidr, ip)):
        other = next((b for b in blocks.values() if arith.contains(b.cidr, ip)), None)
        place = (f"inside the block {other.cidr} of host {other.host}" if other is not None
                 else "outside every block and the pool")
        mine = f"its host's block is {own.cidr}" if own is not None else f"host {ep.host} holds no block"
        out.append(Finding("outside-block", ip, ep.host, ep.container,
                           f"{who} holds {ip}, {place} ({mine}): an address given by hand"))
    return out


def resolver_findings(statuses: Sequence, unreachable: Mapping[str, str] = {}) -> List[Finding]:
    """A ``resolver-down`` finding per host whose names resolver does not run as the cluster file asks
    (``statuses``: each with host, ok, status and detail); hosts already reported unreachable are skipped."""
    return [Finding("resolver-down", None, s.host, None,
                    f"the names resolver on {s.host} is {s.status}: {s.detail} (run `nap-compose network create`)")
            for s in statuses if not s.ok and s.host not in unreachable]


STORE = "store"  # the host column of a finding about the store itself


def bad_record_findings(bad: Sequence[BadRecord]) -> List[Finding]:
    """A ``malformed-record`` finding per record in the store that cannot be read, named by its key."""
    return [Finding("malformed-record", r.ip, STORE, None, r.message) for r in bad]
