"""Placement rules as written in a compose file: constraints, published host ports, spread preferences.

Parsed here, applied by placement.py. A rule nap-compose cannot honour is a ConfigError naming the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from napcompose.errors import ConfigError
from napcompose.model import ServiceSpec
from napcompose.clustermodel import Host

_CONSTRAINT = re.compile(r"^\s*(node\.hostname|node\.labels\.[^=!\s]+)\s*(==|!=)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``node.hostname==x`` or ``node.labels.k!=v``; ``source`` is the text as written."""

    attribute: str  # "node.hostname" or "node.labels.<key>"
    operator: str  # == or !=
    value: str
    source: str

    def matches(self, host: Host) -> bool:
        if self.attribute == "node.hostname":
            actual: Optional[str] = host.name
        else:
            actual = dict(host.labels).get(self.attribute[len("node.labels."):])
        return (actual == self.value) == (self.operator == "==")


def parse_constraint(service: str, text: str) -> Constraint:
    """Parse one ``deploy.placement.constraints`` entry; ConfigError naming the service otherwise."""
    match = _CONSTRAINT.match(text)
    if not match:
        raise ConfigError(
            f"service {service}: unsupported placement constraint {text!r} "
            "(use node.hostname==NAME, node.labels.KEY==VALUE, or != for either)")
    return Constraint(match.group(1), match.group(2), match.group(3), text.strip())


def service_constraints(spec: ServiceSpec) -> Tuple[Constraint, ...]:
    """The service's constraints: ``deploy.placement.constraints`` plus swarm classic's environment form.

    Compose splits ``constraint:node==x`` at the first ``=``, so the environment holds the key
    ``constraint:node`` with the value ``=x`` (or ``constraint:node!`` with ``x``); join them back.
    """
    found = [parse_constraint(spec.name, text) for text in spec.placement.constraints]
    for key, value in spec.environment:
        if not key.startswith("constraint:"):
            continue
        expr = key[len("constraint:"):] + "=" + value
        match = re.match(r"^\s*([^=!\s]+)\s*(==|!=)\s*(\S.*?)\s*$", expr)
        if not match:
            raise ConfigError(f"service {spec.name}: unsupported constraint {key}={value!r} in environment")
        name, op, wanted = match.groups()
        attribute = "node.hostname" if name == "node" else "node.labels." + name
        found.append(Constraint(attribute, op, wanted, f"constraint:{name}{op}{wanted}"))
    return tuple(found)


def fixed_host_ports(spec: ServiceSpec) -> Tuple[Tuple[int, str], ...]:
    """The (port, protocol) pairs the service publishes on a fixed host port."""
    return tuple(sorted({(p.host_port, p.protocol) for p in spec.ports if p.host_port}))


def preference_labels(spec: ServiceSpec) -> Tuple[str, ...]:
    """The label keys of ``preferences: [spread: node.labels.KEY]``; ConfigError for another form."""
    labels = []
    for preference in spec.placement.preferences:
        key = preference[len("spread="):] if preference.startswith("spread=") else ""
        if not key.startswith("node.labels.") or len(key) == len("node.labels."):
            raise ConfigError(f"service {spec.name}: unsupported placement preference {preference!r} "
                              "(use spread: node.labels.KEY)")
        labels.append(key[len("node.labels."):])
    return tuple(labels)
