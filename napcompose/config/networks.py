"""Top-level networks -> the cluster-wide names some of them join, written into the services' attachments.

A project's own network is its own isolation group. A definition that is ``external`` (``external:
true`` names the network by its key, the old ``external: {name: x}`` by ``x``) or that gives ``name:``
names a network of the whole cluster: every project whose services attach to that name shares it, as
on one Docker host. Such a name also names the resolver's domain of the network's members, so it must
be one DNS label: lower-case letters, digits, ``-`` and ``_``, starting with a letter or digit.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Dict, Tuple

from napcompose.config.declared import declared_name
from napcompose.errors import ConfigError
from napcompose.model import NetworkDef, Project, ServiceSpec

# One DNS label (no dot: the name is the first label of its domain; lower case: DNS ignores case, Docker
# does not, so two names differing in case would share one domain).
_SHARED_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def definitions(section, origins, users: Dict[str, Tuple[str, ...]]) -> Tuple[NetworkDef, ...]:
    """Every top-level network of ``section`` (the merged ``networks:`` mapping), with its cluster-wide name.

    ``users``: {network key: the services attached to it}, named by the error a bad name raises
    (a ConfigError naming the file, line, network and services)."""
    found = []
    for key, body in sorted((section or {}).items()):
        name, is_external = declared_name(body)
        name = name or (str(key) if is_external else None)
        if name is not None:
            if not _SHARED_NAME.fullmatch(name):
                where = origins.get(("networks", key), "")
                used = users.get(str(key), ())
                by = ""
                if used:
                    by = f" (used by service{'s' if len(used) > 1 else ''} {', '.join(repr(s) for s in used)})"
                raise ConfigError(
                    f"{where}: network '{key}'{by}: {name!r} cannot name a network shared across projects: "
                    "it names a DNS domain of the resolver, so it must be lower-case letters, digits, '-' "
                    "and '_', starting with a letter or digit, at most 63 characters")
        found.append(NetworkDef(str(key), name, is_external))
    return tuple(found)


def users_of(services) -> Dict[str, Tuple[str, ...]]:
    """{network key: the names of the services attached to it, sorted}."""
    out: Dict[str, list] = {}
    for spec in services:
        for attachment in spec.networks:
            out.setdefault(attachment.name, []).append(spec.name)
    return {key: tuple(sorted(names)) for key, names in out.items()}


def with_shared_names(project: Project, networks: Tuple[NetworkDef, ...]) -> Project:
    """``project`` knowing its networks, each attachment to a cluster-wide network carrying its name."""
    names = {n.key: n.name for n in networks if n.name is not None}

    def attached(spec: ServiceSpec) -> ServiceSpec:
        if not any(a.name in names for a in spec.networks):
            return spec
        return replace(spec, networks=tuple(replace(a, shared=names[a.name]) if a.name in names else a
                                            for a in spec.networks))

    if not names:
        return replace(project, networks=networks)
    return replace(project, services=tuple(attached(s) for s in project.services), networks=networks)
