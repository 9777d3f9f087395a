"""A project's names for the resolver on every host: hosts-format files, one per service, the same on every host.

The resolver (dnsmasq, reading a directory of such files) answers ``<name>.<project>.<domain>``;
containers search their project's domain, so inside project P ``api`` is ``api.P.nap``: every
serving replica of P's api (one line per replica, so the resolver answers all their addresses), and
``api-2``, ``api_2``, ``P-api-2``, ``P_api_2`` one replica. Two projects that both have ``db`` each
resolve their own: the names live under different domains.

A service's names live in ``<project>@<service>.hosts`` (``@`` is in no project or service name),
rewritten when they change: the resolver then forgets what it read from that file and reads it again,
in one step. (Records from a removed file are forgotten even where a newer file repeats them, so a
file is never replaced by another one.) Beside it an empty ``<project>@<service>@<digest>.sum`` names
the digest of its text: a listing of the directory tells which files are right without reading one,
and a change of one service writes that service's file alone. Pure.
"""

from __future__ import annotations

import hashlib
from typing import Dict, List, Mapping, Tuple

from napcompose.errors import ConfigError
from napcompose.model import Project, Replica
from napcompose.names.hostsfile import address_key, validate_name
from napcompose.names.startnames import replica_names

_MAX_NAME = 253  # a DNS name's longest text form


def project_domain(project_name: str, domain: str) -> str:
    """The search domain of ``project_name``'s containers: ``<project>.<domain>``."""
    return f"{validate_name(project_name).lower()}.{domain}"


SUFFIX = ".hosts"
MARK = ".sum"


def file_prefix(project_name: str) -> str:
    """What every names file of ``project_name`` starts with in the resolver's directory."""
    return f"{validate_name(project_name)}@"


def data_name(project_name: str, service: str) -> str:
    """The file holding ``service``'s names."""
    return f"{file_prefix(project_name)}{validate_name(service)}{SUFFIX}"


def mark_name(file: str, text: str) -> str:
    """The empty file that says ``file`` holds ``text``."""
    return file[:-len(SUFFIX)] + "@" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] + MARK


def names_files(project: Project, domain: str, addresses: Mapping[Replica, str]) -> Dict[str, str]:
    """{file name: text} of the project's names: one file per service with a serving replica in ``addresses``."""
    by_service: Dict[str, Dict[Replica, str]] = {}
    for replica, address in addresses.items():
        by_service.setdefault(replica.service, {})[replica] = address
    files = {}
    aliases = _aliases(project)  # once for every service's file, not once per file
    for service in sorted(by_service):
        text = _render(project, domain, by_service[service], aliases)
        if text.count("\n") > 1:  # a line besides the header
            files[data_name(project.name, service)] = text
    return files


def render_names(project: Project, domain: str, addresses: Mapping[Replica, str]) -> str:
    """Names in hosts format: a line per serving replica, ``address api.P.nap api-2.P.nap …``, sorted
    by address, after a header line naming the project. ``addresses`` holds the replicas that serve."""
    return _render(project, domain, addresses, _aliases(project))


def _aliases(project: Project) -> Dict[str, Tuple[str, ...]]:
    """{service: its network aliases} of every service of ``project``."""
    return {spec.name: tuple(alias for attachment in spec.networks for alias in attachment.aliases)
            for spec in project.services}


def _render(project: Project, domain: str, addresses: Mapping[Replica, str],
            aliases: Mapping[str, Tuple[str, ...]]) -> str:
    zone = project_domain(project.name, domain)
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
