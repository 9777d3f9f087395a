"""Profiles: which services a command sees.

A service without ``profiles:`` is always enabled; one with profiles only when one of them is active.
Active profiles come from ``--profile`` (else ``COMPOSE_PROFILES``); ``*`` activates all of them. A
service named on the command line activates its own profiles, as ``docker compose`` does, so
``run migrate`` works without ``--profile tools``. The rest of the product sees only enabled services:
an enabled service that needs a disabled one is an error naming both, unless it is a ``depends_on``
with ``required: false``, which is dropped with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import FrozenSet, Tuple

from napcompose.graph import edges_of
from napcompose.errors import ConfigError

_PROFILE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class Selection:
    """What the command line asks for: active profiles and the services it names."""

    profiles: FrozenSet[str] = frozenset()
    services: FrozenSet[str] = frozenset()

    @classmethod
    def of(cls, profiles=None, services=(), environ=None):
        """--profile values, else COMPOSE_PROFILES (comma-separated), plus the named services."""
        given = list(profiles or ())
        if not given:
            given = [p.strip() for p in (environ or {}).get("COMPOSE_PROFILES", "").split(",")]
        return cls(profiles=frozenset(p for p in given if p), services=frozenset(services or ()))


def check_names(ctx, raw) -> Tuple[str, ...]:
    """The service's profiles, each a valid name."""
    out = []
    for profile in raw.get("profiles") or ():
        if not _PROFILE.match(str(profile)):
            ctx.fail("profiles", f"{profile!r} is not a valid profile name (letters, digits, '_', '.', '-', "
                                 "starting with a letter or digit)")
        out.append(str(profile))
    return tuple(out)


def enabled_names(specs, selection: Selection) -> FrozenSet[str]:
    active = set(selection.profiles)
    for spec in specs:
        if spec.name in selection.services:
            active.update(spec.profiles)
    if "*" in active:
        return frozenset(s.name for s in specs)
    return frozenset(s.name for s in specs if not s.profiles or active.intersection(s.profiles))


def select(specs, selection: Selection, origins, optional, warn):
    """The enabled specs, with optional dependencies on missing or disabled services dropped.

    ``optional`` is {service: names of its ``depends_on`` entries with ``required: false``};
    ``origins[name].where(key)`` locates a key for messages.
    """
    by_name = {s.name: s for s in specs}
    enabled = enabled_names(specs, selection)
    out = []
    for spec in specs:
        if spec.name not in enabled:
            continue
        dropped = set()
        for target, kind in edges_of(spec):
            if target in enabled:
                continue
            key = "links" if kind == "link" else kind
            if kind == "depends_on" and target in optional.get(spec.name, ()):
                why = "is not defined" if target not in by_name else "is disabled by its profiles"
                warn(f"service '{spec.name}': depends_on: '{target}' {why}; it is not required, so "
                     "the dependency is dropped")
                dropped.add(target)
            elif target in by_name:
                _refuse(origins, spec, key, by_name[target])
        for other in spec.placement.affinity + spec.placement.anti_affinity:
            if other in by_name and other not in enabled:
                _refuse(origins, spec, "x-nap", by_name[other])
        if dropped:
            spec = replace(spec, depends_on=tuple(d for d in spec.depends_on if d.service not in dropped))
        out.append(spec)
    return tuple(out)


def _refuse(origins, spec, key, target):
    profiles = ", ".join(target.profiles)
    raise ConfigError(
        f"{origins[spec.name].where(key)}: service '{spec.name}': {key}: needs service '{target.name}', "
        f"which is disabled: its profiles ({profiles}) are not active (add --profile {target.profiles[0]}, "
        f"set COMPOSE_PROFILES, or mark a depends_on entry required: false)")
