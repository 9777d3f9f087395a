"""The managed block of a container's hosts file: which peers it lists, how it is rendered and merged.

Pure text functions. The block sits between ``# BEGIN nap-compose <project>`` and
``# END nap-compose <project>``; every line outside it (Docker's own included) is kept as it is.
Address and names are separated by single spaces, never a TAB: some Docker versions delete lines
ending in a TAB followed by a container's name when that container leaves a network.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from napcompose.errors import ConfigError
from napcompose.isolation.groups import shares_network
from napcompose.model import Link, Project, Replica, ServiceSpec

_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

Entry = Tuple[str, Tuple[str, ...]]


def begin_marker(project_name: str) -> str:
    return f"# BEGIN nap-compose {project_name}"


def end_marker(project_name: str) -> str:
    return f"# END nap-compose {project_name}"


def validate_name(name: str) -> str:
    """Return ``name`` if it may go into a hosts file; ConfigError naming it (repr, so newlines show)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"invalid name {name!r} for a hosts file: "
                          "names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    return name


@functools.lru_cache(maxsize=65536)
def address_key(address: str):
    """Sort key of an address: numeric order for IP addresses, then anything else by its text."""
    try:
        return (0, int(ipaddress.ip_address(address)), address)
    except ValueError:
        return (1, 0, address)  # "(new)" in a preview sorts after the real addresses


def render_block(project_name: str, entries: Sequence[Entry]) -> str:
    """The managed block for ``entries`` [(address, names)]: one line per address, sorted by address.

    Entries for the same address are joined; repeated names are dropped. The result ends with a newline.
    """
    validate_name(project_name)
    merged: Dict[str, List[str]] = {}
    for address, names in entries:
        if not address or any(c.isspace() for c in address):
            raise ConfigError(f"invalid address {address!r} for a hosts file")
        bucket = merged.setdefault(address, [])
        for name in names:
            validate_name(name)
            if name not in bucket:
                bucket.append(name)
    lines = [begin_marker(project_name)]
    for address in sorted(merged, key=address_key):
        if merged[address]:
            lines.append(address + " " + " ".join(merged[address]))
    lines.append(end_marker(project_name))
    return "\n".join(lines) + "\n"


def _find(lines: List[str], project_name: str) -> Optional[Tuple[int, int]]:
    """(first, last) line indexes of the first complete block, or None."""
    begin, end = begin_marker(project_name), end_marker(project_name)
    for first, line in enumerate(lines):
        if line.rstrip() == begin:
            for last in range(first + 1, len(lines)):
                if lines[last].rstrip() == end:
                    return first, last
            return None
    return None


def extract_block(text: str, project_name: str) -> Optional[str]:
    """The project's block in ``text`` (markers included, newline-terminated), or None if absent."""
    lines = text.splitlines()
    found = _find(lines, project_name)
    if found is None:
        return None
    first, last = found
    return "\n".join(line.rstrip() for line in lines[first:last + 1]) + "\n"


def merge(existing: str, project_name: str, block: str, known: Optional[Mapping[str, str]] = None) -> str:
    """``existing`` with the project's block replaced by ``block`` (appended when there is none).

    Idempotent. Every line outside the project's blocks is kept in its place, except one that gives
    a name of the block, or a name of ``known`` {name: its address now}, another address
    (``_stale``); a stray BEGIN marker without its END (a torn earlier write) is dropped on its own,
    never the lines after it.
    """
    block_lines, in_block, whole = _parsed(block)
    known = known or {}
    if whole and _unchanged(existing, project_name, block, in_block, known):
        return existing
    lines, opaque, outside = _lines(existing, known, in_block)
    begin = begin_marker(project_name)
    marked = _marker_lines(lines, outside, begin, end_marker(project_name))
    if marked is None:  # a marker line with trailing blanks, or a marker inside a line: one by one
        insert_at = None
        while True:
            found = _find(lines, project_name)
            if found is None:
                break
            first, last = found
            insert_at = first if insert_at is None else min(insert_at, first)
            del lines[first:last + 1]
        stray = [i for i, line in enumerate(lines) if line.rstrip() == begin]
    else:
        insert_at, stray = _drop_blocks(lines, *marked)
    for index in reversed(stray):
        del lines[index]
        if insert_at is not None and index < insert_at:
            insert_at -= 1
    stale = _stale(lines, in_block, known, opaque)
    for index in reversed(stale):
        del lines[index]
        if insert_at is not None and index < insert_at:
            insert_at -= 1
    if insert_at is None:
        insert_at = len(lines)
    lines[insert_at:insert_at] = block_lines
    return "\n".join(lines) + "\n" if lines else ""


