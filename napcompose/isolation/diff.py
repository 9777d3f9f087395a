"""What a host's loaded table says, and how it differs from the table the records call for.

``parse_loaded`` reads ``nft list table bridge nap_compose`` (nft's own text: sets with their
comments and elements, wrapped over lines as nft likes, and each chain's rules) and the rendered
table alike, so ``differences`` compares the two the same way: set by set, the elements missing
and extra (ranges merged, so nft writing a range as a prefix changes nothing), then the chains'
rules (a rule changed by hand shows there while every set is right).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Tuple

from napcompose.isolation.ruleset import DIGEST_PREFIX, TABLE, HostRules, merged, render
from napcompose.model import BridgePort

_TABLE_RE = re.compile(rf"^table bridge {TABLE} \{{\n(.*?)^\}}", re.M | re.S)  # its own closing brace
_SET_RE = re.compile(r"^\tset (\w+) \{\n(.*?)^\t\}", re.M | re.S)
_CHAIN_RE = re.compile(r"^\tchain (\w+) \{\n(.*?)^\t\}", re.M | re.S)
_ELEMENTS_RE = re.compile(r"elements = \{(.*?)\}", re.S)
_COMMENT_RE = re.compile(r'^\t\tcomment "([^"]*)"$', re.M)
_DIGEST_RE = re.compile(rf' comment "{DIGEST_PREFIX}[0-9a-f]*"')


@dataclass(frozen=True)
class LoadedTable:
    """A table: each set's elements as text (a group's set keyed ``group <name>``), each chain's rules."""

    sets: Tuple[Tuple[str, FrozenSet[str]], ...]
    chains: Tuple[Tuple[str, Tuple[str, ...]], ...]


def _ranges(items) -> FrozenSet[str]:
    ranges = []
    for item in items:
        if "-" in item:
            first, last = item.split("-", 1)
            ranges.append((int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last))))
        else:
            net = ipaddress.IPv4Network(item, strict=False)
            ranges.append((int(net.network_address), int(net.broadcast_address)))
    return frozenset(f"{ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(b)}" for a, b in merged(ranges))


def parse_loaded(text: str) -> Optional[LoadedTable]:
    """The table in nft's listing (or in a rendered ruleset); None when it holds none.
    ValueError when an element cannot be read."""
    table = _TABLE_RE.search(text)
    if table is None:
        return None
    body = table.group(1)
    sets: Dict[str, FrozenSet[str]] = {}
    for name, inner in _SET_RE.findall(body):
        found = _ELEMENTS_RE.search(inner)
        items = [" ".join(part.split()).replace('"', "") for part in found.group(1).split(",")] if found else []
        items = [item for item in items if item]
        comment = _COMMENT_RE.search(inner)
        key = f"group {comment.group(1)}" if comment and name.startswith("g") else name
        try:
            sets[key] = _ranges(items) if name == "pool" else frozenset(items)
        except ValueError as exc:
            raise ValueError(f"unreadable element of set {name}: {exc}") from None
    chains = {name: tuple(_DIGEST_RE.sub("", line.strip()) for line in inner.splitlines() if line.strip())
              for name, inner in _CHAIN_RE.findall(body)}
    return LoadedTable(tuple(sorted(sets.items())), tuple(sorted(chains.items())))


def bound_ports(loaded: Optional[LoadedTable]) -> Tuple[BridgePort, ...]:
    """The container ports a loaded table binds (each with its address and MAC)."""
    if loaded is None:
        return ()
    sets = dict(loaded.sets)
    ips = dict(item.split(" . ", 1) for item in sets.get("port_ip", ()) if " . " in item)
    macs = dict(item.split(" . ", 1) for item in sets.get("port_mac", ()) if " . " in item)
    found = []
    for name in sorted(set(ips) & set(macs)):
        try:
            found.append(BridgePort(name, ips[name], macs[name]))
        except ValueError:
            continue  # not what nap-compose writes: the next discovery replaces it
    return tuple(found)


def _listed(items) -> str:
    items = sorted(items)
    shown = ", ".join(items[:6])
    return shown + (f" and {len(items) - 6} more" if len(items) > 6 else "")


def differences(rules: HostRules, loaded: Optional[LoadedTable]) -> List[str]:
    """One line per difference between the table ``rules`` calls for and the ``loaded`` one; none when equal."""
    if loaded is None:
        return ["no nap-compose table is loaded"]
    wanted = parse_loaded(render(rules))
    want, have = dict(wanted.sets), dict(loaded.sets)
    lines = []
    for name in sorted(set(want) | set(have)):
        if name not in have:
            lines.append(f"{name}: missing ({_listed(want[name]) or 'empty'})")
        elif name not in want:
            lines.append(f"{name}: not called for ({_listed(have[name]) or 'empty'})")
        else:
            missing, extra = want[name] - have[name], have[name] - want[name]
            if missing:
                lines.append(f"{name}: missing {_listed(missing)}")
            if extra:
                lines.append(f"{name}: extra {_listed(extra)}")
    rules_want, rules_have = dict(wanted.chains), dict(loaded.chains)
    for chain in sorted(set(rules_want) | set(rules_have)):
        if rules_want.get(chain) != rules_have.get(chain):
            lines.append(f"chain {chain}: rules differ from nap-compose's")
    return lines
