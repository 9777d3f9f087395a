"""A project's names for the resolver on every host: one hosts-format file per project, the same on every host.

The resolver (dnsmasq, reading a directory of such files) answers ``<name>.<project>.<domain>``;
containers search their project's domain, so inside project P ``api`` is ``api.P.nap``: every
serving replica of P's api (one line per replica, so the resolver answers all their addresses), and
``api-2``, ``api_2``, ``P-api-2``, ``P_api_2`` one replica. Two projects that both have ``db`` each
resolve their own: the names live under different domains. Pure.
"""

from __future__ import annotations

from typing import Dict, List, Mapping

from napcompose.errors import ConfigError
from napcompose.model import Project, Replica
from napcompose.names.hostsfile import address_key, validate_name
from napcompose.names.startnames import replica_names

_MAX_NAME = 253  # a DNS name's longest text form


def project_domain(project_name: str, domain: str) -> str:
    """The search domain of ``project_name``'s containers: ``<project>.<domain>``."""
    return f"{validate_name(project_name).lower()}.{domain}"


def file_name(project_name: str) -> str:
    """The project's file in the resolver's directory on every host."""
    return f"{validate_name(project_name)}.hosts"


def render_names(project: Project, domain: str, addresses: Mapping[Replica, str]) -> str:
    """The project's names file: a line per serving replica, ``address api.P.nap api-2.P.nap …``,
    sorted by address; a header line naming the project. ``addresses`` holds the replicas that serve."""
    zone = project_domain(project.name, domain)
    aliases = {spec.name: tuple(alias for attachment in spec.networks for alias in attachment.aliases)
               for spec in project.services}
    lines: Dict[str, List[str]] = {}
    for replica in sorted(addresses):
        if replica.project != project.name or replica.service not in aliases:
            continue
        address = addresses[replica]
        if not address or any(c.isspace() for c in address):
            raise ConfigError(f"invalid address {address!r} for {replica.label} in a names file")
        names = (replica.service,) + aliases[replica.service] + replica_names(replica)
        bucket = lines.setdefault(address, [])
        for name in names:
            full = f"{validate_name(name)}.{zone}"
            if len(full) > _MAX_NAME:
                raise ConfigError(f"name {full!r} of {replica.label} is longer than {_MAX_NAME} characters")
            if full not in bucket:
                bucket.append(full)
    body = [f"{address} {' '.join(lines[address])}" for address in sorted(lines, key=address_key)]
    return "\n".join([f"# nap-compose {project.name}: the names of its serving replicas"] + body) + "\n"