@functools.lru_cache(maxsize=4096)
def _parsed(block: str) -> Tuple[Tuple[str, ...], Mapping[str, str], bool]:
    """(the lines of ``block``, {name: address} of its names, whether joining the lines gives the
    block back): a pass merges many files with one block (every replica of a service holds the
    same), so each block is read once. Not to be changed."""
    lines = block.splitlines()
    return tuple(lines), _block_names(lines), bool(lines) and "\n".join(lines) + "\n" == block


def _unchanged(existing: str, project_name: str, block: str, in_block: Mapping[str, str],
               known: Mapping[str, str]) -> bool:
    """Whether ``merge`` would give ``existing`` back as it is, found without taking it apart: the
    file of a container whose block is right ends with that block, holds no other marker, breaks
    its lines with "\n" alone (so joining them gives the same text) and no line above the block is
    stale. What a pass over an unchanged project meets in every file."""
    if not existing.endswith(block):
        return False
    above = existing[:len(existing) - len(block)]
    if above and not above.endswith("\n"):
        return False
    if begin_marker(project_name) in above or end_marker(project_name) in above:
        return False
    lines, opaque, outside = _lines(above, known, in_block)
    if "\r" in outside or outside.count("\n") != len(lines) - (opaque is not None):
        return False
    return not _stale(lines, in_block, known, opaque)


def _lines(existing: str, known: Mapping[str, str],
           in_block: Mapping[str, str]) -> Tuple[List[str], Optional[str], str]:
    """``existing.splitlines()``, except that the run of ``known``'s lines Docker wrote (when it is
    there whole, and the block moves none of its names) stays one item: (lines, that item or None,
    the text around it). Such an item is never a marker and never stale, and joins back into the
    same text."""
    run = known.run if isinstance(known, KnownNames) else None
    # the run's first line is looked for first (C-speed): a file without it needs no look at the block
    at = existing.find(run[:known.first_line]) if run is not None else -1
    if at >= 0 and not any(known.run_names.get(name, address) != address for name, address in in_block.items()):
        if (at == 0 or existing[at - 1] == "\n") and existing.startswith(run, at):
            item, head, tail = run[:-1], existing[:at], existing[at + len(run):]
            return head.splitlines() + [item] + tail.splitlines(), item, head + tail
    return existing.splitlines(), None, existing


def _marker_lines(lines: List[str], text: str, begin: str, end: str) -> Optional[Tuple[List[int], List[int]]]:
    """The indexes of the BEGIN and of the END lines, found whole (C-speed); None when some marker
    in ``text`` (the text of ``lines``, but for an item that holds no marker) is not a line of its
    own exactly (trailing blanks, a longer project name...)."""
    found = []
    for marker in (begin, end):
        count = text.count(marker)
        if lines.count(marker) != count:
            return None
        indexes, at = [], 0
        for _ in range(count):
            at = lines.index(marker, at)
            indexes.append(at)
            at += 1
        found.append(indexes)
    return found[0], found[1]


def _drop_blocks(lines: List[str], begins: List[int], ends: List[int]) -> Tuple[Optional[int], List[int]]:
    """Delete every complete block from ``lines`` as ``merge``'s loop over ``_find`` does: the first
    BEGIN up to the first END after it, again from there; (where the first one was, the stray BEGINs
    left after the last, in the indexes of ``lines`` as it is now)."""
    spans = []
    after = 0
    while True:
        first = next((b for b in begins if b >= after), None)
        last = next((e for e in ends if first is not None and e > first), None)
        if first is None or last is None:
            break
        spans.append((first, last))
        after = last + 1
    stray = [b for b in begins if b >= after]
    removed = 0
    for first, last in spans:
        removed += last - first + 1
    shifted = [b - removed for b in stray]
    for first, last in reversed(spans):
        del lines[first:last + 1]
    return (spans[0][0] if spans else None), shifted


