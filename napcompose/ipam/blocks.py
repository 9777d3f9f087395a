"""Host blocks: the part of the subnet each host's Docker IPAM may hand out. Pure arithmetic, no store.

Every host's network gets one block as its ip-range, so a container started on that host without an
address (``docker run --net nap``, docker-compose, any other client) gets an address of that host's
block, and never one that another host's IPAM handed out. Blocks are aligned CIDRs of
``network.host_block`` (a prefix length), carved from ``network.host_blocks`` (the areas set aside for
them) or, when the cluster file names none, from the subnet's free space. They never hold the
network or broadcast address, the router, a host's address, a pool address or a reserved address.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, List, Optional, Sequence, Tuple

from napcompose.ipam.pool import parse_range

Span = Tuple[int, int, str]  # first, last (inclusive) and what it is, for messages


def _ip(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def range_text(first: int, last: int) -> str:
    return _ip(first) if first == last else f"{_ip(first)}-{_ip(last)}"


def block_span(cidr: str) -> Tuple[int, int]:
    net = ipaddress.IPv4Network(cidr, strict=True)
    return int(net.network_address), int(net.broadcast_address)


def fixed_spans(network, hosts: Sequence) -> List[Span]:
    """Everything a block must stay clear of, labelled with its cluster-file key."""
    net = ipaddress.IPv4Network(network.subnet)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    spans: List[Span] = []
    if net.prefixlen < 31:
        spans += [(lo, lo, f"the network address {_ip(lo)}"), (hi, hi, f"the broadcast address {_ip(hi)}")]
    router = int(ipaddress.IPv4Address(network.router))
    spans.append((router, router, f"network.router {network.router}"))
    for i, text in enumerate(network.pools):
        first, last = parse_range(text, "network.pools")
        spans.append((first, last, f"network.pools[{i}] '{text}'"))
    for i, text in enumerate(network.reserved):
        first, last = parse_range(text, "network.reserved")
        spans.append((first, last, f"network.reserved[{i}] {text}"))
    for i, host in enumerate(hosts):
        try:
            value = int(ipaddress.IPv4Address(host.address))
        except ValueError:
            continue  # reached by name: it has no address on this network
        spans.append((value, value, f"hosts[{i}] ({host.name}) address {host.address}"))
    return spans


def areas(network) -> List[Span]:
    """Where blocks are carved from: the cluster file's ``host_blocks``, or the whole subnet."""
    if not network.host_blocks:
        net = ipaddress.IPv4Network(network.subnet)
        return [(int(net.network_address), int(net.broadcast_address), f"the subnet {network.subnet}")]
    out = []
    for i, text in enumerate(network.host_blocks):
        first, last = parse_range(text, "network.host_blocks")
        out.append((first, last, f"network.host_blocks[{i}] '{text}'"))
    return out


def _overlap(a: Tuple[int, int], b: Tuple[int, int]) -> Optional[Tuple[int, int]]:
    first, last = max(a[0], b[0]), min(a[1], b[1])
    return (first, last) if first <= last else None


def area_conflict(network, hosts: Sequence) -> Optional[Tuple[int, str]]:
    """The first explicit ``host_blocks`` area that overlaps another area, a pool, the router, a host
    or a reserved address: (area index, message naming both ranges), or None.

    The network and broadcast addresses may lie in an area: no block is carved over them.
    """
    if not network.host_blocks:
        return None
    mine = areas(network)
    others = [s for s in fixed_spans(network, hosts) if not s[2].startswith(("the network", "the broadcast"))]
    for i, (first, last, label) in enumerate(mine):
        for j, (f2, l2, label2) in enumerate(mine[:i]):
            hit = _overlap((first, last), (f2, l2))
            if hit:
                return i, f"{label.split(' ', 1)[1]} overlaps {label2} at {range_text(*hit)}"
        for f2, l2, label2 in others:
            hit = _overlap((first, last), (f2, l2))
            if hit:
                return i, f"{label.split(' ', 1)[1]} overlaps {label2} at {range_text(*hit)}"
    return None


def candidates(network, hosts: Sequence) -> List[str]:
    """Every block a host may get, in address order: aligned, inside an area, clear of fixed spans."""
    size = 1 << (32 - network.host_block)
    fixed = sorted((f, l) for f, l, _ in fixed_spans(network, hosts))
    out: List[str] = []
    for first, last, _ in sorted(areas(network)):
        start = (first + size - 1) // size * size
        while start + size - 1 <= last:
            end = start + size - 1
            if not any(f <= end and start <= l for f, l in fixed):
                out.append(f"{_ip(start)}/{network.host_block}")
            start += size
    return out


def conflict_of(cidr: str, network, hosts: Sequence) -> Optional[str]:
    """What a (stored) block overlaps among the fixed spans, e.g. after the cluster file changed."""
    span = block_span(cidr)
    for first, last, label in fixed_spans(network, hosts):
        hit = _overlap(span, (first, last))
        if hit:
            return f"{label} (at {range_text(*hit)})"
    return None


def overlaps(cidr: str, others: Iterable[str]) -> Optional[str]:
    """The first of ``others`` that shares an address with ``cidr``."""
    span = block_span(cidr)
    for other in others:
        if _overlap(span, block_span(other)):
            return other
    return None


def contains(cidr: str, ip: str) -> bool:
    first, last = block_span(cidr)
    try:
        return first <= int(ipaddress.IPv4Address(ip)) <= last
    except ValueError:
        return False
