"""The address pool of the cluster network: pure arithmetic, no store.

A pool is the configured container ranges minus every address that must never go to a container:
the network and broadcast addresses, the router, the hosts' own addresses and the reserved ones.
Usable addresses are numbered 0..size-1 in address order; the allocator walks that numbering.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from napcompose.errors import ConfigError, IpamError

Range = Tuple[int, int]  # first and last address as integers, inclusive


def _ip(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _range_text(first: int, last: int) -> str:
    return _ip(first) if first == last else f"{_ip(first)}-{_ip(last)}"


def parse_range(text: str, where: str) -> Range:
    """``first-last``, a CIDR or a single address, as an inclusive integer range."""
    text = text.strip()
    try:
        if "-" in text:
            a, b = (ipaddress.IPv4Address(part.strip()) for part in text.split("-", 1))
        elif "/" in text:
            net = ipaddress.IPv4Network(text, strict=True)
            a, b = net.network_address, net.broadcast_address
        else:
            a = b = ipaddress.IPv4Address(text)
    except ValueError:
        raise ConfigError(f"{where}: '{text}' is not an address, a range 'first-last' or a CIDR") from None
    if int(a) > int(b):
        raise ConfigError(f"{where}: '{text}' ends before it starts")
    return int(a), int(b)


# An IPv4 address in its canonical form (four decimal octets, no leading zero): what every record
# and container holds. Such text is converted without the ipaddress module's objects; anything else goes the long way.
_DOTTED_QUAD = re.compile(r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}")


def canonical(text: str) -> bool:
    """Whether ``text`` is an IPv4 address exactly as ``str(IPv4Address(text))`` writes it."""
    return _DOTTED_QUAD.fullmatch(text) is not None


def parse_address(text: str) -> int:
    """An IPv4 address as an integer; IpamError naming the text when it is none."""
    if type(text) is str and _DOTTED_QUAD.fullmatch(text):  # a run reads thousands of these
        a, b, c, d = text.split(".")
        return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    try:
        return int(ipaddress.IPv4Address(str(text).strip()))
    except ValueError:
        raise IpamError(f"'{text}' is not an IPv4 address") from None


@dataclass(frozen=True)
class Pool:
    """Usable container addresses. Build it with ``Pool.from_cluster`` or ``Pool.build``."""

    subnet: str
    router: str
    ranges: Tuple[Range, ...]
    excluded: Tuple[Tuple[int, str], ...]  # (address, why) of addresses inside the ranges never handed out
    _starts: Tuple[int, ...] = field(default=(), repr=False, compare=False)  # segment first addresses
    _offsets: Tuple[int, ...] = field(default=(), repr=False, compare=False)  # index of each segment's first
    _ends: Tuple[int, ...] = field(default=(), repr=False, compare=False)  # segment last addresses
    _size: int = field(default=0, repr=False, compare=False)

    def __post_init__(self):
        # Cut the ranges at the excluded addresses into segments, so index <-> address is a bisect.
        cut = sorted(a for a, _ in self.excluded)
        starts: List[int] = []
        ends: List[int] = []
        offsets: List[int] = []
        total = 0
        for first, last in self.ranges:
            lo = first
            for ex in cut:
                if ex < lo or ex > last:
                    continue
                if ex > lo:
                    starts.append(lo), ends.append(ex - 1), offsets.append(total)
                    total += ex - lo
                lo = ex + 1
            if lo <= last:
                starts.append(lo), ends.append(last), offsets.append(total)
                total += last - lo + 1
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_ends", tuple(ends))
        object.__setattr__(self, "_offsets", tuple(offsets))
        object.__setattr__(self, "_size", total)

    # ------------------------------------------------------------------ construction

    @classmethod
    def build(cls, subnet: str, router: str, pools: Sequence[str],
              hosts: Sequence[Tuple[str, str]] = (), reserved: Sequence[str] = (),
              source: str = "the cluster network") -> "Pool":
        """Check the definition and build the pool; ConfigError naming the addresses on a contradiction."""
        try:
            net = ipaddress.IPv4Network(subnet, strict=True)
        except ValueError:
            raise ConfigError(f"{source}: subnet '{subnet}' is not an IPv4 network in CIDR form") from None
        lo_net, hi_net = int(net.network_address), int(net.broadcast_address)

        def inside(first: int, last: int) -> bool:
            return lo_net <= first and last <= hi_net

        try:
            router_int = int(ipaddress.IPv4Address(router))
        except ValueError:
            raise ConfigError(f"{source}: router '{router}' is not an IPv4 address") from None
        if not inside(router_int, router_int):
            raise ConfigError(f"{source}: router {router} is outside the subnet {net}")
        if net.prefixlen < 31 and router_int in (lo_net, hi_net):
            raise ConfigError(f"{source}: router {router} is the network or broadcast address of {net}")
        ranges: List[Tuple[int, int, str]] = []
        for text in pools:
            first, last = parse_range(text, f"{source}: pool")
            if not inside(first, last):
                raise ConfigError(f"{source}: pool '{text}' is not inside the subnet {net}")
            ranges.append((first, last, text))
        if not ranges:
            raise ConfigError(f"{source}: no container pool is defined")
        ranges.sort()
        for (a1, b1, t1), (a2, b2, t2) in zip(ranges, ranges[1:]):
            if a2 <= b1:
                raise ConfigError(f"{source}: pools '{t1}' and '{t2}' overlap at "
                                  f"{_range_text(a2, min(b1, b2))}")
        why: Dict[int, str] = {}
        if net.prefixlen < 31:
            why[lo_net] = "the network address"
            why[hi_net] = "the broadcast address"
        why[router_int] = "the router"
        seen_hosts: Dict[int, str] = {}
        for name, address in hosts:
            try:
                value = int(ipaddress.IPv4Address(address))
            except ValueError:
                continue  # a host reached by name; it has no address on this network to protect
            if not inside(value, value):
                continue
            if value == router_int:
                raise ConfigError(f"{source}: host {name} has the router's address {address}")
            if value in seen_hosts:
                raise ConfigError(f"{source}: hosts {seen_hosts[value]} and {name} share the address {address}")
            seen_hosts[value] = name
            why[value] = f"the address of host {name}"
        for text in reserved:
            first, last = parse_range(text, f"{source}: reserved")
            if not inside(first, last):
                raise ConfigError(f"{source}: reserved '{text}' is outside the subnet {net}")
            if last - first > 65535:
                raise ConfigError(f"{source}: reserved '{text}' is too large; shrink the pools instead")
            for value in range(first, last + 1):
                why.setdefault(value, f"reserved ({text})")
        excluded = tuple(sorted((a, w) for a, w in why.items()
                                if any(f <= a <= l for f, l, _ in ranges)))
        pool = cls(subnet=str(net), router=_ip(router_int),
                   ranges=tuple((f, l) for f, l, _ in ranges), excluded=excluded)
        if pool.size == 0:
            raise ConfigError(f"{source}: the pools {', '.join(t for _, _, t in ranges)} hold no usable "
                              "address once the router, the hosts and the reserved addresses are left out")
        return pool

    @classmethod
    def from_cluster(cls, cluster) -> "Pool":
        net = cluster.network
        return cls.build(net.subnet, net.router, net.pools,
                         hosts=[(h.name, h.address) for h in cluster.hosts], reserved=net.reserved,
                         source=cluster.source or "the cluster network")

    # ------------------------------------------------------------------ queries

    @property
    def size(self) -> int:
        return self._size

    def describe(self) -> str:
        """The ranges as ``first-last``, comma separated."""
        return ",".join(_range_text(f, l) for f, l in self.ranges)

    def address_at(self, index: int) -> str:
        """The ``index``-th usable address (0-based, in address order)."""
        if not 0 <= index < self._size:
            raise IndexError(index)
        seg = bisect.bisect_right(self._offsets, index) - 1
        return _ip(self._starts[seg] + index - self._offsets[seg])

    def index_of(self, ip: str) -> Optional[int]:
        """The position of ``ip`` among the usable addresses, or None when it is not one."""
        try:
            value = int(ipaddress.IPv4Address(ip))
        except ValueError:
            return None
        seg = bisect.bisect_right(self._starts, value) - 1
        if seg < 0 or value > self._ends[seg]:
            return None
        return self._offsets[seg] + value - self._starts[seg]

    def contains(self, ip: str) -> bool:
        return self.index_of(ip) is not None

    def why_not(self, ip: str) -> str:
        """Why ``ip`` cannot be handed out (for messages); empty when it can."""
        value = parse_address(ip)
        if self.index_of(ip) is not None:
            return ""
        net = ipaddress.IPv4Network(self.subnet)
        if ipaddress.IPv4Address(value) not in net:
            return f"outside the subnet {self.subnet}"
        for address, why in self.excluded:
            if address == value:
                return why
        if value == int(ipaddress.IPv4Address(self.router)):
            return "the router"
        return f"outside the container pool {self.describe()}"

    def definition(self) -> Dict[str, object]:
        """What ``<prefix>/pool`` records: enough to notice a changed cluster file."""
        return {"subnet": self.subnet, "router": self.router,
                "pools": [_range_text(f, l) for f, l in self.ranges],
                "excluded": [_range_text(a, b) for a, b in _runs([a for a, _ in self.excluded])],
                "size": self.size}


def _runs(values: Sequence[int]) -> List[Range]:
    """Sorted integers folded into inclusive runs."""
    runs: List[List[int]] = []
    for v in sorted(values):
        if runs and runs[-1][1] + 1 == v:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return [(a, b) for a, b in runs]


def definition_differences(stored: Dict[str, object], wanted: Dict[str, object]) -> List[str]:
    """Human-readable differences between two pool definitions, one per field."""
    out = []
    for key in ("subnet", "router", "pools", "excluded"):
        a, b = stored.get(key), wanted.get(key)
        if a != b:
            show = (lambda v: ",".join(v) if isinstance(v, list) else str(v))
            out.append(f"{key}: store has {show(a) or '(none)'}, cluster file has {show(b) or '(none)'}")
    return out