def _block_names(block_lines: List[str]) -> Dict[str, str]:
    in_block: Dict[str, str] = {}
    for line in block_lines:
        fields = _fields(line)
        for name in fields[1:]:
            in_block[name] = fields[0]
    return in_block


class KnownNames(dict):
    """{name: address} for ``merge``'s ``known``, with what a host's pass reads in every file made once.

    A host's pass merges many files against the same names; each file holds a line per name
    (Docker's copy of ``extra_hosts``: "address<TAB>name"), so ``merge`` sets aside, in one set
    operation, the lines that give a known name its known address, and reads only the others one by
    one. ``run``: (name, address) pairs every file likely holds in that order (the replicas' names):
    found whole in a file, they are kept as one piece of text, never split into lines.
    """

    def __init__(self, names: Mapping[str, str] = (), run: Sequence[Tuple[str, str]] = ()):
        super().__init__(names)
        self.agreeing = frozenset(f"{address}\t{name}" for name, address in self.items())
        self.run: Optional[str] = None
        self.run_names: Dict[str, str] = {}
        self.first_line = 0
        run_names = dict(run)
        # only a run whose every name is once in it and agrees with ``names`` is taken whole
        if run and len(run_names) == len(run) and all(self.get(n) == a for n, a in run_names.items()):
            self.run = "".join(f"{address}\t{name}\n" for name, address in run)
            self.run_names = run_names
            self.first_line = self.run.index("\n") + 1
        self._blocks: Dict[int, Tuple[Mapping[str, str], frozenset, Dict[str, bool]]] = {}

    def for_block(self, in_block: Mapping[str, str]) -> Tuple[frozenset, Dict[str, bool]]:
        """For the block of names ``in_block`` {name: address}: (the lines agreeing with these names
        that the block gives another address, {line: whether it is stale} as lines are judged).

        Made once per block: every replica of a service merges the same block, and their files share
        most lines (Docker's own). The blocks' name maps are kept whole by ``_parsed``: one is looked
        up by identity, and held, so that identity stays its own."""
        found = self._blocks.get(id(in_block))
        if found is None or found[0] is not in_block:
            moved = frozenset(f"{self[name]}\t{name}" for name, address in in_block.items()
                              if name in self and self[name] != address)
            found = self._blocks[id(in_block)] = (in_block, moved, {})
        return found[1], found[2]


def _fields(line: str) -> List[str]:
    return line.split("#", 1)[0].split()


def _names_other_address(line: str, wanted: Callable[[str], Optional[str]]) -> bool:
    fields = _fields(line)
    if len(fields) < 2:
        return False
    address = fields[0]
    for name in fields[1:]:
        found = wanted(name)
        if found is None or found == address:
            return False
    return True


def _stale(lines: List[str], in_block: Mapping[str, str], known: Mapping[str, str],
           opaque: Optional[str] = None) -> List[int]:
    """Indexes of lines outside the block that give one of the block's (or ``known``'s) names another address.

    Docker writes a container's ``extra_hosts`` (its peers' addresses when it was created) above the
    block, and a resolver takes the first match: once a peer moved to a new address, such a line
    would hide the block's, or name the old address where the block names nothing (a peer that is
    no link target: the name is then left to the resolver). Only lines naming nothing but such
    names are dropped. ``in_block``: {name: address} of the block; ``opaque``: an item of ``lines``
    known to hold no stale line (see ``_lines``).
    """
    def wanted(name: str) -> Optional[str]:
        found = in_block.get(name)
        return known.get(name) if found is None else found

    if not isinstance(known, KnownNames):
        return [index for index, line in enumerate(lines) if _names_other_address(line, wanted)]
    # A line that agrees with ``known`` is stale only when the block moves its one name elsewhere.
    moved, judged = known.for_block(in_block)
    present = set(lines)
    present.discard(opaque)
    suspects = present.difference(known.agreeing)
    suspects.update(present.intersection(moved))
    stale = set()
    for line in suspects:
        verdict = judged.get(line)
        if verdict is None:  # a line's verdict depends on the block and ``known`` only
            verdict = judged[line] = _names_other_address(line, wanted)
        if verdict:
            stale.add(line)
    if not stale:
        return []
    return [index for index, line in enumerate(lines) if line in stale]


