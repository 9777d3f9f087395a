"""Top-level named volumes -> the names Docker knows them by, written into the services' mounts.

docker-compose names a project's volume ``<project>_<key>``, so two projects that both say ``data``
keep their data apart; a definition's ``name:`` is taken as given, and so is an ``external`` volume's
(``external: true``, or the old ``external: {name: x}``), which nap-compose never removes. The
services' ``volumes`` entries carry the Docker name from here on (what the engine mounts, what the
hosts are asked for, what placement pins to); ``config`` writes the keys back (render.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Dict, Tuple

from napcompose.config.declared import declared_name
from napcompose.errors import ConfigError
from napcompose.model import Project, ServiceSpec, VolumeDef

# What Docker accepts as a volume name.
_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def definitions(project_name: str, section, origins) -> Tuple[VolumeDef, ...]:
    """Every top-level volume of ``section`` (the merged ``volumes:`` mapping) with its Docker name.

    A name Docker would refuse is a ConfigError naming the file, line and volume.
    """
    found = []
    for key, body in sorted((section or {}).items()):
        name, is_external = declared_name(body)
        name = name or (str(key) if is_external else f"{project_name}_{key}")
        if not _DOCKER_NAME.fullmatch(name):
            where = origins.get(("volumes", key), "")
            raise ConfigError(f"{where}: volume '{key}': '{name}' is not a valid Docker volume name "
                              "(letters, digits, '_', '.', '-', starting with a letter or digit)")
        found.append(VolumeDef(str(key), name, is_external))
    return tuple(found)


def _renamed(entry: str, names: Dict[str, str]) -> str:
    source, sep, rest = entry.partition(":")
    if sep and source in names:
        return f"{names[source]}:{rest}"
    return entry


def with_docker_names(project: Project, volumes: Tuple[VolumeDef, ...]) -> Project:
    """``project`` knowing its volumes, each service mounting them by their Docker names."""
    names = {v.key: v.name for v in volumes}
    if not names:
        return replace(project, volumes=volumes)

    def renamed(spec: ServiceSpec) -> ServiceSpec:
        return replace(spec, volumes=tuple(_renamed(v, names) for v in spec.volumes))

    return replace(project, services=tuple(renamed(s) for s in project.services), volumes=volumes)


def key_of(project: Project, entry: str) -> str:
    """A service's ``volumes`` entry as the file wrote it (the Docker name back to its key)."""
    keys = {v.name: v.key for v in project.volumes}
    return _renamed(entry, keys)


def removable(project: Project) -> Tuple[str, ...]:
    """The Docker names of the project's own volumes (not external): what ``down -v`` removes."""
    return tuple(sorted(v.name for v in project.volumes if not v.external))
