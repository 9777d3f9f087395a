"""One host's bridge filter as nftables text: the whole table, rendered the same for the same inputs.

The table (``bridge nap_compose``) holds sets and a fixed handful of rules; only set elements grow
with the cluster:

- ``pool``: every address nap-compose hands out (the pools, and any member outside them). Traffic
  with an address outside it at either end (hosts, router, the operator, containers Docker gave a
  host-block address) is not the groups' business and passes.
- one set per group with a member on this host, ``g0``, ``g1``, ... (the group's name is the set's
  comment), holding every member of the group on any host: a frame between two pool addresses
  passes when both are in one of these sets, else it is refused. A frame crosses the bridge of the
  sending host and of the receiving host, and each of them knows all the groups of its own
  containers, so each end decides alike. One rule per group: no rules per pair.
- ``ports``/``port_ip``/``port_mac``: each container's port on the bridge (the host side of its
  veth) with its address and MAC. A port listed there may send only IPv4 and ARP, only from that
  address and MAC; a Docker port not listed yet (a container that started after the last load)
  may not use a pool address held on another host. ``local``: the addresses recorded on this host.

A frame the groups do not allow is refused (a TCP reset, an ICMP error) by a small ``ip nap_compose``
table beside it, and dropped where that table never sees it (see REFUSER).

The text starts by creating and deleting the tables, so one ``nft -f`` replaces them atomically.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from napcompose.ipam.pool import parse_range
from napcompose.isolation.groups import Member
from napcompose.model import BridgePort

TABLE = "nap_compose"
FAMILY = "bridge"
DIGEST_PREFIX = "nap-compose ruleset "
# Docker names the host side of a container's veth "veth" + 7 hex digits
DOCKER_PORTS = "veth*"


Port = BridgePort  # what ``ports`` lists: a container's port, its address and MAC


@dataclass(frozen=True)
class HostRules:
    """Everything one host's table is made of."""

    host: str
    pool: Tuple[Tuple[int, int], ...]  # inclusive integer ranges, merged, in order
    groups: Tuple[Tuple[str, Tuple[str, ...]], ...]  # (group, member addresses) with a member here
    local: Tuple[str, ...]  # addresses recorded on this host
    ports: Tuple[Port, ...]