def peer_entries(project: Project, service: str, addresses: Mapping[Replica, str],
                 unavailable: Iterable[Replica] = ()) -> Tuple[Entry, ...]:
    """The hosts entries a replica of ``service`` needs for its links (and ``depends_on``).

    A ``depends_on`` target that is not also linked counts as ``links: [target]``: compose files of
    version 2 and later reach such services by name through Docker's per-network DNS, which does not
    span hosts. For every link ``target[:alias]``: the alias, the target's service name and the
    target's network aliases (``networks.*.aliases``) resolve to the target's first (lowest index)
    replica in ``addresses`` that is not ``unavailable`` (the first of all when every one is);
    every replica of the target resolves by its own names, ``target_n`` and ``project_target_n``.
    One entry per address, sorted by address.

    Each call reads all of ``addresses``; to ask for many services, build one PeerMap instead.
    """
    wanted = {link.service for link in _name_sources(project.service(service))}
    # Group only the linked services' replicas: one cheap pass, then the PeerMap's work on a few.
    linked = {replica: addresses[replica] for replica in addresses if replica.service in wanted}
    return PeerMap(project, linked, unavailable).entries(service)


class PeerMap:
    """Every replica's address grouped by service once, and each service's entries and block made once.

    ``peer_entries`` for all S services of a project reads the R addresses S times; a PeerMap reads
    them once and then answers each service from the groups of the services it links to.
    """

    def __init__(self, project: Project, addresses: Mapping[Replica, str], unavailable: Iterable[Replica] = ()):
        self.project = project
        # Replicas that are stopped, unhealthy or about to stop: an alias names another one when it can.
        self.unavailable = frozenset(unavailable)
        groups: Dict[str, List[Tuple[int, Replica, str]]] = {}
        for replica, address in addresses.items():
            if replica.project == project.name:
                groups.setdefault(replica.service, []).append((replica.index, replica, address))
        self._groups = {name: [(replica, address) for _, replica, address in sorted(group, key=_first)]
                        for name, group in groups.items()}
        self._entries: Dict[str, Tuple[Entry, ...]] = {}
        self._blocks: Dict[str, str] = {}

    def replicas(self, service: str) -> List[Tuple[Replica, str]]:
        """(replica, address) of ``service``, by index."""
        return self._groups.get(service, [])

    def entries(self, service: str) -> Tuple[Entry, ...]:
        """``peer_entries`` of ``service``."""
        found = self._entries.get(service)
        if found is None:
            found = self._entries[service] = self._make(service)
        return found

    def block(self, service: str) -> str:
        """The managed block of a replica of ``service``."""
        found = self._blocks.get(service)
        if found is None:
            found = self._blocks[service] = render_block(self.project.name, self.entries(service))
        return found

    def _make(self, service: str) -> Tuple[Entry, ...]:
        names: Dict[str, List[str]] = {}
        for link in _name_sources(self.project.service(service)):
            if not shares_network(self.project, service, link.service):
                continue  # no name where no network is shared, as on one Docker host
            replicas = self.replicas(link.service)
            for replica, address in replicas:
                bucket = names.setdefault(address, [])
                for name in (replica.label, replica.name):
                    if validate_name(name) not in bucket:
                        bucket.append(name)
            if replicas:
                up = [address for replica, address in replicas if replica not in self.unavailable]
                bucket = names[up[0] if up else replicas[0][1]]
                for name in (link.alias, link.service) + _network_aliases(self.project.service(link.service)):
                    if validate_name(name) not in bucket:
                        bucket.append(name)
        return tuple((address, tuple(names[address])) for address in sorted(names, key=address_key))


def _first(item):
    return item[0]


def _network_aliases(spec: ServiceSpec) -> Tuple[str, ...]:
    return tuple(alias for attachment in spec.networks for alias in attachment.aliases)


def _name_sources(spec: ServiceSpec) -> Tuple[Link, ...]:
    linked = {link.service for link in spec.links}
    implied = tuple(Link(dep.service, dep.service) for dep in spec.depends_on if dep.service not in linked)
    return tuple(spec.links) + implied


def check_names(project: Project) -> None:
    """Validate every name the project's hosts blocks can hold, before anything is reserved or created."""
    validate_name(project.name)
    for spec in project.services:
        validate_name(spec.name)  # every service is a name in its peers' hosts files
        for link in spec.links:
            validate_name(link.service)
            validate_name(link.alias)
        for alias in _network_aliases(spec):
            validate_name(alias)
