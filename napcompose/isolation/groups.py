"""Which isolation groups each recorded address belongs to.

The address records say who holds which address on which host; a container's groups come from its
service's ``networks`` (for the project being deployed) or from the label its container was created
with (every other project). A replica whose container predates the label is put in every group of
its project seen anywhere, and in its project's ``default``: it keeps reaching what it reached.

A project's own network ``front`` is the group ``<project>/front``; a network shared across projects
(an ``external`` one, or one with a top-level ``name:``) is ``*/<its name>`` for every project that
attaches to it. ``*`` is in no project name, so the two kinds never collide. The label lists a
container's own networks by key and its shared ones by group (``front,*/shared``); a label written
before shared networks existed lists keys only and reads as it always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

from napcompose.model import Allocation, ObservedContainer, Project, ServiceSpec

GROUPS_LABEL = "io.nap-compose.groups"
DEFAULT_NETWORK = "default"
# compose network keys and project names as the loader accepts them; anything else in a label is ignored
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SHARED_PREFIX = "*/"  # the groups of networks shared across projects: ``*`` is in no project name


@dataclass(frozen=True, order=True)
class Member:
    """One recorded address, the host it lives on, and the groups it belongs to (sorted)."""

    ip: str
    host: str
    groups: Tuple[str, ...]


def shared_group(name: str) -> str:
    """The group of the network shared across projects under the cluster-wide ``name``."""
    return SHARED_PREFIX + name


def is_shared(group: str) -> bool:
    """Whether ``group`` is a network shared across projects (not one project's own)."""
    return group.startswith(SHARED_PREFIX)


def _entries(spec: ServiceSpec) -> Tuple[str, ...]:
    """The label's entries of ``spec``: its own networks' keys, its shared networks' groups; sorted."""
    if not spec.networks:
        return (DEFAULT_NETWORK,)
    return tuple(sorted({shared_group(a.shared) if a.shared else a.name for a in spec.networks}))


def _group(project_name: str, entry: str) -> str:
    return entry if is_shared(entry) else f"{project_name}/{entry}"


def service_groups(project_name: str, spec: ServiceSpec) -> Tuple[str, ...]:
    """The groups of ``spec``'s containers in project ``project_name``, sorted."""
    return tuple(sorted(_group(project_name, entry) for entry in _entries(spec)))


def shares_network(project: Project, service: str, other: str) -> bool:
    """Whether two services of ``project`` share a compose network (a service not in it shares nothing)."""
    first, second = project.services_by_name.get(service), project.services_by_name.get(other)
    if first is None or second is None:
        return service == other
    return bool(set(_entries(first)) & set(_entries(second)))


def groups_label(spec: ServiceSpec) -> str:
    """The label value a container of ``spec`` is created with: its own networks by key, its shared
    ones by group, comma-separated (``back,front,*/shared``)."""
    return ",".join(_entries(spec))


def _readable(part: str) -> bool:
    if is_shared(part):
        return _NAME_RE.fullmatch(part[len(SHARED_PREFIX):]) is not None
    return _NAME_RE.fullmatch(part) is not None


def parse_label(text: Optional[str]) -> Optional[Tuple[str, ...]]:
    """The entries of a groups label (network keys, and ``*/<name>`` groups), or None when there is
    no readable label."""
    if not text:
        return None
    names = tuple(sorted({part for part in text.split(",") if _readable(part)}))
    return names or None


_KEPT_RE = re.compile(r"@gen[0-9]+")


def _owner(owner: str) -> Optional[Tuple[str, str]]:
    """(project, service) of a replica's owner ``project/service/N`` (or a one-off's ``project/service/x``).

    An old copy's address held under ``project/service/N@genG`` (kept beside a start-first update's
    new copy, or left on a lost host) keeps its service's groups: it still serves until it stops."""
    parts = owner.split("/")
    if len(parts) == 3 and "@" in parts[2]:
        index, _, generation = parts[2].partition("@")
        if not _KEPT_RE.fullmatch("@" + generation):
            return None
        parts[2] = index
    if len(parts) != 3 or not all(_NAME_RE.fullmatch(p) for p in parts):
        return None
    return parts[0], parts[1]


def members(allocations: Iterable[Allocation], containers: Iterable[ObservedContainer],
            project: Optional[Project] = None) -> Tuple[Member, ...]:
    """Every recorded container address with its groups, sorted by address.

    ``containers``: what the hosts run (their groups labels, by address); ``project``: the project
    being deployed, whose services' networks win over its containers' labels (they may be about to
    be recreated with new ones). Records of other owners (manual reservations) have no groups.
    """
    labelled: Dict[str, Tuple[str, ...]] = {}
    for container in containers:
        if container.replica is None or not container.ip:
            continue
        names = parse_label(dict(container.labels).get(GROUPS_LABEL))
        if names is not None:
            labelled[container.ip] = tuple(sorted(_group(container.replica.project, n) for n in names))
    found = []
    legacy = []
    seen: Dict[str, set] = {}  # project -> its own groups seen on some member
    for allocation in allocations:
        owner = _owner(allocation.owner)
        if owner is None or allocation.host is None:
            continue
        project_name, service = owner
        groups = None
        if project is not None and project_name == project.name:
            spec = project.services_by_name.get(service)
            if spec is not None:
                groups = service_groups(project_name, spec)
        if groups is None:
            groups = labelled.get(allocation.ip)
        if groups is None or not all(is_shared(g) or g.startswith(project_name + "/") for g in groups):
            legacy.append((allocation, project_name))
            continue
        found.append(Member(allocation.ip, allocation.host, groups))
        seen.setdefault(project_name, set()).update(g for g in groups if not is_shared(g))
    # a container made before the label never joined a shared network: it keeps its project's groups
    for allocation, project_name in legacy:
        groups = seen.get(project_name, set()) | {f"{project_name}/{DEFAULT_NETWORK}"}
        found.append(Member(allocation.ip, allocation.host, tuple(sorted(groups))))
    return tuple(sorted(found, key=lambda m: (_ip_key(m.ip), m.host, m.groups)))


def _ip_key(ip: str) -> Tuple[int, ...]:
    try:
        return tuple(int(part) for part in ip.split("."))
    except ValueError:
        return (1 << 9,)


def peers(members_: Sequence[Member], ip: str) -> Tuple[str, ...]:
    """The addresses sharing a group with ``ip`` (itself left out); every member when ``ip`` has none."""
    mine = {g for m in members_ if m.ip == ip for g in m.groups}
    return tuple(m.ip for m in members_ if m.ip != ip and mine & set(m.groups))


def by_group(members_: Sequence[Member]) -> Mapping[str, Tuple[str, ...]]:
    """group -> its member addresses, in address order."""
    out: Dict[str, list] = {}
    for member in members_:
        for group in member.groups:
            out.setdefault(group, []).append(member.ip)
    return {g: tuple(v) for g, v in sorted(out.items())}