def _ip(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _ipkey(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def merged(ranges: Iterable[Tuple[int, int]]) -> Tuple[Tuple[int, int], ...]:
    """Inclusive ranges merged where they overlap or touch, in order."""
    out: List[List[int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return tuple((a, b) for a, b in out)


@dataclass(frozen=True)
class GroupIndex:
    """What every host's table is made of, computed once per load from the members (sorted by
    address, as ``members`` gives them): the pool's ranges, each group's addresses, and per host
    the groups with a member there and its own addresses. A host's rules are then a lookup, not a
    pass over every member: a load of 500 hosts of one 10,000-member group reads each member once."""

    pool: Tuple[Tuple[int, int], ...]
    groups: Mapping[str, Tuple[str, ...]]
    host_groups: Mapping[str, Tuple[str, ...]]
    local: Mapping[str, Tuple[str, ...]]


def group_index(pools: Sequence[str], members: Sequence[Member]) -> GroupIndex:
    ranges = [parse_range(text, "network.pools") for text in pools]
    keyed = sorted(((_ipkey(m.ip), m) for m in members), key=lambda pair: pair[0])
    ranges += [(key, key) for key, _ in keyed]
    groups: Dict[str, Dict[str, None]] = {}
    host_groups: Dict[str, set] = {}
    local: Dict[str, Dict[str, None]] = {}
    for _, member in keyed:
        local.setdefault(member.host, {})[member.ip] = None
        host_groups.setdefault(member.host, set()).update(member.groups)
        for group in member.groups:
            groups.setdefault(group, {})[member.ip] = None
    return GroupIndex(merged(ranges), {g: tuple(ips) for g, ips in groups.items()},
                      {h: tuple(sorted(g)) for h, g in host_groups.items()},
                      {h: tuple(ips) for h, ips in local.items()})


def host_rules(host: str, pools: Sequence[str], members: Sequence[Member], ports: Iterable[Port],
               index: Optional[GroupIndex] = None) -> HostRules:
    """The table of ``host`` from the cluster's pools, every member, and the ports found on the host
    (``index``: the members' GroupIndex, made once for many hosts)."""
    index = index if index is not None else group_index(pools, members)
    return HostRules(host=host, pool=index.pool,
                     groups=tuple((g, index.groups[g]) for g in index.host_groups.get(host, ())),
                     local=index.local.get(host, ()), ports=tuple(sorted(set(ports))))


# (the tuple, its text) by the tuple's id: a group's addresses are one tuple for every host of a
# load (GroupIndex), so its text is joined once, not once per host
_JOINED: Dict[int, Tuple[Tuple[str, ...], str]] = {}
_JOINED_KEPT = 4096


def _elements(items: Sequence[str]) -> str:
    if not items:
        return ""
    found = _JOINED.get(id(items))
    if found is not None and found[0] is items:
        return found[1]
    text = f"\t\telements = {{ {', '.join(items)} }}\n"
    if isinstance(items, tuple) and len(items) > 64:
        if len(_JOINED) >= _JOINED_KEPT:
            _JOINED.clear()
        _JOINED[id(items)] = (items, text)
    return text


def _set(name: str, kind: str, items: Sequence[str], flags: str = "", comment: str = "") -> str:
    head = f"\tset {name} {{\n\t\ttype {kind}\n"
    if flags:
        head += f"\t\tflags {flags}\n"
    if comment:
        head += f'\t\tcomment "{comment}"\n'
    return head + _elements(items) + "\t}\n"


def _range_text(first: int, last: int) -> str:
    return _ip(first) if first == last else f"{_ip(first)}-{_ip(last)}"


def body(rules: HostRules) -> str:
    """The table's definition, without the digest rule's comment (which is computed from it)."""
    out = [_set("pool", "ipv4_addr", [_range_text(a, b) for a, b in rules.pool], flags="interval"),
           _set("local", "ipv4_addr", list(rules.local)),
           _set("ports", "ifname", [f'"{p.ifname}"' for p in rules.ports]),
           _set("port_ip", "ifname . ipv4_addr", [f'"{p.ifname}" . {p.ip}' for p in rules.ports]),
           _set("port_mac", "ifname . ether_addr", [f'"{p.ifname}" . {p.mac}' for p in rules.ports])]
    for index, (group, ips) in enumerate(rules.groups):
        out.append(_set(f"g{index}", "ipv4_addr", list(ips), comment=group))
    out.append("\tchain spoof {\n"
               "\t\tiifname @ports iifname . ether saddr != @port_mac drop\n"
               "\t\tiifname @ports ether type != { ip, arp } drop\n"
               "\t\tiifname @ports iifname . ip saddr != @port_ip drop\n"
               "\t\tiifname @ports iifname . arp saddr ip != @port_ip drop\n"
               "\t\tiifname @ports iifname . arp saddr ether != @port_mac drop\n"
               f'\t\tiifname != @ports iifname "{DOCKER_PORTS}" ip saddr @pool ip saddr != @local drop\n'
               f'\t\tiifname != @ports iifname "{DOCKER_PORTS}" arp saddr ip @pool arp saddr ip != @local drop\n'
               "\t}\n")
    groups = "".join(f"\t\tip saddr @g{i} ip daddr @g{i} accept\n" for i in range(len(rules.groups)))
    out.append("\tchain groups {\n"
               "\t\tip saddr != @pool accept\n"
               "\t\tip daddr != @pool accept\n"
               f"{groups}"
               f"\t\tmeta mark set {REFUSE_MARK}\n"
               "\t}\n")
    return "".join(out)


def digest(rules: HostRules) -> str:
    return _digest_of(body(rules))


def _digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render(rules: HostRules) -> str:
    """The whole ``nft -f`` input: the table replaced in one transaction."""
    text = body(rules)
    return (f"# nap-compose bridge filter of {rules.host}: isolation groups and anti-spoofing\n"
            f"table {FAMILY} {TABLE}\n"
            f"delete table {FAMILY} {TABLE}\n"
            f"table {FAMILY} {TABLE} {{\n"
            + text
            + "\tchain forward {\n"
            "\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t\tjump spoof\n"
            f'\t\tether type ip jump groups comment "{DIGEST_PREFIX}{_digest_of(text)}"\n'
            "\t}\n"
            "\tchain input {\n"
            "\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\tjump spoof\n"
            "\t}\n"
            "\tchain refused {\n"
            f"\t\ttype filter hook forward priority {LATE_PRIORITY}; policy accept;\n"
            f"\t\tmeta mark {REFUSE_MARK} drop\n"
            "\t}\n"
            "}\n"
            + REFUSER)


# Refusing, not only dropping: a client whose connection crosses groups learns it at once (a TCP
# reset, an ICMP admin-prohibited) instead of waiting for its own timeout. This kernel's bridge
# family cannot build a reset (no bridge ``reject``), so the groups chain marks the frame and the
# IPv4 forward hook, which sees bridged frames through br_netfilter (bridge-nf-call-iptables=1, as
# Docker sets it), refuses it; the reset goes back out the port the frame came in by. Where bridged
# frames skip iptables, the bridge's own late chain drops what is marked: never let through.
REFUSE_MARK = "0x6e617063"  # "napc"
LATE_PRIORITY = 300  # after br_netfilter's hand-over to the IPv4 hooks (priority 0)
REFUSER = (f"table ip {TABLE}\n"
           f"delete table ip {TABLE}\n"
           f"table ip {TABLE} {{\n"
           "\tchain forward {\n"
           "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
           f"\t\tmeta mark {REFUSE_MARK} meta l4proto tcp reject with tcp reset\n"
           f"\t\tmeta mark {REFUSE_MARK} reject with icmp type admin-prohibited\n"
           "\t}\n"
           "}\n")

REMOVE = (f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
          f"table ip {TABLE}\ndelete table ip {TABLE}\n")


def rule_count(rules: HostRules) -> int:
    """How many rules the table holds (set elements are not rules)."""
    return 7 + 2 + len(rules.groups) + 1 + 2 + 1 + 1 + 2  # spoof, groups, forward, input, refused, ip forward
