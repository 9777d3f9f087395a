"""A project's names for the resolver on every host: hosts-format files, one per service, the same on every host.

The resolver (dnsmasq, reading a directory of such files) answers ``<name>.<project>.<domain>``;
containers search their project's domain, so inside project P ``api`` is ``api.P.nap``: every
serving replica of P's api (one line per replica, so the resolver answers all their addresses), and
``api-2``, ``api_2``, ``P-api-2``, ``P_api_2`` one replica. Two projects that both have ``db`` each
resolve their own: the names live under different domains.

When the cluster isolates its groups, names are scoped by group instead: the members of P's network
``back`` answer under ``<name>.back.P.<domain>``, those of a network shared across projects under
``<name>.<its name>.<domain>`` (for every project attached to it), a network's aliases only under its
own domain, and a container searches the domains of its own groups only: a bare ``db`` from a service
that shares no network with db is not found. Nothing answers under the project's domain itself.

A service's names live in ``<project>@<service>.hosts`` (``@`` is in no project or service name),
rewritten when they change: the resolver then forgets what it read from that file and reads it again,
in one step. (Records from a removed file are forgotten even where a newer file repeats them, so a
file is never replaced by another one.) Beside it an empty ``<project>@<service>@<digest>.sum`` names
the digest of its text: a listing of the directory tells which files are right without reading one,
and a change of one service writes that service's file alone. Pure.
"""

from __future__ import annotations

import hashlib
from typing import Dict, List, Mapping, NamedTuple, Sequence, Tuple

from napcompose.errors import ConfigError
from napcompose.isolation.groups import DEFAULT_NETWORK
from napcompose.model import Project, Replica, ServiceSpec
from napcompose.names.hostsfile import address_key, validate_name
from napcompose.names.startnames import replica_names

_MAX_NAME = 253  # a DNS name's longest text form


def project_domain(project_name: str, domain: str) -> str:
    """The search domain of ``project_name``'s containers: ``<project>.<domain>``."""
    return f"{validate_name(project_name).lower()}.{domain}"


def group_domain(project_name: str, network: str, domain: str, shared: bool = False) -> str:
    """The domain of a group's names: ``<network>.<project>.<domain>`` for the project's own network
    (``network``: its key), ``<network>.<domain>`` for one shared across projects (its name: one DNS
    label, so it never equals a project's ``<key>.<project>``)."""
    if shared:
        return f"{validate_name(network).lower()}.{domain}"
    return f"{validate_name(network).lower()}.{project_domain(project_name, domain)}"


class Lookup(NamedTuple):
    """How a container asks its host's resolver: the resolver's address, the project's domain, the
    cluster's names domain, and whether names are scoped by isolation group."""

    address: str
    zone: str  # the project's domain: the one search domain without isolation
    domain: str = ""
    isolated: bool = False


def _zones(project: Project, spec: ServiceSpec, domain: str) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """(domain, aliases) per group of ``spec``: its own networks first (by key), then the shared ones."""
    attachments = spec.networks or ()
    out: Dict[Tuple[bool, str], List[str]] = {}
    for attachment in attachments:
        key = (attachment.shared is not None, attachment.shared or attachment.name)
        bucket = out.setdefault(key, [])
        bucket.extend(a for a in attachment.aliases if a not in bucket)
    if not out:
        out[(False, DEFAULT_NETWORK)] = []
    return tuple((group_domain(project.name, name, domain, shared), tuple(aliases))
                 for (shared, name), aliases in sorted(out.items()))


def search_domains(project: Project, service: str, dns: Sequence) -> Tuple[str, ...]:
    """The search domains of ``service``'s containers given their ``dns`` (a Lookup, or the plain
    (resolver address, project domain) pair): the project's domain, or with isolation its groups'.

    Older libcs read 6 domains and 256 characters of resolv.conf's search line (glibc before 2.26;
    musl 256 characters) and drop the rest: past those, a group's names answer fully qualified only."""
    if len(dns) < 4 or not dns[3]:
        return (dns[1],)
    return tuple(zone for zone, _ in _zones(project, project.service(service), dns[2]))


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


def names_files(project: Project, domain: str, addresses: Mapping[Replica, str],
                isolated: bool = False) -> Dict[str, str]:
    """{file name: text} of the project's names: one file per service with a serving replica in
    ``addresses``; ``isolated``: names scoped by group."""
    by_service: Dict[str, Dict[Replica, str]] = {}
    for replica, address in addresses.items():
        by_service.setdefault(replica.service, {})[replica] = address
    files = {}
    aliases = _aliases(project, domain, isolated)  # once for every service's file, not once per file
    for service in sorted(by_service):
        text = _render(project, by_service[service], aliases)
        if text.count("\n") > 1:  # a line besides the header
            files[data_name(project.name, service)] = text
    return files


def render_names(project: Project, domain: str, addresses: Mapping[Replica, str], isolated: bool = False) -> str:
    """Names in hosts format: a line per serving replica, ``address api.P.nap api-2.P.nap …``, sorted
    by address, after a header line naming the project. ``addresses`` holds the replicas that serve."""
    return _render(project, addresses, _aliases(project, domain, isolated))


def _aliases(project: Project, domain: str, isolated: bool) -> Dict[str, Tuple[Tuple[str, Tuple[str, ...]], ...]]:
    """{service: ((domain, the aliases answering there), ...)} of every service of ``project``: the
    project's domain with all its networks' aliases, or with isolation one domain per group."""
    if not isolated:
        zone = project_domain(project.name, domain)
        return {spec.name: ((zone, tuple(alias for attachment in spec.networks for alias in attachment.aliases)),)
                for spec in project.services}
    return {spec.name: _zones(project, spec, domain) for spec in project.services}


def _render(project: Project, addresses: Mapping[Replica, str],
            aliases: Mapping[str, Tuple[Tuple[str, Tuple[str, ...]], ...]]) -> str:
    lines: Dict[str, List[str]] = {}
    for replica in sorted(addresses):
        if replica.project != project.name or replica.service not in aliases:
            continue
        address = addresses[replica]
        if not address or any(c.isspace() for c in address):
            raise ConfigError(f"invalid address {address!r} for {replica.label} in a names file")
        bucket = lines.setdefault(address, [])
        for zone, zone_aliases in aliases[replica.service]:
            for name in (replica.service,) + zone_aliases + replica_names(replica):
                full = f"{validate_name(name)}.{zone}"
                if len(full) > _MAX_NAME:
                    raise ConfigError(f"name {full!r} of {replica.label} is longer than {_MAX_NAME} characters")
                if full not in bucket:
                    bucket.append(full)
    body = [f"{address} {' '.join(lines[address])}" for address in sorted(lines, key=address_key)]
    return "\n".join([f"# nap-compose {project.name}: the names of its serving replicas"] + body) + "\n"
