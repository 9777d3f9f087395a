"""What a host's loaded table says, and how it differs from the table the records call for.

``parse_loaded`` reads ``nft -j list table bridge nap_compose`` (None: no table); ``differences``
names, set by set, the elements missing and extra, and whether the rules themselves differ (the
digest the forward rule carries is computed from the whole table: a rule changed by hand changes
nothing in the sets, but the digest no longer matches).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple

from napcompose.isolation.ruleset import DIGEST_PREFIX, HostRules, digest, merged


@dataclass(frozen=True)
class LoadedTable:
    """A host's table as nft lists it: each set's elements as text, keyed by its comment or name."""

    sets: Tuple[Tuple[str, FrozenSet[str]], ...]
    digest: Optional[str]


def _int(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def _ranges_text(ranges) -> FrozenSet[str]:
    return frozenset(f"{ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(b)}" for a, b in merged(ranges))


def _element(value) -> str:
    if isinstance(value, dict):
        if "elem" in value:
            return _element(value["elem"].get("val"))
        if "concat" in value:
            return " . ".join(_element(v) for v in value["concat"])
    return str(value)


def _pool_ranges(values) -> FrozenSet[str]:
    ranges = []
    for value in values:
        if isinstance(value, dict) and "elem" in value:
            value = value["elem"].get("val")
        if isinstance(value, dict) and "range" in value:
            first, last = value["range"]
            ranges.append((_int(first), _int(last)))
        elif isinstance(value, dict) and "prefix" in value:
            net = ipaddress.IPv4Network(f"{value['prefix']['addr']}/{value['prefix']['len']}", strict=False)
            ranges.append((int(net.network_address), int(net.broadcast_address)))
        else:
            ranges.append((_int(str(value)), _int(str(value))))
    return _ranges_text(ranges)


def parse_loaded(text: str) -> Optional[LoadedTable]:
    """The table in nft's JSON listing; None when the listing holds no table. ValueError when unreadable."""
    try:
        listing = json.loads(text)
        objects = listing["nftables"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable nft listing: {exc}") from None
    sets: Dict[str, FrozenSet[str]] = {}
    found_table = False
    found_digest = None
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        if "table" in obj:
            found_table = True
        elif "set" in obj:
            entry = obj["set"]
            key = entry.get("comment") if str(entry.get("name", "")).startswith("g") else entry.get("name")
            values = entry.get("elem") or []
            sets[f"group {key}" if key != entry.get("name") else str(key)] = (
                _pool_ranges(values) if entry.get("name") == "pool" else frozenset(_element(v) for v in values))
        elif "rule" in obj:
            comment = obj["rule"].get("comment") or ""
            if comment.startswith(DIGEST_PREFIX):
                found_digest = comment[len(DIGEST_PREFIX):]
    if not found_table:
        return None
    return LoadedTable(tuple(sorted(sets.items())), found_digest)


def desired_sets(rules: HostRules) -> Mapping[str, FrozenSet[str]]:
    """The sets of ``rules`` as ``parse_loaded`` keys and writes them."""
    out = {"pool": _ranges_text(rules.pool), "local": frozenset(rules.local),
           "ports": frozenset(p.ifname for p in rules.ports),
           "port_ip": frozenset(f"{p.ifname} . {p.ip}" for p in rules.ports),
           "port_mac": frozenset(f"{p.ifname} . {p.mac}" for p in rules.ports)}
    for group, ips in rules.groups:
        out[f"group {group}"] = frozenset(ips)
    return out


def _listed(items) -> str:
    items = sorted(items)
    shown = ", ".join(items[:6])
    return shown + (f" and {len(items) - 6} more" if len(items) > 6 else "")


def differences(rules: HostRules, loaded: Optional[LoadedTable]) -> List[str]:
    """One line per difference between the table ``rules`` calls for and the ``loaded`` one; none when equal."""
    if loaded is None:
        return ["no nap-compose table is loaded"]
    want = desired_sets(rules)
    have = dict(loaded.sets)
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
    if not lines and loaded.digest != digest(rules):
        lines.append(f"rules differ (loaded digest {loaded.digest or 'none'}, want {digest(rules)})")
    return lines
